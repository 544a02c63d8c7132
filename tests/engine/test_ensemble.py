"""The opt-in ensemble detector: its score is the documented fusion of NuPIC's score and ARTime's, it is
causal, it saves and loads exactly, it is chosen everywhere by the same name, and its NAB figures hold.

The fusion rule is restated here from the README/engine docs (alert levels 0.9 and 0.3 map to 0.5, quiet
for 5.5 % / 2.75 % of the series' length after an HTM / ARTime alert) and applied to two independent inputs:
the `numenta` detector's scores and NAB's stored ARTime scores (tests/fixtures/golden/artime)."""

import csv
import gzip
import json
import subprocess
import sys

import pytest

from influxhtm.detect import nab_detector, read_series
from influxhtm.htm import AnomalyDetector
from influxhtm.nab import run_corpus
from influxhtm.nab_score import score_results
from tests.engine.golden import NAB, NAB_DATA, NAB_LABELS

ARTIME = NAB.parent / "golden" / "artime" / "artime_nab_scores.csv.gz"
FILE = "realTraffic/speed_7578.csv"  # short, and both detectors alert in it
LONG = "realKnownCause/nyc_taxi.csv"  # past 5,000 records a share of the length is longer than one of the probation


def stored_artime(name: str) -> list[float]:
    with gzip.open(ARTIME, "rt") as f:
        return [float(row["anomaly_score"]) for row in csv.DictReader(f) if row["file"] == name]


def documented_fusion(numenta: list[float], artime: list[float]) -> list[float]:
    out, quiet_until = [], -1
    for i, (n, a) in enumerate(zip(numenta, artime)):
        evidence = max(n / 0.9, a / 0.3)
        if evidence >= 1 and i > quiet_until:
            confidence = max((n - 0.9) / 0.1 if n >= 0.9 else 0.0, (a - 0.3) / 0.7 if a >= 0.3 else 0.0)
            out.append(0.5 + 0.5 * min(1.0, confidence))
            quiet_until = i + int((0.0275 if a >= 0.3 else 0.055) * len(numenta))
        else:
            out.append(0.49 * min(evidence, 1.0))
    return out


def scores(name: str, detector: str, records: int | None = None) -> list[float]:
    series = read_series(str(NAB_DATA / name))
    model = nab_detector(series, detector=detector)
    pairs = list(zip(series.times, series.values))[:records]
    return [model.handle(t, v).anomaly_score for t, v in pairs]


@pytest.mark.parametrize("name", [FILE, LONG])
def test_the_score_is_the_documented_fusion_of_numenta_and_artime(name):
    numenta, artime = scores(name, "numenta"), stored_artime(name)
    expected = documented_fusion(numenta, artime)
    got = scores(name, "ensemble")
    assert got == pytest.approx(expected, abs=1e-12)
    assert sum(s >= 0.5 for s in got) >= 3, "the file should hold alerts of the ensemble"


def test_raw_score_and_likelihood_stay_htms():
    series = read_series(str(NAB_DATA / FILE))
    numenta, ensemble = nab_detector(series), nab_detector(series, detector="ensemble")
    for t, v in list(zip(series.times, series.values))[:500]:
        a, b = numenta.handle(t, v), ensemble.handle(t, v)
        assert (a.raw_score, a.anomaly_likelihood, a.learning) == (b.raw_score, b.anomaly_likelihood, b.learning)


def test_causal_a_prefix_scores_the_same_whatever_follows():
    full = scores(FILE, "ensemble")
    assert scores(FILE, "ensemble", records=700) == full[:700]


def test_save_and_load_continue_identically():
    series = read_series(str(NAB_DATA / FILE))
    pairs = list(zip(series.times, series.values))
    whole = nab_detector(series, detector="ensemble")
    expected = [whole.handle(t, v) for t, v in pairs]
    first = nab_detector(series, detector="ensemble")
    for t, v in pairs[:400]:
        first.handle(t, v)
    restored = AnomalyDetector.load(first.save())
    assert restored.detector == "ensemble" and restored.records_seen == 400
    assert [restored.handle(t, v) for t, v in pairs[400:]] == expected[400:]


def test_a_numenta_state_stays_a_numenta_state():
    model = AnomalyDetector(0.0, 100.0)
    assert AnomalyDetector.load(model.save()).detector == "numenta"


def test_bad_choices_are_refused_by_name():
    with pytest.raises(ValueError, match="detector must be one of"):
        AnomalyDetector(0.0, 1.0, detector="best")
    with pytest.raises(ValueError, match="length must be a positive integer"):
        AnomalyDetector(0.0, 1.0, detector="ensemble", length=0)
    model = AnomalyDetector(0.0, 1.0, detector="ensemble")
    with pytest.raises(ValueError, match="finite"):
        model.handle_epoch(0, float("nan"))
    assert model.records_seen == 0
    # outside the range it was given: scored, not refused
    assert 0.0 <= model.handle_epoch(0, 50.0).anomaly_score <= 1.0


def test_cli_detect_offers_both_detectors(tmp_path):
    out = tmp_path / "scores.csv"
    help_text = subprocess.run(
        [sys.executable, "-m", "influxhtm.cli", "detect", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "{numenta,ensemble}" in help_text
    subprocess.run(
        [sys.executable, "-m", "influxhtm.cli", "detect", str(NAB_DATA / FILE), "-o", str(out)]
        + ["--detector", "ensemble", "--quiet"],
        check=True,
    )
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [float(r["anomaly_score"]) for r in rows] == pytest.approx(scores(FILE, "ensemble"), abs=1e-9)


@pytest.mark.slow
def test_nab_figures_on_the_31_files(tmp_path):
    """The README's figures: the ensemble beats the goal on the repository's 31 NAB files."""
    run_corpus(str(NAB_DATA), str(tmp_path), name="ensemble", jobs=2, detector="ensemble")
    results = str(tmp_path / "ensemble")
    best = score_results(str(NAB_DATA), str(NAB_LABELS), results, detector="ensemble").normalised()
    fixed = score_results(str(NAB_DATA), str(NAB_LABELS), results, detector="ensemble", threshold=0.5).normalised()
    summary = json.dumps({"optimised": best, "at 0.5": fixed})
    assert best["standard"] >= 77.0, summary
    assert fixed["standard"] >= 75.0, summary
    assert best["reward_low_FP_rate"] >= 68.0, summary
