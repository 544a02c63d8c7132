"""A panic inside the engine, for one group's model, is that group's problem only: its points go on
unscored (counted, logged), the connection, the other groups and the other tasks keep being scored.

The server runs with the engine's test-only fault injection armed (tests/htm_udf/faulty_udf.py): every
model step that sees the value TRIGGER panics half-way through, a real Rust panic inside the engine.
"""

import logging
import os
import subprocess
import sys
import time

import pytest

from influxhtm import _engine
from tests.htm_udf.servers import REPO, start_in_process
from tests.udf_protocol.client import (
    UdfClient,
    encode_request,
    init_request,
    keepalive_request,
    make_point,
    option,
    request,
)

SEC = 10**9
TRIGGER = 42.4242
RANGE = [option("field", "usage"), option("min", 0.0), option("max", 100.0)]


def on(host, i, value, task_offset=0):
    return make_point(
        (1_700_000_000 + 60 * i + task_offset) * SEC,
        value,
        field="usage",
        group=f"host={host}",
        tags={"host": host},
        dims=["host"],
    )


def scored(point):
    return "anomaly_score" in point.fieldsDouble


@pytest.fixture
def faulty_server(tmp_path):
    sock = tmp_path / "htm.sock"
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.htm_udf.faulty_udf",
                str(TRIGGER),
                "--socket",
                str(sock),
                "--state-dir",
                str(tmp_path / "state"),
            ],
            cwd=REPO,
            stderr=log_file,
        )
    deadline = time.monotonic() + 20
    while not os.path.exists(sock):
        assert proc.poll() is None, f"server exited with {proc.returncode}: {log_path.read_text()}"
        assert time.monotonic() < deadline, "server did not create its socket"
        time.sleep(0.05)
    yield sock, proc, log_path
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_panic_in_one_groups_model_leaves_every_other_group_and_connection_serving(faulty_server, tmp_path):
    sock, proc, log_path = faulty_server
    one, two = UdfClient.connect(sock), UdfClient.connect(sock)
    assert one.ask(init_request(*RANGE, task_id="cpu")).success
    assert two.ask(init_request(*RANGE, task_id="mem")).success

    def round_of(i, a_value):
        one.send(request(on("a", i, a_value)))
        one.send(request(on("b", i, 10.0 + i % 5)))
        two.send(request(on("c", i, 20.0 + i % 3)))
        return one.points(2), two.points(1)

    for i in range(5):
        (a, b), (c,) = round_of(i, 30.0 + i)
        assert scored(a) and scored(b) and scored(c)

    # the panic: a's point goes on unscored, b on the same connection and c on the other are scored
    (a, b), (c,) = round_of(5, TRIGGER)
    assert a.tags["host"] == "a" and not scored(a) and a.time == on("a", 5, 0.0).time
    assert scored(b) and scored(c)

    # both connections are alive, and every group is scored again: a's model is reopened from the state dir,
    # its replay meets the trigger again, so it is quarantined and a new model starts
    assert one.ask(keepalive_request(7)).time == 7 and two.ask(keepalive_request(8)).time == 8
    for i in range(6, 10):
        (a, b), (c,) = round_of(i, 30.0 + i)
        assert scored(a) and scored(b) and scored(c)

    # a backlog in one run: the trigger in the middle of a's share fails a's points of that run only
    backlog = []
    for i in range(10, 16):
        backlog += [on("a", i, TRIGGER if i == 12 else 30.0 + i), on("b", i, 11.0)]
    one.send_raw(b"".join(encode_request(request(p)) for p in backlog))
    got = one.points(len(backlog))
    assert [p.time for p in got] == [p.time for p in backlog]
    assert all(scored(p) for p in got if p.tags["host"] == "b")
    assert any(not scored(p) for p in got if p.tags["host"] == "a")
    two.send(request(on("c", 10, 21.0)))
    assert scored(two.points(1)[0])
    (a, b), (c,) = round_of(16, 40.0)
    assert scored(a) and scored(b) and scored(c)

    assert proc.poll() is None
    one.close_write()
    two.close_write()
    one.read_until_eof(timeout=30)
    two.read_until_eof(timeout=30)
    log = log_path.read_text()
    assert "engine error (EnginePanic: engine panic at record 0 of 1: injected fault" in log, log
    assert "quarantine" in log or "moved to" in log, log


def test_an_engine_error_is_counted_and_logged_in_process(tmp_path, caplog):
    """The handler in-process: the bad-points counter of reason engine_error counts every unscored point."""
    from influxhtm.store import ModelStore

    registry, handler, out = start_in_process(ModelStore(tmp_path), RANGE)
    _engine._inject_panic_on_value(TRIGGER)
    try:
        with caplog.at_level(logging.WARNING, logger="influxhtm.udf"):
            handler.point_run([on("a", 0, 1.0), on("b", 0, 1.0), on("a", 1, TRIGGER), on("a", 2, 3.0), on("b", 1, 2.0)])
    finally:
        _engine._inject_panic_on_value(None)
    assert [(p.tags["host"], scored(p)) for p in out.points] == [
        ("a", False),
        ("b", True),
        ("a", False),
        ("a", False),
        ("b", True),
    ]
    assert registry.metrics.bad_points.labels("engine_error").value == 3
    assert any("engine error (EnginePanic" in r.getMessage() and "'host=a'" in r.getMessage() for r in caplog.records)
    # the fault is disarmed: a's next point reopens its model (replaying the journal) and is scored
    handler.point(on("a", 3, 4.0))
    assert scored(out.points[-1])
    registry.close()
