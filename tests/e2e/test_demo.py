"""scripts/demo.py as a user runs it: `make demo` (the embedded synthetic series), and on series given as files."""

from __future__ import annotations

import csv
import re
import subprocess
import sys

from influxhtm.htm.params import nab_probation
from influxhtm.stack import synthetic

from .helpers import REPO


def run_demo(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--no-keep", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_make_demo_alerts_once_per_incident_never_while_learning_and_says_where_to_look(tmp_path):
    plot = tmp_path / "demo.png"
    out = run_demo("--plot", str(plot))

    series = synthetic.generate()  # the demo's default series
    assert f"{len(series.values)} result points in InfluxDB" in out, out
    crit = re.search(r"CRITICAL alerts: (\d+) \(one per incident\); (\d+) of them in the probation period", out)
    assert crit and int(crit[1]) > 0 and crit[2] == "0", out
    assert f"label windows detected: {len(series.windows)} of {len(series.windows)}; " in out, out
    assert "alerts after probation outside any window: 0" in out, out
    posted = re.search(r"alerts POSTed to the receiver at (\S+): (\d+) \(Kapacitor's alert log: (\d+)\)", out)
    assert posted and posted[2] == posted[3] and int(posted[2]) >= int(crit[1]), out
    where = out[out.index("Where to look:") :]
    assert re.search(r"live view   http://127\.0\.0\.1:\d+/", where), where
    assert f"plot        {plot}" in where and "alerts      the summary above" in where
    with open(plot.with_suffix(".csv"), newline="") as scores:
        rows = list(csv.DictReader(scores))
    learning = [r["learning"] == "True" for r in rows]
    probation = nab_probation(len(rows))  # the demo's probation: NAB's rule
    assert learning == [True] * probation + [False] * (len(rows) - probation)
    assert [int(r["records_seen"]) for r in rows] == list(range(1, len(rows) + 1))


def test_demo_scores_every_point_detects_the_clear_anomalies_and_plots(tmp_path):
    series = synthetic.generate(days=14)
    data, labels, plot = tmp_path / "synthetic.csv", tmp_path / "windows.json", tmp_path / "demo.png"
    synthetic.write_csv(series, data)
    synthetic.write_windows(series, labels, "synthetic.csv")
    assert synthetic.read_windows(labels) == series.windows

    out = run_demo("--data", str(data), "--labels", str(labels), "--plot", str(plot))

    assert f"{len(series.values)} result points in InfluxDB" in out, out
    for anomaly in series.anomalies:
        if anomaly.kind in ("spike", "flatline"):  # unmistakable: these must raise an alert in their window
            lo, hi = anomaly.window
            assert f"{lo:%Y-%m-%d %H:%M} .. {hi:%Y-%m-%d %H:%M}  detected" in out, out
    assert plot.stat().st_size > 20_000
    with open(plot.with_suffix(".csv"), newline="") as scores:
        rows = list(csv.DictReader(scores))
    assert [float(r["value"]) for r in rows] == series.values
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
