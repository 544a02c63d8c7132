"""Init failures name the bad option; bad points are counted, passed or dropped, never fatal."""
import json
import math

import pytest

from tests.udf_protocol.client import Duration, init_request, make_point, option, request, snapshot_request
from influxhtm.kapacitor_udf import udf_pb2

SEC = 10**9
FIELD = option("field", "usage")
RANGE = [FIELD, option("min", 0.0), option("max", 100.0)]


@pytest.mark.parametrize(
    "options, names",
    [
        ([], ["field", "required"]),
        ([FIELD, option("nosuch", 1)], ["nosuch", "unknown"]),
        ([option("field", 3)], ["field", "STRING"]),
        ([option("field", "")], ["field", "non-empty"]),
        ([FIELD, option("min", 0)], None),  # INT for a DOUBLE option is accepted
        ([FIELD, option("min", "0")], ["min", "DOUBLE"]),
        ([FIELD, option("min", 5.0), option("max", 5.0)], ["min", "max"]),
        ([FIELD, option("min", 9.0), option("max", 1.0)], ["min", "max"]),
        ([FIELD, option("max", 1e300)], ["max", "1e+15"]),
        ([FIELD, option("warmup", 0)], ["warmup", "> 0"]),
        ([FIELD, option("warmup", 1.5)], ["warmup", "INT"]),
        ([FIELD, option("resolution", -1.0)], ["resolution", "> 0"]),
        ([FIELD, option("timeOfDay", 1)], ["timeOfDay", "BOOL"]),
        ([FIELD, option("weekend")], ["weekend", "1 argument"]),
        ([FIELD, option("predictionSteps", -1)], ["predictionSteps", "0 to 100"]),
        ([FIELD, option("probation", 0)], ["probation", "> 0"]),
        ([FIELD, option("tm", "cells4")], ["tm", "'backtracking', 'tm'"]),
        ([FIELD, option("tail", "left")], ["tail", "'one-sided', 'two-sided'"]),
        ([FIELD, option("measurement", "a", "b")], ["measurement", "1 argument"]),
        ([FIELD, option("keepFields", "yes")], ["keepFields", "BOOL"]),
        ([FIELD, option("onBadPoint", "skip")], ["onBadPoint", "'pass', 'drop'"]),
        ([FIELD, option("scoreField", "value")], ["scoreField", "distinct"]),
        ([FIELD, option("checkpointEvery", 0)], ["checkpointEvery", "> 0"]),
        ([FIELD, option("checkpointInterval", 60)], ["checkpointInterval", "DURATION"]),
        ([FIELD, option("checkpointInterval", Duration(0))], ["checkpointInterval", "> 0"]),
        ([FIELD, FIELD], ["field", "more than once"]),
    ],
)
def test_init_validates_every_option(server, options, names):
    c = server.connect()
    resp = c.ask(init_request(*options))
    if names is None:
        assert resp.success, resp.error
    else:
        assert not resp.success
        for word in names:
            assert word in resp.error, resp.error


BAD_CASES = [
    ("nan", lambda t: make_point(t, math.nan, field="usage")),
    ("inf", lambda t: make_point(t, math.inf, field="usage")),
    ("-inf", lambda t: make_point(t, -math.inf, field="usage")),
    ("string", lambda t: make_point(t, "high", field="usage")),
    ("bool", lambda t: make_point(t, True, field="usage")),
    ("missing", lambda t: make_point(t, 1.0, field="other")),
    ("magnitude", lambda t: make_point(t, 1e16, field="usage")),
    ("magnitude-int", lambda t: make_point(t, -(10**17), field="usage")),
    ("time-equal", lambda t: make_point(t - SEC, 5.0, field="usage")),
    ("time-backwards", lambda t: make_point(t - 5 * SEC, 5.0, field="usage")),
]


def good(i):
    return make_point((100 + i) * SEC, 10.0 + i, field="usage", extra={"other": 1.0})


@pytest.mark.parametrize("case, make_bad", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_point_passed_through_unscored(server, case, make_bad):
    c = server.connect()
    assert c.ask(init_request(*RANGE)).success
    c.send(request(good(0)))
    c.send(request(good(1)))
    bad = make_bad(102 * SEC)
    c.send(request(bad))
    c.send(request(good(2)))
    out = [r.point for r in c.sync()]
    assert len(out) == 4
    passed = out[2]
    assert passed.time == bad.time and passed.name == "cpu_htm" and passed.tags["field"] == "usage"
    assert not {"raw_score", "anomaly_score", "anomaly_likelihood", "prediction", "value"} & set(passed.fieldsDouble)
    assert "usage" not in passed.fieldsDouble and "usage" not in passed.fieldsString
    for p in (out[0], out[1], out[3]):
        assert "anomaly_score" in p.fieldsDouble
    # the model did not learn the bad point: the snapshot counts the 3 good points only
    assert json.loads(c.ask(snapshot_request()).snapshot)["models"][0]["records_seen"] == 3


@pytest.mark.parametrize("case, make_bad", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_point_dropped_on_request(server, case, make_bad):
    c = server.connect()
    assert c.ask(init_request(*RANGE, option("onBadPoint", "drop"))).success
    c.send(request(good(0)))
    c.send(request(good(1)))
    c.send(request(make_bad(102 * SEC)))
    c.send(request(good(2)))
    out = [r.point for r in c.sync()]
    assert [p.time for p in out] == [100 * SEC, 101 * SEC, 102 * SEC]
    assert all("anomaly_score" in p.fieldsDouble for p in out)


def test_bad_points_of_one_group_do_not_disturb_another(server):
    c = server.connect()
    assert c.ask(init_request(*RANGE)).success
    for i in range(20):
        c.send(request(make_point((100 + i) * SEC, math.nan, field="usage", group="host=bad", tags={"host": "bad"})))
        c.send(request(make_point((100 + i) * SEC, float(i), field="usage", group="host=ok", tags={"host": "ok"})))
    out = [r.point for r in c.sync()]
    ok = [p for p in out if p.tags["host"] == "ok"]
    bad = [p for p in out if p.tags["host"] == "bad"]
    assert len(ok) == len(bad) == 20
    assert all("anomaly_score" in p.fieldsDouble for p in ok)
    assert not any("anomaly_score" in p.fieldsDouble for p in bad)


def test_bad_points_logged_once_per_group_and_reason(tmp_path):
    """In-process: the warning appears once per (group, reason), the counter counts every point."""
    import logging

    from influxhtm.store import ModelStore
    from influxhtm.udf import HtmHandler, ModelRegistry

    class Collect:
        def __init__(self):
            self.points = []

        def emit_point(self, p):
            self.points.append(p)

    registry = ModelRegistry(ModelStore(tmp_path))
    handler = HtmHandler(Collect(), registry)
    req = udf_pb2.InitRequest(taskID="t", nodeID="n")
    req.options.extend(RANGE)
    assert handler.init(req).success
    records = []

    class Catch(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("influxhtm.udf")
    catcher = Catch(level=logging.WARNING)
    logger.addHandler(catcher)
    try:
        for i in range(5):
            handler.point(make_point((1 + i) * SEC, math.nan, field="usage", group="g1"))
            handler.point(make_point((1 + i) * SEC, "x", field="usage", group="g1"))
            handler.point(make_point((1 + i) * SEC, math.nan, field="usage", group="g2"))
    finally:
        logger.removeHandler(catcher)
    assert len(records) == 3
    assert any("g1" in r and "NaN" in r for r in records) and any("string" in r for r in records)
    assert registry.metrics.bad_points.labels("nan")._value.get() == 10
    assert registry.metrics.bad_points.labels("string")._value.get() == 5
