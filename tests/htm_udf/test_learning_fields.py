"""Every scored output point says whether its model is still learning: boolean `learning` (within the
probation) and integer `records_seen` (per group, this point included); unscored points claim neither."""

import math

from influxhtm.kapacitor_udf import udf_pb2
from tests.udf_protocol.client import init_request, make_point, option, request

SEC = 10**9
BASE = 1_700_000_000


def value(i: int) -> float:
    return 50.0 + 40.0 * math.sin(i / 5.0)


def point(i: int, host: str, v=None, **kw) -> udf_pb2.Point:
    return make_point(
        (BASE + 60 * i) * SEC,
        value(i) if v is None else v,
        field="usage",
        group=f"host={host}",
        tags={"host": host},
        dims=["host"],
        **kw,
    )


def status(p: udf_pb2.Point) -> tuple:
    return p.fieldsBool["learning"], p.fieldsInt["records_seen"]


def test_learning_is_true_for_the_first_probation_points_of_each_group(server):
    c = server.connect()
    opts = [option("field", "usage"), option("min", 0.0), option("max", 100.0), option("probation", 5)]
    assert c.ask(init_request(*opts)).success
    # group a gets points 0..11, group b joins at point 4: each group counts its own records
    sent = []
    for i in range(12):
        sent.append("a")
        c.send(request(point(i, "a")))
        if i >= 4:
            sent.append("b")
            c.send(request(point(i, "b")))
    outs = c.points(len(sent))
    by_host: dict = {"a": [], "b": []}
    for host, p in zip(sent, outs):
        assert p.tags["host"] == host
        assert set(p.fieldsBool) == {"learning"} and set(p.fieldsInt) == {"records_seen"}
        assert "learning" not in p.fieldsDouble and "records_seen" not in p.fieldsDouble
        by_host[host].append(status(p))
    assert by_host["a"] == [(k <= 5, k) for k in range(1, 13)]
    assert by_host["b"] == [(k <= 5, k) for k in range(1, 9)]


def test_replayed_warm_up_points_carry_the_fields_and_counting_goes_on(server):
    c = server.connect()
    assert c.ask(init_request(option("field", "usage"), option("warmup", 4), option("probation", 6))).success
    for i in range(4):
        c.send(request(point(i, "a")))
    replayed = c.points(4)  # the warm-up ends with the 4th point: the whole buffer is answered
    assert [status(p) for p in replayed] == [(True, 1), (True, 2), (True, 3), (True, 4)]
    for i in range(4, 8):
        c.send(request(point(i, "a")))
    assert [status(p) for p in c.points(4)] == [(True, 5), (True, 6), (False, 7), (False, 8)]


def test_unscored_points_do_not_claim_to_be_scored(server):
    c = server.connect()
    opts = [option("field", "usage"), option("min", 0.0), option("max", 100.0), option("probation", 2)]
    assert c.ask(init_request(*opts, option("keepFields", True))).success
    c.send(request(point(0, "a")))
    # a NaN value and a point going back in time are passed through unscored, even when the source point
    # has its own fields named like the status fields
    c.send(request(point(1, "a", v=math.nan, extra={"learning": 1.0, "records_seen": 7.0})))
    c.send(request(point(0, "a")))
    c.send(request(point(2, "a", extra={"learning": 0.5})))
    first, nan, back, last = c.points(4)
    assert status(first) == (True, 1)
    for passed in (nan, back):
        assert "anomaly_score" not in passed.fieldsDouble
        for fmap in (passed.fieldsDouble, passed.fieldsInt, passed.fieldsBool, passed.fieldsString):
            assert "learning" not in fmap and "records_seen" not in fmap
    assert status(last) == (True, 2)  # the unscored points were not counted
    assert "learning" not in last.fieldsDouble  # the kept source field does not shadow the status


def test_records_seen_continues_after_a_restart(socket_server):
    srv = socket_server()
    opts = [option("field", "usage"), option("min", 0.0), option("max", 100.0), option("probation", 3)]
    c = srv.connect()
    assert c.ask(init_request(*opts)).success
    for i in range(2):
        c.send(request(point(i, "a")))
    assert [status(p) for p in c.points(2)] == [(True, 1), (True, 2)]
    srv.kill9()
    srv.restart()
    c2 = srv.connect()
    assert c2.ask(init_request(*opts)).success
    for i in range(2, 5):
        c2.send(request(point(i, "a")))
    assert [status(p) for p in c2.points(3)] == [(True, 3), (False, 4), (False, 5)]


def test_output_names_cannot_take_the_status_fields(server):
    c = server.connect()
    resp = c.ask(init_request(option("field", "usage"), option("valueField", "learning")))
    assert not resp.success
    assert ".valueField()" in resp.error and "learning" in resp.error
