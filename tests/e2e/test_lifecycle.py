"""Restarts and crashes: models survive a kapacitord restart and a kill -9 of the UDF server exactly."""

from __future__ import annotations

from influxhtm.stack.kapacitord import KapacitorServer
from influxhtm.stack.udf_server import UdfServerProcess

from .helpers import (
    DB,
    RP,
    TICKSCRIPTS,
    assert_scores_equal,
    lines,
    nab_series,
    offline_scores,
    query,
    stream_vars,
    wait_count,
)

SERIES = "artificialWithAnomaly/art_daily_jumpsup.csv"
ROWS = 1000
HALF = 500


def _define(kap, measurement, series):
    kap.define_task(
        f"e2e_{measurement}",
        (TICKSCRIPTS / "htm_stream.tick").read_text(),
        dbrps=[(DB, RP)],
        vars=stream_vars(measurement, series, group_by=["host"]),
    )


def test_kapacitord_restart_resumes_models_exactly(tmp_path, kapacitord_path, influxdb_server, influx_client):
    series = nab_series(SERIES, ROWS)
    first, rest = series.head(HALF), lines("restart", {"host": "a"}, series)[HALF:]
    with (
        UdfServerProcess(tmp_path / "htm.sock", tmp_path / "state") as udf,
        KapacitorServer(
            tmp_path / "kapacitor", influxdb_server.url, udf_socket=udf.socket_path, kapacitord=kapacitord_path
        ) as kap,
    ):
        _define(kap, "restart", series)
        kap.write(lines("restart", {"host": "a"}, first), db=DB, rp=RP)
        wait_count(influx_client, "restart_htm", HALF, kap=kap, task_id="e2e_restart")
        kap.restart()  # the enabled task starts again and its UDF node reconnects
        assert kap.task("e2e_restart")["executing"]
        kap.write(rest, db=DB, rp=RP)
        wait_count(influx_client, "restart_htm", ROWS, kap=kap, task_id="e2e_restart")
    assert_scores_equal(query(influx_client, 'SELECT * FROM "restart_htm"'), offline_scores(series), series)


def test_udf_server_kill9_then_restart_continues_exactly(tmp_path, kapacitord_path, influxdb_server, influx_client):
    series = nab_series(SERIES, ROWS)
    first, rest = series.head(HALF), lines("crash", {"host": "a"}, series)[HALF:]
    udf = UdfServerProcess(tmp_path / "htm.sock", tmp_path / "state")
    with (
        udf,
        KapacitorServer(
            tmp_path / "kapacitor", influxdb_server.url, udf_socket=udf.socket_path, kapacitord=kapacitord_path
        ) as kap,
    ):
        _define(kap, "crash", series)
        kap.write(lines("crash", {"host": "a"}, first), db=DB, rp=RP)
        wait_count(influx_client, "crash_htm", HALF, kap=kap, task_id="e2e_crash")
        udf.kill()
        udf.start()  # same socket and state dir; the journal carries what no checkpoint holds
        kap.disable_task("e2e_crash")  # Kapacitor never reconnects by itself
        kap.enable_task("e2e_crash")
        kap.write(rest, db=DB, rp=RP)
        wait_count(influx_client, "crash_htm", ROWS, kap=kap, task_id="e2e_crash")
    assert_scores_equal(query(influx_client, 'SELECT * FROM "crash_htm"'), offline_scores(series), series)
