"""A NAB file streamed through real Kapacitor and the HTM UDF: results, exact scores, alerts, groups, template."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from influxhtm.htm.params import nab_probation
from influxhtm.influxql import quote_ident
from influxhtm.schema import result_measurement

from .helpers import (
    DB,
    RP,
    TICKSCRIPTS,
    assert_scores_equal,
    interleave,
    lines,
    nab_series,
    offline_scores,
    query,
    stream_vars,
    wait_count,
)

JUMPSUP = "artificialWithAnomaly/art_daily_jumpsup.csv"
JUMPSUP_WINDOW = (dt.datetime(2014, 4, 10, 16, 15), dt.datetime(2014, 4, 12, 1, 45))  # combined_windows.json


@pytest.fixture(scope="module")
def jumpsup(kapacitor, influx_client, tmp_path_factory):
    """art_daily_jumpsup through htm_stream.tick, with htm_alert.tick watching the results."""
    series = nab_series(JUMPSUP)
    alert_log = tmp_path_factory.mktemp("alerts") / "alerts.log"
    kapacitor.define_task(
        "e2e_jumpsup",
        (TICKSCRIPTS / "htm_stream.tick").read_text(),
        dbrps=[(DB, RP)],
        vars=stream_vars("jumpsup", series, group_by=["host"]),
    )
    kapacitor.define_task(
        "e2e_jumpsup_alert",
        (TICKSCRIPTS / "htm_alert.tick").read_text(),
        dbrps=[(DB, RP)],
        vars={"database": DB, "retention_policy": RP, "htm_measurement": "jumpsup_htm", "alert_log": str(alert_log)},
    )
    kapacitor.write(lines("jumpsup", {"host": "nab"}, series), db=DB, rp=RP)
    wait_count(influx_client, "jumpsup_htm", len(series.values), kap=kapacitor, task_id="e2e_jumpsup")
    rows = query(influx_client, 'SELECT * FROM "jumpsup_htm"')
    return series, rows, alert_log


def test_one_result_point_per_input_with_source_tags_and_float_fields(jumpsup, influx_client):
    series, rows, _ = jumpsup
    assert len(rows) == len(series.values)
    assert {(r["host"], r["source_field"]) for r in rows} == {("nab", "value")}
    assert "field" not in rows[0]
    types = {r["fieldKey"]: r["fieldType"] for r in query(influx_client, 'SHOW FIELD KEYS FROM "jumpsup_htm"')}
    assert types == {
        "value": "float",
        "raw_score": "float",
        "anomaly_likelihood": "float",
        "anomaly_score": "float",
        "prediction": "float",
        "learning": "boolean",
        "records_seen": "integer",
    }
    probation = nab_probation(len(series.values))
    assert [r["records_seen"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["learning"] for r in rows] == [k <= probation for k in range(1, len(rows) + 1)]


def test_scores_equal_the_offline_detector(jumpsup):
    series, rows, _ = jumpsup
    assert_scores_equal(rows, offline_scores(series), series)


def test_alert_fires_inside_the_labelled_window(jumpsup, kapacitor):
    series, rows, alert_log = jumpsup
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # results reach the alert task through InfluxDB's subscription
        stats = kapacitor.task("e2e_jumpsup_alert")["stats"]["node-stats"]
        if max(n.get("collected", 0) for k, n in stats.items() if k.startswith("alert")) >= len(rows):
            break
        time.sleep(0.5)
    events = [json.loads(line) for line in alert_log.read_text().splitlines()]
    critical = [e for e in events if e["level"] == "CRITICAL"]
    after_probation = series.times[nab_probation(len(series.values))]
    late = [dt.datetime.fromisoformat(e["time"].rstrip("Z")) for e in critical]
    late = [t for t in late if t >= after_probation]
    assert late, "no CRITICAL alert after the probation period"
    assert all(JUMPSUP_WINDOW[0] <= t <= JUMPSUP_WINDOW[1] for t in late), late
    assert "host=nab" in critical[0]["message"] and "anomaly_score=" in critical[0]["message"]
    assert "source_field=value" in critical[0]["message"]  # the alert groups by the result tag too


def test_each_group_keeps_its_own_model(kapacitor, influx_client):
    names = [
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "artificialWithAnomaly/art_daily_jumpsdown.csv",
        "artificialWithAnomaly/art_daily_flatmiddle.csv",
    ]
    rows_per_group = 500
    groups = {f"h{i}": nab_series(name, rows_per_group) for i, name in enumerate(names)}
    lo = min(min(s.values) for s in groups.values())
    hi = max(max(s.values) for s in groups.values())
    probation = nab_probation(rows_per_group)
    first = next(iter(groups.values()))
    kapacitor.define_task(
        "e2e_groups",
        (TICKSCRIPTS / "htm_stream.tick").read_text(),
        dbrps=[(DB, RP)],
        vars=stream_vars("groups", first, group_by=["host"], min=lo, max=hi, probation=probation),
    )
    kapacitor.write(interleave(*(lines("groups", {"host": h}, s) for h, s in groups.items())), db=DB, rp=RP)
    wait_count(influx_client, "groups_htm", 3 * rows_per_group, kap=kapacitor, task_id="e2e_groups")
    for host, series in groups.items():
        rows = query(influx_client, f'SELECT * FROM "groups_htm" WHERE "host" = \'{host}\'')
        assert_scores_equal(rows, offline_scores(series, min_value=lo, max_value=hi, probation=probation), series)


def test_template_serves_several_measurements(kapacitor, influx_client):
    kapacitor.define_template("e2e_htm_template", (TICKSCRIPTS / "htm_stream_template.tick").read_text())
    example = json.loads((TICKSCRIPTS / "htm_stream_template.vars.json").read_text())
    assert {"measurement", "field", "output_measurement"} <= example.keys()
    rows = 350  # > warmup (288): the learned range is used, then the warm-up points are replayed
    series = {
        "tpl_a": nab_series("artificialWithAnomaly/art_daily_jumpsup.csv", rows),
        "tpl_b": nab_series("artificialNoAnomaly/art_daily_small_noise.csv", rows),
    }
    for measurement in series:
        kapacitor.define_task_from_template(
            f"e2e_{measurement}",
            "e2e_htm_template",
            dbrps=[(DB, RP)],
            vars={
                "database": DB,
                "retention_policy": RP,
                "measurement": measurement,
                "field": "value",
                "output_measurement": result_measurement(measurement),
            },
        )
    for measurement, s in series.items():
        kapacitor.write(lines(measurement, {"host": "x"}, s), db=DB, rp=RP)
    for measurement, s in series.items():
        wait_count(influx_client, result_measurement(measurement), rows, kap=kapacitor, task_id=f"e2e_{measurement}")
        got = query(influx_client, f"SELECT * FROM {quote_ident(result_measurement(measurement))}")
        assert [r["value"] for r in got] == s.values
        warm = s.head(288)
        expected = offline_scores(s, min_value=min(warm.values), max_value=max(warm.values), probation=750)
        assert [r["anomaly_score"] for r in got] == [e.anomaly_score for e in expected]


def test_bad_option_reports_the_udf_message(kapacitor):
    series = nab_series(JUMPSUP, 10)
    task = kapacitor.define_task(
        "e2e_bad_option",
        (TICKSCRIPTS / "htm_stream.tick").read_text(),
        dbrps=[(DB, RP)],
        vars=stream_vars("bad", series, group_by=["host"], tm="cells9000"),
    )
    message = task["error"]
    deadline = time.monotonic() + 20
    while not message and time.monotonic() < deadline:  # the UDF node's init runs just after the start
        time.sleep(0.2)
        message = kapacitor.task_error("e2e_bad_option")
    # Kapacitor shows the UDF's own message: the option, what it accepts and what it got
    assert ".tm() expects a STRING: 'backtracking' or 'tm'; got 'cells9000'" in message, message
    assert not kapacitor.task("e2e_bad_option")["executing"]


def test_ensemble_detector_through_kapacitor(kapacitor, influx_client):
    """`.detector('ensemble')` set through the shipped TICKscript's var: every point's scores equal the
    library's ensemble detector with the same settings (and differ from NuPIC's detector's)."""
    from influxhtm.htm import AnomalyDetector

    series = nab_series("realTraffic/speed_7578.csv")
    probation = nab_probation(len(series.values))
    kapacitor.define_task(
        "e2e_ensemble",
        (TICKSCRIPTS / "htm_stream.tick").read_text(),
        dbrps=[(DB, RP)],
        vars=stream_vars("speed", series, group_by=["host"], detector={"type": "string", "value": "ensemble"}),
    )
    kapacitor.write(lines("speed", {"host": "nab"}, series), db=DB, rp=RP)
    wait_count(influx_client, "speed_htm", len(series.values), kap=kapacitor, task_id="e2e_ensemble")
    rows = query(influx_client, 'SELECT * FROM "speed_htm"')
    det = AnomalyDetector(
        min(series.values), max(series.values), probation=probation, prediction_steps=1, detector="ensemble"
    )
    expected = [det.handle(t, v) for t, v in zip(series.times, series.values)]
    assert_scores_equal(rows, expected, series)
    assert [r["anomaly_score"] for r in rows] != [s.anomaly_score for s in offline_scores(series)]
