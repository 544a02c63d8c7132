"""The live view in a real browser: demo results in a real InfluxDB, the dashboard server, headless chromium.

The page must chart what InfluxDB holds (every point, the threshold line, learning periods shaded, alerts by
the one rule of influxhtm.dashboard.alerts), list the models with their records seen, and show points
written while it is open without a reload. Screenshots go to the test's tmp dir and, when
INFLUXHTM_SCREENSHOT_DIR is set, there too.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from influxhtm.dashboard.alerts import ALERT_THRESHOLD, is_alert
from influxhtm.influxql import line, to_ns
from influxhtm.schema import (
    ANOMALY_SCORE,
    LEARNING,
    PREDICTION,
    RECORDS_SEEN,
    SOURCE_FIELD_TAG,
    VALUE,
    result_measurement,
)
from tests.demo_results import DEMO_FIELD, DEMO_HOST, DEMO_MEASUREMENT, load_demo_results

LOAD_TIMEOUT_MS = 60_000
LIVE_TIMEOUT_MS = 20_000

# What the page shows of one chart: trace names, point counts, the last x, the learning shapes.
CHART_STATE = """(chart) => ({
    traces: chart.data.map((t) => ({name: t.name, n: t.x.length, y: Array.from(t.y), lastX: t.x[t.x.length - 1]})),
    shapes: (chart.layout.shapes || []).map((s) => ({x0: s.x0, x1: s.x1, name: s.name})),
})"""


def save_screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("INFLUXHTM_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def result_rows(client, measurement: str, tags: dict) -> list:
    """Every result point of one series, oldest first (fields the series lacks are missing from the rows)."""
    where = " AND ".join(f"\"{k}\" = '{v}'" for k, v in sorted(tags.items()))
    return client.query_points(f'SELECT * FROM "{measurement}" WHERE {where}', time_as_ns=True)


def learning_runs(rows) -> int:
    runs, before = 0, False
    for row in rows:
        now = row.get(LEARNING) is True
        runs += now and not before
        before = now
    return runs


def card(page, title_part: str):
    return page.locator(f'section.card[data-series-title*="{title_part}"]')


def chart_state(page, title_part: str) -> dict:
    return card(page, title_part).locator(".chart").evaluate(CHART_STATE)


def trace(state: dict, name_start: str) -> dict:
    found = [t for t in state["traces"] if t["name"].startswith(name_start)]
    assert found, f"no trace named {name_start!r} in {[t['name'] for t in state['traces']]}"
    return found[-1]


def wait_for_points(page, title_part: str, count: int, timeout_ms: int) -> None:
    page.wait_for_function(
        "([part, n]) => { const c = document.querySelector(`section.card[data-series-title*='${part}']`);"
        " return c !== null && Number(c.dataset.points) === n; }",
        arg=[title_part, count],
        timeout=timeout_ms,
    )


def test_live_view_charts_the_demo_results_and_appends_new_points(client, dashboard, page, tmp_path):
    series = load_demo_results(client)
    measurement = result_measurement(DEMO_MEASUREMENT)
    tags = {"host": DEMO_HOST, SOURCE_FIELD_TAG: DEMO_FIELD}
    rows = result_rows(client, measurement, tags)
    assert len(rows) == len(series.values)

    page.goto(dashboard)
    title = f"host={DEMO_HOST}"
    wait_for_points(page, title, len(rows), LOAD_TIMEOUT_MS)
    state = chart_state(page, title)

    assert trace(state, "value")["n"] == len(rows)
    assert trace(state, "anomaly score")["n"] == len(rows)
    threshold = trace(state, "alert threshold")
    assert threshold["y"] == [ALERT_THRESHOLD, ALERT_THRESHOLD]
    predictions = sum(1 for row in rows[:-1] if row.get(PREDICTION) is not None)
    assert trace(state, "prediction")["n"] == predictions
    expected_alerts = sum(1 for row in rows if is_alert(row.get(ANOMALY_SCORE), row.get(LEARNING)))
    alert_traces = [t for t in state["traces"] if t["name"] == "alert"]
    assert alert_traces and all(t["n"] == expected_alerts for t in alert_traces)
    assert card(page, title).locator(".alerts tbody tr").count() == min(expected_alerts, 100)
    # learning periods: one shaded rectangle per run of learning points in InfluxDB (the demo's model
    # learns through its whole probation: one run)
    assert learning_runs(rows) == 1 and len(state["shapes"]) == 1
    assert state["shapes"][0]["name"] == "learning (probation)"
    assert card(page, title).locator(".badge.state").inner_text() == "LIVE"

    model_row = page.locator("#models tbody tr", has_text=measurement)
    assert model_row.count() == 1
    assert f"host={DEMO_HOST}" in model_row.inner_text()
    last_records = rows[-1][RECORDS_SEEN]
    assert last_records == len(rows)
    assert model_row.locator("td.records").inner_text() == f"{last_records:,}"
    assert f"records seen {last_records:,}" in card(page, title).locator(".badge.records").inner_text()
    save_screenshot(page, tmp_path, "live_view_loaded.png")

    # Live: the series goes on while the page is open; scoring it writes new results, which must appear
    # without a reload (the marker set in the page survives only if the page is not reloaded).
    page.evaluate("window.__notReloaded = true")
    step = series.timestamps[1] - series.timestamps[0]
    new_times = [series.timestamps[-1] + step * (i + 1) for i in range(6)]
    sensor = client.get_sensor(DEMO_MEASUREMENT, DEMO_HOST, tag_key="host", field=DEMO_FIELD)
    sensor.write(zip(new_times, series.values[-6:]))
    assert sensor.get_model().backfill(progress=False) == len(new_times)

    wait_for_points(page, title, len(rows) + len(new_times), LIVE_TIMEOUT_MS)
    assert page.evaluate("window.__notReloaded === true")
    state = chart_state(page, title)
    last_ms = to_ns(new_times[-1]) // 1_000_000
    assert trace(state, "value")["n"] == len(rows) + len(new_times)
    assert trace(state, "value")["lastX"] == last_ms
    assert trace(state, "alert threshold")["lastX"] == last_ms
    assert trace(state, "value")["y"][-len(new_times) :] == pytest.approx(series.values[-6:])
    expected_last = new_times[-1].strftime("%Y-%m-%d %H:%M:%S")
    assert expected_last in card(page, title).locator(".badge.last").inner_text()
    assert expected_last in page.locator("#models tbody tr", has_text=measurement).inner_text()
    save_screenshot(page, tmp_path, "live_view_after_new_points.png")


def test_learning_alerts_and_missing_fields_follow_the_one_rule(client, dashboard, page, tmp_path):
    """Hand-written results: learning for the first points (shaded, no alerts even at score 1.0), then live
    (alerts at and above the threshold only), and a second series without learning/records_seen."""
    start = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    step = dt.timedelta(minutes=1)
    scores = [0.9, 1.0, 0.2, 0.1, 0.5, 0.49, 0.7, 0.1, 0.0, 0.95]
    learning = [True] * 4 + [False] * 6
    tags = {"host": "probe", SOURCE_FIELD_TAG: "temp"}
    # the tag set has no spaces, so the first space separates it from the fields
    lines = [
        line(
            "probe_htm", tags, {VALUE: 20.0 + i, ANOMALY_SCORE: s, PREDICTION: 21.5 + i}, to_ns(start + i * step)
        ).replace(" ", f" {LEARNING}={'true' if ln else 'false'},{RECORDS_SEEN}={i + 1}i,", 1)
        for i, (s, ln) in enumerate(zip(scores, learning))
    ]
    legacy_tags = {"host": "legacy", SOURCE_FIELD_TAG: "load"}
    old = [
        line("old_htm", legacy_tags, {VALUE: 1.0, ANOMALY_SCORE: s}, to_ns(start + i * step))
        for i, s in enumerate([0.1, 0.6])
    ]
    client.write_lines(lines + old)

    page.goto(dashboard)
    wait_for_points(page, "host=probe", len(scores), LOAD_TIMEOUT_MS)
    wait_for_points(page, "host=legacy", 2, LOAD_TIMEOUT_MS)

    state = chart_state(page, "host=probe")
    expected = [i for i, (s, ln) in enumerate(zip(scores, learning)) if is_alert(s, ln)]
    assert expected == [4, 6, 9]
    on_values, on_scores = [t for t in state["traces"] if t["name"] == "alert"]
    assert on_scores["y"] == [scores[i] for i in expected]
    assert on_values["y"] == [20.0 + i for i in expected]
    # one shaded period, from the first point up to the first point past probation
    assert [(s["x0"], s["x1"]) for s in state["shapes"]] == [
        (to_ns(start) // 1_000_000, to_ns(start + 4 * step) // 1_000_000)
    ]
    # a prediction is made at one point for the next one: drawn at the next point's time
    prediction = trace(state, "prediction")
    assert prediction["y"] == [21.5 + i for i in range(len(scores) - 1)]
    assert prediction["lastX"] == to_ns(start + (len(scores) - 1) * step) // 1_000_000
    probe = card(page, "host=probe")
    assert probe.locator(".badge.state").inner_text() == "LIVE"
    assert probe.locator(".badge.records").inner_text() == "records seen 10"
    assert "0.950" in probe.locator(".badge.score").inner_text()
    assert "alerting" in (probe.locator(".badge.score").get_attribute("class") or "")
    assert probe.locator(".alerts tbody tr").count() == 3
    assert probe.locator(".alerts tbody tr").first.inner_text().split("\t")[1:2] == ["0.950"]

    legacy = card(page, "host=legacy")  # no learning/records_seen fields: state unknown, score alone alerts
    assert legacy.locator(".badge.state").inner_text() == "STATE UNKNOWN"
    assert legacy.locator(".badge.records").inner_text() == "records seen —"
    assert legacy.locator(".alerts tbody tr").count() == 1
    assert chart_state(page, "host=legacy")["shapes"] == []
    save_screenshot(page, tmp_path, "live_view_rule.png")
