"""Kapacitor tasks heal themselves after a UDF server restart (`influxhtm udf --kapacitor-url`).

Kapacitor never reconnects to a socket UDF: when the server dies, each task using it fails and stays
failed. Started with --kapacitor-url, the server disables and re-enables those tasks once its socket
listens, so nobody has to. Each test runs its own UDF server and kapacitord (the session's kapacitord is
not disturbed); the first also writes to the session's InfluxDB.
"""

from __future__ import annotations

import time

from influxhtm.htm.params import nab_probation
from influxhtm.stack.kapacitord import KapacitorServer
from influxhtm.stack.udf_server import UdfServerProcess

from .helpers import (
    DB,
    RP,
    TICKSCRIPTS,
    Series,
    assert_scores_equal,
    lines,
    nab_series,
    offline_scores,
    query,
    stream_vars,
    wait_count,
)

SERIES = "artificialWithAnomaly/art_daily_jumpsup.csv"
ROWS = 800
BEFORE = 400  # scored before the kill
DOWN = 20  # written while the UDF server is down


def wait_until(condition, what: str, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _executing(kap: KapacitorServer, task_id: str) -> bool:
    return bool(kap.task(task_id)["executing"])


def test_tasks_heal_after_udf_kill9_and_scores_continue(tmp_path, kapacitord_path, influxdb_server, influx_client):
    series = nab_series(SERIES, ROWS)
    all_lines = lines("healing", {"host": "a"}, series)
    before, down, after = all_lines[:BEFORE], all_lines[BEFORE : BEFORE + DOWN], all_lines[BEFORE + DOWN :]
    kap = KapacitorServer(
        tmp_path / "kapacitor", influxdb_server.url, udf_socket=tmp_path / "htm.sock", kapacitord=kapacitord_path
    )
    udf = UdfServerProcess(
        tmp_path / "htm.sock", tmp_path / "state", extra_args=["--kapacitor-url", kap.url, "--kapacitor-timeout", "120"]
    )
    # the UDF first (kapacitord needs it at startup): its healer waits for Kapacitor, then finds no task
    with udf, kap:
        _wait_first_pass(udf)
        kap.define_task(
            "heal_stream",
            (TICKSCRIPTS / "htm_stream.tick").read_text(),
            dbrps=[(DB, RP)],
            vars=stream_vars("healing", series, group_by=["host"]),
        )
        kap.write(before, db=DB, rp=RP)
        wait_count(influx_client, "healing_htm", BEFORE, kap=kap, task_id="heal_stream")

        udf.kill()  # no checkpoint: the journal carries the state
        kap.write(down, db=DB, rp=RP)  # Kapacitor accepts the write; the task fails on the dead socket
        # kapacitord stops the task first and records its error just after: wait for both
        failed = wait_until(
            lambda: (task := kap.task("heal_stream")) and not task["executing"] and task["error"] and task,
            "the task to fail with an error",
            timeout=60,
        )
        assert failed["status"] == "enabled"

        udf.start()  # same socket, state dir and --kapacitor-url; nobody touches the task
        wait_until(lambda: _executing(kap, "heal_stream"), "the UDF server to re-enable the task", timeout=60)
        assert "re-enabled Kapacitor task heal_stream" in wait_until(
            lambda: "re-enabled Kapacitor task heal_stream" in udf.log_tail(200) and udf.log_tail(200),
            "the UDF server's log line",
        )
        kap.write(after, db=DB, rp=RP)
        wait_count(influx_client, "healing_htm", BEFORE + len(after), kap=kap, task_id="heal_stream")
        time.sleep(2)  # anything more (a late copy of a point written while down) would show by now

    # Every point written after the task was re-enabled is scored; the points written while the server was
    # down are lost (the failed task is not running, and Kapacitor keeps no backlog for it). The model
    # continues exactly: the scores equal one uninterrupted run over the series without those points.
    kept = Series(
        series.times[:BEFORE] + series.times[BEFORE + DOWN :], series.values[:BEFORE] + series.values[BEFORE + DOWN :]
    )
    expected = offline_scores(
        kept,
        min_value=min(series.values),
        max_value=max(series.values),
        probation=nab_probation(len(series.values)),
    )
    assert_scores_equal(query(influx_client, 'SELECT * FROM "healing_htm"'), expected, kept)


def test_operator_disabled_and_unrelated_tasks_are_left_alone(tmp_path, kapacitord_path):
    udf_script = (
        "stream\n    |from()\n        .measurement('m')\n        .groupBy('host')\n"
        "    @htm()\n        .field('value')\n        .min(0.0)\n        .max(10.0)\n    |httpOut('out')\n"
    )
    plain_script = "stream\n    |from()\n        .measurement('m')\n    |httpOut('out')\n"
    kap = KapacitorServer(tmp_path / "kapacitor", None, udf_socket=tmp_path / "htm.sock", kapacitord=kapacitord_path)
    udf = UdfServerProcess(tmp_path / "htm.sock", tmp_path / "state", extra_args=["--kapacitor-url", kap.url])
    with udf, kap:
        _wait_first_pass(udf)
        kap.define_task("on", udf_script, dbrps=[("db", "autogen")])
        kap.define_task("off", udf_script, dbrps=[("db", "autogen")], enabled=False)
        kap.define_task("plain", plain_script, dbrps=[("db", "autogen")])
        t0 = 1_700_000_000
        kap.write([f"m,host=a value={i}.5 {t0 + 60 * i}" for i in range(3)], db="db", rp="autogen", precision="s")
        wait_until(lambda: _collected(kap, "plain") == 3, "the plain task to see 3 points")

        udf.kill()
        udf.start()  # at once: the "on" task may still look executing, its connection is dead all the same
        wait_until(lambda: "re-enabled Kapacitor task on" in udf.log_tail(200), "the UDF server to re-enable 'on'")
        wait_until(lambda: _executing(kap, "on"), "'on' to run again")
        assert "1 enabled Kapacitor task(s) use @htm(): on" in udf.log_tail(200)

        off = kap.task("off")
        assert off["status"] == "disabled" and not off["executing"]
        assert _executing(kap, "plain") and _collected(kap, "plain") == 3  # never restarted

        kap.write(f"m,host=a value=4.5 {t0 + 600}", db="db", rp="autogen", precision="s")
        out = wait_until(lambda: _http_out(kap, "on"), "a scored point from 'on'")
        assert out[0]["columns"][0] == "time" and "anomaly_score" in out[0]["columns"]


def _wait_first_pass(udf: UdfServerProcess) -> None:
    """The healer of the first start found Kapacitor (started after it) and no task yet; a task defined
    before that pass could be restarted by it while the test writes."""
    wait_until(lambda: "0 enabled Kapacitor task(s) use @htm()" in udf.log_tail(200), "the healer's first pass")


def _collected(kap: KapacitorServer, task_id: str) -> int:
    stats = kap.task(task_id)["stats"].get("node-stats", {})
    return sum(int(node.get("collected", 0)) for name, node in stats.items() if name.startswith("from"))


def _http_out(kap: KapacitorServer, task_id: str):
    return (kap.request("GET", f"/tasks/{task_id}/out") or {}).get("series")
