"""The process-mode UDF (Kapacitor starts `influxhtm udf` itself) and the batch task (tickscripts/htm_batch.tick)."""

from __future__ import annotations

import datetime as dt
import time

from influxhtm.stack.kapacitord import KapacitorServer
from influxhtm.stack.udf_server import udf_command

from .helpers import (
    DB,
    RP,
    TICKSCRIPTS,
    assert_scores_equal,
    epoch_ns,
    lines,
    nab_series,
    offline_scores,
    query,
    stream_vars,
    wait_count,
)

SERIES = "artificialWithAnomaly/art_daily_jumpsup.csv"


def test_process_mode_udf_scores_like_the_socket_server(tmp_path, kapacitord_path, influxdb_server, influx_client):
    series = nab_series(SERIES, 400)
    script = (TICKSCRIPTS / "htm_stream.tick").read_text().replace("@htm()", "@htm_process()")
    assert "@htm_process()" in script
    with KapacitorServer(
        tmp_path / "kapacitor",
        influxdb_server.url,
        kapacitord=kapacitord_path,
        udf_prog=udf_command("udf", "--state-dir", str(tmp_path / "state")),
    ) as kap:
        kap.define_task("e2e_process", script, dbrps=[(DB, RP)], vars=stream_vars("process", series, group_by=["host"]))
        kap.write(lines("process", {"host": "p"}, series), db=DB, rp=RP)
        wait_count(influx_client, "process_htm", len(series.values), kap=kap, task_id="e2e_process")
    assert_scores_equal(query(influx_client, 'SELECT * FROM "process_htm"'), offline_scores(series), series)


def test_batch_task_scores_query_results(kapacitor, influx_client):
    """htm_batch.tick over history in InfluxDB, run through Kapacitor's live replay of its queries."""
    source = nab_series(SERIES, 600)
    # One NAB value per 5-minute interval, so each interval's mean is exactly that value.
    influx_client.write_points(
        [
            {"measurement": "batchsrc", "tags": {"host": "b"}, "time": epoch_ns(t), "fields": {"value": v}}
            for t, v in zip(source.times, source.values)
        ],
        time_precision="n",
        batch_size=5000,
    )
    query_text = f'SELECT mean("value") AS value FROM "{DB}"."{RP}"."batchsrc"'
    kapacitor.define_task(
        "e2e_batch",
        (TICKSCRIPTS / "htm_batch.tick").read_text(),
        type="batch",
        dbrps=[(DB, RP)],
        enabled=False,
        vars={
            "database": DB,
            "retention_policy": RP,
            "query": query_text,
            "interval": {"type": "duration", "value": "5m"},
            "period": {"type": "duration", "value": "1d"},
            "every": {"type": "duration", "value": "1d"},
            "output_measurement": "batchsrc_htm",
            "min": float(min(source.values)),
            "max": float(max(source.values)),
            "probation": 100,
        },
    )
    # Whole days of queries (period = every = 1d), the last one past the data.
    start = source.times[0].strftime("%Y-%m-%dT%H:%M:%SZ")
    stop = (source.times[0] + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    replay = kapacitor.request(
        "POST",
        "/replays/batch",
        {"task": "e2e_batch", "start": start, "stop": stop, "recording-time": True, "clock": "fast"},
    )
    deadline = time.monotonic() + 300
    while kapacitor.request("GET", f"/replays/{replay['id']}")["status"] == "running":
        assert time.monotonic() < deadline, "the batch replay did not finish"
        time.sleep(0.5)
    status = kapacitor.request("GET", f"/replays/{replay['id']}")
    assert status["status"] == "finished", status
    wait_count(influx_client, "batchsrc_htm", len(source.values))
    rows = query(influx_client, 'SELECT * FROM "batchsrc_htm"')
    assert {(r["host"], r["source_field"]) for r in rows} == {("b", "value")}
    expected = offline_scores(source, probation=100)
    assert_scores_equal(rows, expected, source)
