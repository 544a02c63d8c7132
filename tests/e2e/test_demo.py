"""scripts/demo.py as a user runs it (`make demo`), on a labelled synthetic series given as files."""

from __future__ import annotations

import csv
import subprocess
import sys

from influxhtm.stack import synthetic

from .helpers import REPO


def test_demo_scores_every_point_detects_the_clear_anomalies_and_plots(tmp_path):
    series = synthetic.generate(days=14)
    data, labels, plot = tmp_path / "synthetic.csv", tmp_path / "windows.json", tmp_path / "demo.png"
    synthetic.write_csv(series, data)
    synthetic.write_windows(series, labels, "synthetic.csv")
    assert synthetic.read_windows(labels) == series.windows

    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "demo.py"),
            "--data",
            str(data),
            "--labels",
            str(labels),
            "--plot",
            str(plot),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    out = done.stdout
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
