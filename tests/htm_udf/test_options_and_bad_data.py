"""Init failures name the bad option and its range; bad points are counted, passed or dropped, never fatal."""

import json
import math

import pytest

from tests.htm_udf.servers import start_in_process, start_socket_server
from tests.udf_protocol.client import Duration, UdfClient, init_request, make_point, option, request, snapshot_request

SEC = 10**9
FIELD = option("field", "usage")
RANGE = [FIELD, option("min", 0.0), option("max", 100.0)]


@pytest.mark.parametrize(
    "options, names",
    [
        ([], ["field", "required"]),
        ([FIELD, option("nosuch", 1)], ["nosuch", "unknown"]),
        ([FIELD, option("min", 0)], None),  # INT for a DOUBLE option is accepted
        ([FIELD, option("min", "0")], ["min", "DOUBLE", "-1e+15 to 1e+15"]),
        ([FIELD, option("min", 5.0), option("max", 5.0)], ["min", "max"]),
        ([FIELD, option("min", 9.0), option("max", 1.0)], ["min", "max"]),
        ([FIELD, option("weekend")], ["weekend", "1 argument", "TRUE or FALSE"]),
        ([FIELD, option("measurement", "a", "b")], ["measurement", "1 argument"]),
        ([FIELD, option("scoreField", "value")], ["scoreField", "distinct"]),
        ([FIELD, FIELD], ["field", "more than once"]),
        (
            [
                FIELD,
                option("probation", 17_280),
                option("warmup", 100_000),
                option("predictionSteps", 100),
                option("resolution", 1e-12),
                option("checkpointInterval", Duration(7 * 86_400 * SEC)),
                option("checkpointEvery", 10_000_000),
            ],
            None,
        ),  # the upper ends of the ranges are accepted
    ],
)
def test_init_validates_options(server, options, names):
    c = server.connect()
    resp = c.ask(init_request(*options))
    if names is None:
        assert resp.success, resp.error
    else:
        assert not resp.success
        for word in names:
            assert word in resp.error, resp.error


# Every option with its documented range (README) and values outside it: too low, too high, the wrong
# Kapacitor type, an empty string, and NaN/inf for numbers. `Duration` values are DURATIONs.
NAME = "a name of 1 to 1024 characters on one line"
BOOL_RANGE = "TRUE or FALSE"
OPTION_RANGES = {
    "field": (NAME, {"empty": "", "blank": "  ", "high": "f" * 1025, "newline": "a\nb", "type": 3}),
    "min": (
        "-1e+15 to 1e+15",
        {"low": -1e16, "high": 1e16, "type": "0", "empty": "", "nan": math.nan, "inf": math.inf, "-inf": -math.inf},
    ),
    "max": (
        "-1e+15 to 1e+15",
        {"low": -1e16, "high": 1e16, "type": True, "empty": "", "nan": math.nan, "inf": math.inf},
    ),
    "warmup": (
        "1 to 100,000",
        {"low": 0, "negative": -5, "high": 100_001, "huge": 10**12, "type": 1.5, "empty": "", "nan": math.nan},
    ),
    "resolution": (
        "1e-12 to 1e+15",
        {"low": 0.0, "negative": -1.0, "high": 1e16, "type": "1", "empty": "", "nan": math.nan, "inf": math.inf},
    ),
    "timeOfDay": (BOOL_RANGE, {"type": 1, "empty": ""}),
    "weekend": (BOOL_RANGE, {"type": 0.0, "empty": ""}),
    "predictionSteps": ("0 to 100", {"low": -1, "high": 101, "type": 1.0, "empty": "", "nan": math.nan}),
    "probation": (
        "1 to 17,280",
        {
            "low": 0,
            "high": 17_281,
            "issue-20000": 20_000,
            "issue-1e9": 1_000_000_000,
            "type": 2.5,
            "empty": "",
            "nan": math.nan,
            "inf": math.inf,
        },
    ),
    "timezone": (NAME, {"empty": "", "type": 1, "blank": " ", "high": "Z" * 1025}),
    "tm": ("'backtracking' or 'tm'", {"unknown": "cells4", "type": 1, "empty": ""}),
    "tail": ("'one-sided' or 'two-sided'", {"unknown": "left", "type": False, "empty": ""}),
    "detector": ("'numenta' or 'ensemble'", {"unknown": "artime", "type": 1, "empty": ""}),
    "measurement": (NAME, {"empty": "", "high": "m" * 2000, "type": 1}),
    "keepFields": (BOOL_RANGE, {"type": "yes", "empty": ""}),
    "onBadPoint": ("'pass' or 'drop'", {"unknown": "skip", "type": 0, "empty": ""}),
    "valueField": (NAME, {"empty": "", "type": 1.0}),
    "rawScoreField": (NAME, {"empty": "", "high": "r" * 1025}),
    "likelihoodField": (NAME, {"empty": "", "type": True}),
    "scoreField": (NAME, {"empty": "", "blank": "\t"}),
    "predictionField": (NAME, {"empty": "", "type": 7}),
    "checkpointEvery": ("1 to 10,000,000", {"low": 0, "high": 10_000_001, "type": 10.0, "empty": "", "nan": math.nan}),
    "checkpointInterval": (
        "1s to 7d",
        {
            "low": Duration(SEC - 1),
            "zero": Duration(0),
            "negative": Duration(-SEC),
            "high": Duration(7 * 86_400 * SEC + 1),
            "type": 60,
            "empty": "",
            "nan": math.nan,
        },
    ),
}
OUT_OF_RANGE = [
    (name, case, value, text) for name, (text, cases) in OPTION_RANGES.items() for case, value in cases.items()
]


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for the whole matrix: every failed init must leave it serving."""
    directory = tmp_path_factory.mktemp("options")
    proc = start_socket_server(str(directory / "htm.sock"), str(directory / "state"))
    yield str(directory / "htm.sock")
    proc.terminate()
    proc.wait(timeout=60)


def test_the_matrix_covers_every_option():
    from influxhtm.udf.options import OPTION_SPECS

    assert set(OPTION_RANGES) == set(OPTION_SPECS)
    assert {name: spec.range for name, spec in OPTION_SPECS.items()} == {
        name: text for name, (text, _) in OPTION_RANGES.items()
    }


@pytest.mark.parametrize(
    "name, case, value, text", OUT_OF_RANGE, ids=[f"{name}-{case}" for name, case, _, _ in OUT_OF_RANGE]
)
def test_out_of_range_option_fails_init_and_the_server_keeps_serving(shared_server, name, case, value, text):
    """Each option × {too low, too high, wrong type, empty, NaN/inf}: init fails with a message naming the
    option and its range; a good task on the same server is then served."""
    options = [option(name, value)] if name == "field" else [FIELD, option(name, value)]
    with UdfClient.connect(shared_server) as bad:
        resp = bad.ask(init_request(*options, task_id=f"bad-{name}-{case}"))
        assert not resp.success
        assert f".{name}()" in resp.error and text in resp.error, resp.error
    with UdfClient.connect(shared_server) as good:
        assert good.ask(init_request(*RANGE, task_id=f"good-{name}-{case}")).success
        good.send(request(make_point(100 * SEC, 42.0, field="usage")))
        (out,) = good.points(1)
        assert "anomaly_score" in out.fieldsDouble


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
    assert passed.time == bad.time and passed.name == "cpu_htm" and passed.tags["source_field"] == "usage"
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

    registry, handler, _ = start_in_process(ModelStore(tmp_path), RANGE)
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
    assert registry.metrics.bad_points.labels("nan").value == 10
    assert registry.metrics.bad_points.labels("string").value == 5
