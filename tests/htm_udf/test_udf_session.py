"""A whole UDF session over a real unix socket and a real process pipe: Info, Init, points, keepalive,
snapshot, restore, batch edge, warm-up."""

import json
import math
import os
import stat

import pytest

from influxhtm.kapacitor_udf import udf_pb2
from tests.udf_protocol.client import (
    encode_request,
    info_request,
    init_request,
    keepalive_request,
    make_point,
    option,
    request,
    restore_request,
    snapshot_request,
)

SEC = 10**9
SCORE_FIELDS = {"value", "raw_score", "anomaly_likelihood", "anomaly_score", "prediction"}
RANGE = [option("field", "usage"), option("min", 0.0), option("max", 100.0)]
BOOL, INT, DOUBLE, STRING, DURATION = 0, 1, 2, 3, 4  # Kapacitor's ValueType numbers


def series(n, start=1, period=60, base=1_700_000_000):
    return [((base + period * (start + i)) * SEC, 50.0 + 40.0 * math.sin(i / 7.0)) for i in range(n)]


def test_info_declares_every_option_with_its_kapacitor_type(server):
    c = server.connect()
    info = c.ask(info_request())
    assert info.wants == 0 and info.provides == 0  # STREAM
    types = {name: list(o.valueTypes) for name, o in info.options.items()}
    assert types["field"] == [STRING]
    assert types["min"] == types["max"] == types["resolution"] == [DOUBLE]
    assert types["warmup"] == types["predictionSteps"] == types["probation"] == [INT]
    assert types["checkpointEvery"] == [INT]
    assert types["checkpointInterval"] == [DURATION]
    assert types["timeOfDay"] == types["weekend"] == types["keepFields"] == [BOOL]
    assert types["tm"] == types["tail"] == types["measurement"] == types["onBadPoint"] == [STRING]
    c.close_write()
    c.read_until_eof(timeout=30)  # the Info probe gets EOF and the server closes the connection


def test_socket_file_mode(server):
    assert stat.S_IMODE(os.stat(server.sock).st_mode) == 0o660


def test_stream_points_are_scored_and_keep_their_series_identity(server):
    c = server.connect()
    assert c.ask(init_request(*RANGE)).success
    sent = series(20)
    for t, v in sent:
        c.send(request(make_point(t, v, field="usage", group="host=a", tags={"host": "a", "dc": "x"}, dims=["host"])))
    outs = c.points(20)
    assert [p.time for p in outs] == [t for t, _ in sent]
    for p, (_, v) in zip(outs, sent):
        assert p.name == "cpu_htm"
        assert (p.database, p.retentionPolicy) == ("telegraf", "autogen")
        assert dict(p.tags) == {"host": "a", "dc": "x", "source_field": "usage"}
        assert list(p.dimensions) == ["host"] and p.group == "host=a"
        assert set(p.fieldsDouble) == SCORE_FIELDS
        assert p.fieldsDouble["value"] == v
        assert 0.0 <= p.fieldsDouble["anomaly_score"] <= 1.0
        assert 0.0 <= p.fieldsDouble["raw_score"] <= 1.0
        assert not p.fieldsString
        assert dict(p.fieldsBool) == {"learning": True}  # within the default probation of 750
        assert set(p.fieldsInt) == {"records_seen"}
    assert c.ask(keepalive_request(12345)).time == 12345
    assert c.sync() == []


def test_int_fields_byname_measurement_keepfields_and_field_names(server):
    c = server.connect()
    opts = RANGE + [
        option("measurement", "cpu_scores"),
        option("keepFields", True),
        option("predictionSteps", 0),
        option("scoreField", "score"),
    ]
    assert c.ask(init_request(*opts)).success
    p = make_point(5 * SEC, 42, field="usage", name="cpu", group="cpu\nhost=a", tags={"host": "a"}, dims=["host"])
    p.byName = True
    p.fieldsString["note"] = "hi"
    c.send(request(p))
    (out,) = c.points(1)
    assert out.name == "cpu_scores" and out.byName
    assert out.fieldsInt["usage"] == 42 and out.fieldsString["note"] == "hi"
    assert out.fieldsDouble["value"] == 42.0
    assert "score" in out.fieldsDouble and "anomaly_score" not in out.fieldsDouble
    assert "prediction" not in out.fieldsDouble


def test_warmup_buffers_then_replays_every_point_once_in_time_order(server):
    c = server.connect()
    assert c.ask(init_request(option("field", "usage"), option("warmup", 10))).success
    sent = series(25)
    for t, v in sent[:9]:
        c.send(request(make_point(t, v, field="usage")))
    assert c.sync() == []  # still warming up: nothing answered yet
    for t, v in sent[9:]:
        c.send(request(make_point(t, v, field="usage")))
    outs = c.points(25)
    assert [p.time for p in outs] == [t for t, _ in sent]
    assert [p.fieldsDouble["value"] for p in outs] == [v for _, v in sent]
    assert c.sync() == []


def test_groups_warm_up_independently(server):
    c = server.connect()
    assert c.ask(init_request(option("field", "usage"), option("warmup", 3))).success
    for i, (t, v) in enumerate(series(4)):
        c.send(request(make_point(t, v, field="usage", group="host=a", tags={"host": "a"}, dims=["host"])))
        if i < 2:
            c.send(request(make_point(t, v, field="usage", group="host=b", tags={"host": "b"}, dims=["host"])))
    got = [r.point for r in c.sync()]
    assert [p.tags["host"] for p in got] == ["a"] * 4  # b has 2 of its 3 warm-up points only


def test_a_backlog_is_answered_exactly_like_points_sent_one_by_one(socket_server, tmp_path):
    """Points that queue up behind a busy worker are learned in runs (one engine call per group and run);
    the answers, their order and every score equal those of the same points sent one at a time, through
    a warm-up, interleaved groups, a string value and a point going back in time."""

    def on(host, t, value):
        return make_point(t, value, field="usage", group=f"host={host}", tags={"host": host}, dims=["host"])

    script = []
    for i, (t, v) in enumerate(series(60)):
        script += [on("a", t, v), on("b", t, 100.0 - v)]
        if i == 20:
            script.append(on("a", t + SEC, "oops"))
        if i == 30:
            script.append(on("b", t - 5 * SEC, 1.0))

    def answers(directory, one_by_one):
        directory.mkdir()
        srv = socket_server(path=directory)
        c = srv.connect()
        assert c.ask(init_request(option("field", "usage"), option("warmup", 10))).success
        if one_by_one:
            got = []
            for p in script:
                c.send(request(p))
                got.extend(r.point for r in c.sync())
        else:
            c.send_raw(b"".join(encode_request(request(p)) for p in script))
            got = c.points(len(script))
        assert srv.stop() == 0
        return got

    one_by_one = answers(tmp_path / "one", True)
    assert len(one_by_one) == len(script)
    assert answers(tmp_path / "backlog", False) == one_by_one


def test_snapshot_manifest_and_restore_round_trip(server):
    c = server.connect()
    assert c.ask(init_request(*RANGE)).success
    for t, v in series(5):
        for host in ("a", "b"):
            c.send(request(make_point(t, v, field="usage", group=f"host={host}", tags={"host": host}, dims=["host"])))
    c.points(10)
    manifest = json.loads(c.ask(snapshot_request()).snapshot)
    assert manifest["format"] == "influxhtm-udf-snapshot" and manifest["version"] == 1
    assert sorted(m["group"] for m in manifest["models"]) == ["host=a", "host=b"]
    assert all(m["records_seen"] == 5 for m in manifest["models"])
    c.close_write()
    c.read_until_eof(timeout=30)

    c2 = server.connect()
    assert c2.ask(init_request(*RANGE)).success
    assert c2.ask(restore_request(json.dumps(manifest).encode())).success
    assert c2.sync() == []


@pytest.mark.parametrize(
    "snapshot",
    [
        b"",
        b"\x00\xffgarbage",
        b'{"format": "other"}',
        b'{"format": "influxhtm-udf-snapshot", "version": 99}',
        b'{"format": "influxhtm-udf-snapshot", "version": 1, "task": "task1", '
        b'"node": "htm2", "models": [{"id": "nope", "group": "g"}]}',
    ],
)
def test_unusable_snapshot_means_fresh_start_not_failure(server, snapshot):
    c = server.connect()
    assert c.ask(init_request(*RANGE)).success
    assert c.ask(restore_request(snapshot)).success
    t, v = series(1)[0]
    c.send(request(make_point(t, v, field="usage")))
    (out,) = c.points(1)
    assert set(out.fieldsDouble) == SCORE_FIELDS


def test_process_mode_session(process_udf):
    c = process_udf()
    info = c.ask(info_request())
    assert "field" in info.options
    assert c.ask(init_request(*RANGE)).success
    for t, v in series(5):
        c.send(request(make_point(t, v, field="usage")))
    assert len(c.points(5)) == 5
    assert c.ask(keepalive_request(7)).time == 7
    c.close_write()
    c.read_until_eof(timeout=30)
    assert c.process.wait(timeout=30) == 0


def test_batch_edge(socket_server):
    srv = socket_server("--batch")
    c = srv.connect()
    info = c.ask(info_request())
    assert info.wants == 1 and info.provides == 1  # BATCH
    c2 = srv.connect()
    assert c2.ask(init_request(*RANGE)).success
    for b, host in enumerate(["a", "b", "a"]):
        tags = {"host": host}
        c2.send(request(udf_pb2.BeginBatch(name="cpu", group=f"host={host}", tags=tags, size=3)))
        for i in range(3):
            p = make_point(
                (1000 + b * 10 + i) * SEC,
                10.0 * i,
                field="usage",
                name="",
                group=f"host={host}",
                tags=tags,
                database="",
                rp="",
            )
            c2.send(request(p))
        c2.send(request(udf_pb2.EndBatch(name="cpu", group=f"host={host}", tmax=(1000 + b * 10 + 2) * SEC, tags=tags)))
    got = c2.sync()
    kinds = [r.WhichOneof("message") for r in got]
    assert kinds == (["begin"] + ["point"] * 3 + ["end"]) * 3
    for k in range(3):
        begin, pts, end = got[5 * k].begin, [r.point for r in got[5 * k + 1 : 5 * k + 4]], got[5 * k + 4].end
        host = ["a", "b", "a"][k]
        assert begin.name == "cpu_htm" and begin.size == 3
        assert end.name == "cpu_htm" and dict(end.tags) == {"host": host}
        assert end.tmax == (1000 + k * 10 + 2) * SEC
        assert all(dict(p.tags) == {"host": host, "source_field": "usage"} for p in pts)
        assert all(set(p.fieldsDouble) == SCORE_FIELDS for p in pts)
    manifest = json.loads(c2.ask(snapshot_request()).snapshot)
    assert {m["group"]: m["records_seen"] for m in manifest["models"]} == {"host=a": 6, "host=b": 3}
