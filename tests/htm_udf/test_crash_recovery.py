"""Zero lost model updates: kill -9 of the server, restart, continue == an uninterrupted run; a model that
cannot be resumed is quarantined (kept, counted, listed) and its group starts anew."""

import json
import os
import signal
import socket
from pathlib import Path

import pytest

from influxhtm.store import ModelStore, model_id_for
from tests.htm_udf.servers import interleaved_stream, scores, scrape_metrics, start_socket_server
from tests.udf_protocol.client import UdfClient, init_request, option, request, snapshot_request

SEC = 10**9
HOSTS = ("a", "b", "c")


def run(client, options, pts):
    assert client.ask(init_request(*options)).success
    for p in pts:
        client.send(request(p))
    return client.points(len(pts))


def reference(tmp_path, options, pts):
    srv = start_socket_server(str(tmp_path / "ref.sock"), str(tmp_path / "ref_state"))
    try:
        c = UdfClient.connect(str(tmp_path / "ref.sock"))
        return scores(run(c, options, pts))
    finally:
        srv.kill()
        srv.wait()


@pytest.mark.parametrize(
    "options, kill_after",
    [
        # checkpoints every 7 points per group: recovery = checkpoint + journal replay
        ([option("field", "usage"), option("min", 0.0), option("max", 110.0), option("checkpointEvery", 7)], 40),
        # default checkpointing: recovery = journal replay only
        ([option("field", "usage"), option("min", 0.0), option("max", 110.0)], 25),
        # learned range: killed after the warm-up completed (the warm-up points come from the journal)
        ([option("field", "usage"), option("warmup", 12), option("checkpointEvery", 10)], 30),
    ],
)
def test_kill9_then_restart_continues_exactly(tmp_path, socket_server, options, kill_after):
    pts = interleaved_stream(60, HOSTS)
    expected = reference(tmp_path, options, pts)
    srv = socket_server()
    c = srv.connect()
    first = run(c, options, pts[: kill_after * len(HOSTS)])
    assert scores(first) == expected[: len(first)]
    srv.kill9()
    srv.restart()
    c2 = srv.connect()
    rest = run(c2, options, pts[kill_after * len(HOSTS) :])
    assert scores(rest) == expected[len(first) :]


def test_kill9_during_warmup_loses_no_point(tmp_path, socket_server):
    """Points buffered for the warm-up survive a crash and are answered when the warm-up completes."""
    options = [option("field", "usage"), option("warmup", 20)]
    pts = interleaved_stream(30, HOSTS)
    expected = reference(tmp_path, options, pts)
    srv = socket_server()
    c = srv.connect()
    assert c.ask(init_request(*options)).success
    for p in pts[:24]:  # 8 of 20 warm-up points per group
        c.send(request(p))
    assert c.sync() == []
    srv.kill9()
    srv.restart()
    c2 = srv.connect()
    assert c2.ask(init_request(*options)).success
    for p in pts[24:]:
        c2.send(request(p))
    got = scores(c2.points(len(pts)))
    # every point answered exactly once; per group in time order; scores equal the uninterrupted run
    assert sorted(got) == sorted(expected)
    for host in HOSTS:
        assert [g for g in got if g[1] == host] == [e for e in expected if e[1] == host]


def test_sigterm_checkpoints_every_model(tmp_path, socket_server):
    options = [option("field", "usage"), option("min", 0.0), option("max", 110.0)]
    pts = interleaved_stream(10, HOSTS)
    srv = socket_server()
    c = srv.connect()
    run(c, options, pts)
    assert srv.stop() == 0
    store = ModelStore(srv.state)
    for host in HOSTS:
        stored = store.load(model_id_for("task1", "htm2", f"host={host}"))
        assert stored.blob is not None and stored.journal == []
        assert stored.metadata.records_seen == 10
        assert stored.metadata.tags == {"host": host}
        assert stored.metadata.last_time_ns == pts[-1].time
        assert stored.metadata.origin == "udf" and stored.metadata.state_format["engine"] >= 2
    assert not os.path.exists(srv.sock)


def test_reconnect_finds_models_in_memory(socket_server):
    """A task node that reconnects to a running server continues its models."""
    options = [option("field", "usage"), option("min", 0.0), option("max", 110.0)]
    pts = interleaved_stream(6, HOSTS)
    srv = socket_server()
    c = srv.connect()
    run(c, options, pts[:9])
    c.close_write()
    c.read_until_eof(timeout=30)
    c2 = srv.connect()
    assert c2.ask(init_request(*options)).success
    manifest = json.loads(c2.ask(snapshot_request()).snapshot)
    assert manifest["models"] == []  # this connection has not touched a group yet
    for p in pts[9:]:
        c2.send(request(p))
    c2.points(9)
    manifest = json.loads(c2.ask(snapshot_request()).snapshot)
    assert [m["records_seen"] for m in manifest["models"]] == [6, 6, 6]


def test_changed_model_options_start_a_new_model(socket_server):
    pts = interleaved_stream(4, HOSTS)
    srv = socket_server()
    c = srv.connect()
    run(c, [option("field", "usage"), option("min", 0.0), option("max", 110.0)], pts)
    c.close_write()
    c.read_until_eof(timeout=30)
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(timeout=60)
    srv.restart()
    c2 = srv.connect()
    run(c2, [option("field", "usage"), option("min", 0.0), option("max", 500.0)], pts[:3])
    manifest = json.loads(c2.ask(snapshot_request()).snapshot)
    assert [m["records_seen"] for m in manifest["models"]] == [1, 1, 1]
    # the old models are kept in the quarantine, not deleted
    quarantined = ModelStore(srv.state).quarantined()
    assert sorted(q.model_id for q in quarantined) == sorted(m["id"] for m in manifest["models"])
    assert all(q.cause == "options_changed" and "500.0" in q.reason for q in quarantined)


def test_corrupt_checkpoint_is_quarantined_and_the_group_starts_anew(socket_server):
    from influxhtm.store.cli import main as models

    options = [option("field", "usage"), option("min", 0.0), option("max", 110.0)]
    pts = interleaved_stream(8, HOSTS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = socket_server("--metrics", f"127.0.0.1:{port}")
    run(srv.connect(), options, pts)
    assert srv.stop() == 0  # SIGTERM: every model checkpointed
    store = ModelStore(srv.state)
    broken = model_id_for("task1", "htm2", "host=b")
    path = os.path.join(srv.state, "models", broken, "checkpoint.bin")
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    srv.restart()
    c = srv.connect()
    more = interleaved_stream(9, HOSTS)[len(pts) :]
    assert len(run(c, options, more)) == len(more)  # every group answered, the broken one by a new model
    manifest = json.loads(c.ask(snapshot_request()).snapshot)
    seen = {m["group"]: m["records_seen"] for m in manifest["models"]}
    assert seen == {"host=a": 9, "host=b": 1, "host=c": 9}
    metrics = scrape_metrics(port)
    assert metrics['influxhtm_udf_quarantined_models_total{cause="unloadable"}'] == 1
    (entry,) = store.quarantined()
    assert entry.model_id == broken and "sha256" in entry.reason
    assert Path(os.path.join(entry.path, "checkpoint.bin")).read_bytes() == bytes(data)  # kept as found
    assert models(["models", "--state-dir", srv.state, "list"]) == 0
