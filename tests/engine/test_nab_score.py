"""`influxhtm.nab_score` against figures derived without it.

- `tests/fixtures/nab/reference_scores.json`: what the reference NAB scorer (validated against NAB's official
  `run.py`) gives for ARTime's stored NAB results on the 31 fixture files and for NuPIC 1.0.5's final scores
  (`F1` of the golden traces) on their six files, at NAB's optimised thresholds and at 0.5
  (`tests/fixtures/README.md` says how they were obtained).
- Small cases worked out by hand from NAB's definition (sigmoid 2/(1+e^(5x)) - 1 = tanh(-5x/2)).
"""

import csv
import gzip
import json
import math

import pytest

from influxhtm.nab_score import (
    NOTHING_FLAGGED,
    PROFILES,
    ScoredSeries,
    probationary_rows,
    read_labels,
    rows_of_windows,
    score_corpus,
    score_results,
    sigmoid,
)
from tests.engine.golden import NAB, NAB_DATA, NAB_LABELS, load_trace

REFERENCE = json.loads((NAB / "reference_scores.json").read_text())
ARTIME = NAB.parent / "golden" / "artime" / "artime_nab_scores.csv.gz"
STANDARD, LOW_FP, LOW_FN = PROFILES
TOL = 1e-9


def reference(results, threshold):
    [case] = [c for c in REFERENCE["cases"] if c["results"] == results and c["threshold"] == threshold]
    return case


def assert_matches(report, case):
    assert [f.name for f in report.results[0].files] == case["files"]
    assert report.scored_rows == case["rows_scored"] and report.windows == case["windows"]
    for result in report.results:
        want = case["profiles"][result.profile.name]
        assert result.threshold == want["threshold"], result.profile.name
        assert result.raw == pytest.approx(want["raw_score"], abs=TOL)
        assert result.normalised == pytest.approx(want["normalized"], abs=TOL)
        counts = [result.total(k) for k in ("tp", "fp", "fn", "tn", "windows_detected")]
        assert counts == [want[k] for k in ("tp_records", "fp_records", "fn_records", "tn_records", "windows_detected")]
        for f in result.files:
            assert f.score == pytest.approx(want["per_file"][f.name], abs=TOL), (result.profile.name, f.name)


@pytest.fixture(scope="module")
def artime_results(tmp_path_factory):
    """ARTime's stored results written out in NAB's results layout."""
    root = tmp_path_factory.mktemp("results") / "ARTime"
    by_file = {}
    with gzip.open(ARTIME, "rt", newline="") as f:
        for row in csv.DictReader(f):
            by_file.setdefault(row["file"], []).append((row["timestamp"], row["anomaly_score"]))
    for name, rows in by_file.items():
        category, filename = name.split("/")
        (root / category).mkdir(parents=True, exist_ok=True)
        with open(root / category / f"ARTime_{filename}", "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["timestamp", "anomaly_score"])
            writer.writerows(rows)
    assert len(by_file) == 31
    return root


@pytest.mark.parametrize("threshold", [None, 0.5])
def test_artime_on_31_files_scores_as_the_reference_scorer(artime_results, threshold):
    report = score_results(str(NAB_DATA), str(NAB_LABELS), str(artime_results), threshold=threshold)
    assert report.detector == "ARTime" and not report.notes
    assert_matches(report, reference("artime", threshold))


def test_artime_headline_figures():
    # The rounded figures the reference scorer prints, as recorded in tests/fixtures/README.md.
    optimised = reference("artime", None)["profiles"]
    assert [round(optimised[p.name]["normalized"], 2) for p in PROFILES] == [73.55, 65.59, 78.59]
    assert [round(reference("artime", 0.5)["profiles"][p.name]["normalized"], 2) for p in PROFILES] == [
        63.58,
        59.24,
        66.91,
    ]


@pytest.fixture(scope="module")
def nupic_series():
    """NuPIC 1.0.5's final scores (F1, NAB's one-sided convention) of the golden traces, as in-memory series."""
    labels = read_labels(str(NAB_LABELS))
    series = []
    for name in [
        "TravelTime_387",
        "art_daily_jumpsup",
        "art_daily_small_noise",
        "exchange-2_cpc_results",
        "machine_temperature_system_failure",
        "nyc_taxi",
    ]:
        header, records = load_trace(name)
        times = [r["t"] for r in records]
        series.append(
            ScoredSeries(
                header["file"], [r["F1"] for r in records], rows_of_windows(times, labels[header["file"]], name)
            )
        )
    return sorted(series, key=lambda s: s.name)


@pytest.mark.parametrize("threshold", [None, 0.5])
def test_nupic_golden_scores_score_as_the_reference_scorer(nupic_series, threshold):
    assert_matches(score_corpus(nupic_series, threshold=threshold), reference("nupic_F1", threshold))


# ---- hand-derived cases: a 100-record file, probation 15 records, one window of 10 rows (50..59) ----------

N, WINDOW = 100, (50, 59)


def corpus_score(flagged, windows=(WINDOW,), n=N, threshold=0.5):
    scores = [1.0 if i in flagged else 0.0 for i in range(n)]
    report = score_corpus([ScoredSeries("c/f.csv", scores, windows)], threshold=threshold)
    return {r.profile.name: r for r in report.results}


def raw(flagged, profile=STANDARD, **kw):
    return corpus_score(flagged, **kw)[profile.name].raw


def test_probationary_period_is_15_percent_capped_at_750():
    assert probationary_rows(100) == 15
    assert probationary_rows(4032) == 604  # the golden traces' figures
    assert probationary_rows(1624) == 243
    assert probationary_rows(10320) == 750
    assert probationary_rows(22695) == 750


def test_sigmoid_is_nab_curve():
    for x in (-1.0, -0.5, -0.1, 0.0, 0.3, 1.0, 3.0):
        assert sigmoid(x) == pytest.approx(math.tanh(-2.5 * x), abs=1e-15)
    assert sigmoid(3.0001) == -1.0


def test_detection_on_the_first_window_row_earns_the_tp_weight():
    results = corpus_score({50})
    for r in results.values():
        assert r.raw == pytest.approx(1.0, abs=1e-15)
        assert r.normalised == pytest.approx(100.0)
        assert (r.total("tp"), r.total("fp"), r.total("fn"), r.total("windows_detected")) == (1, 0, 9, 1)


def test_later_detections_in_a_window_earn_less_and_only_the_earliest_counts():
    last = math.tanh(0.25) / math.tanh(2.5)  # row 59: x = -1/10
    assert raw({59}) == pytest.approx(last, abs=1e-12)
    middle = math.tanh(2.5 * 0.5) / math.tanh(2.5)  # row 55: x = -5/10
    assert raw({55}) == pytest.approx(middle, abs=1e-12)
    assert raw({55, 57, 59}) == pytest.approx(middle, abs=1e-12)
    assert raw({50, 59}) == pytest.approx(1.0, abs=1e-12)


def test_missed_window_costs_the_fn_weight_and_null_detector_scores_zero():
    results = corpus_score(set())
    assert [results[p.name].raw for p in PROFILES] == [-1.0, -1.0, -2.0]
    assert all(r.normalised == 0.0 for r in results.values())


def test_false_positive_before_the_window_costs_the_fp_weight():
    results = corpus_score({20})
    assert results[STANDARD.name].raw == pytest.approx(-1.11, abs=1e-12)
    assert results[LOW_FP.name].raw == pytest.approx(-1.22, abs=1e-12)
    assert results[LOW_FN.name].raw == pytest.approx(-2.11, abs=1e-12)
    assert results[STANDARD.name].normalised == pytest.approx(100 * (-1.11 + 1) / 2)
    assert results[STANDARD.name].total("fp") == 1


def test_false_positive_after_a_window_costs_less_close_to_it():
    # Row 60: x = (60 - 59) / (10 - 1) past the window; weight fp * sig(x) = -fp * tanh(2.5 / 9).
    assert raw({50, 60}) == pytest.approx(1.0 - 0.11 * math.tanh(2.5 / 9), abs=1e-12)
    assert raw({50, 60}, LOW_FP) == pytest.approx(1.0 - 0.22 * math.tanh(2.5 / 9), abs=1e-12)
    # Row 86: x = 27/9 = 3, still on the curve; row 87: x > 3, the full -fp.
    assert raw({50, 86}) == pytest.approx(1.0 - 0.11 * math.tanh(7.5), abs=1e-12)
    assert raw({50, 87}) == pytest.approx(1.0 - 0.11, abs=1e-15)


def test_after_a_one_row_window_a_false_positive_costs_the_full_fp_weight():
    assert raw({50, 51}, windows=[(50, 50)]) == pytest.approx(1.0 - 0.11, abs=1e-15)


def test_probationary_records_are_not_scored():
    results = corpus_score({3, 14})
    assert results[STANDARD.name].raw == -1.0
    assert (
        results[STANDARD.name].total("tp")
        + results[STANDARD.name].total("fp")
        + results[STANDARD.name].total("fn")
        + results[STANDARD.name].total("tn")
        == N - 15
    )


def test_window_inside_probation_is_ignored_and_one_straddling_it_is_scored_on_its_later_rows():
    inside = corpus_score({5}, windows=[(2, 8)])[STANDARD.name]
    assert inside.raw == 0.0 and inside.normalised is None
    straddling = corpus_score({15}, windows=[(10, 19)])[STANDARD.name]  # row 15: x = -5/10
    assert straddling.raw == pytest.approx(math.tanh(1.25) / math.tanh(2.5), abs=1e-12)
    assert straddling.total("windows") == 1


def test_normalisation_uses_every_window_of_every_scored_file():
    files = [
        ScoredSeries("a/one.csv", [1.0 if i == 50 else 0.0 for i in range(N)], [WINDOW]),
        ScoredSeries("a/two.csv", [0.0] * N, [(30, 39), (60, 69)]),
        ScoredSeries("b/three.csv", [1.0 if i == 20 else 0.0 for i in range(N)], []),
    ]
    result = score_corpus(files, threshold=0.5).results[0]
    assert [f.score for f in result.files] == pytest.approx([1.0, -2.0, -0.11])
    assert (result.null, result.perfect) == (-3.0, 3.0)
    assert result.normalised == pytest.approx(100 * (-1.11 + 3) / 6)


def test_optimised_threshold_is_the_best_corpus_wide_one_and_the_highest_on_ties():
    scores = [0.0] * N
    scores[20], scores[30], scores[55], scores[52] = 0.9, 0.7, 0.8, 0.6
    series = [ScoredSeries("c/f.csv", scores, [WINDOW])]
    results = {r.profile.name: r for r in score_corpus(series).results}
    # Candidates: 1.1 -> -1; 0.9 -> -1.11; 0.8 -> w55 - 0.11; 0.7 -> w55 - 0.22; 0.6 -> w52 - 0.22; 0 -> worse.
    w52 = math.tanh(2.5 * (8 / 10)) / math.tanh(2.5)  # ~0.977; w55 = tanh(1.25) / tanh(2.5) ~0.860
    assert results[STANDARD.name].threshold == 0.6
    assert results[STANDARD.name].raw == pytest.approx(w52 - 0.22, abs=1e-12)
    # Nothing flagged wins when the false positives outweigh the window: with nine more at 0.95 every cut
    # flags at least ten (10 * 0.22 > 1 + 0.977 for reward_low_FP_rate).
    for i in range(21, 30):
        scores[i] = 0.95
    heavy = {r.profile.name: r for r in score_corpus([ScoredSeries("c/f.csv", scores, [WINDOW])]).results}
    assert heavy[LOW_FP.name].threshold == NOTHING_FLAGGED and heavy[LOW_FP.name].normalised == 0.0
    # A lower threshold that adds only a later row of an already detected window ties: the higher one wins.
    tie = [0.0] * N
    tie[50], tie[57] = 0.8, 0.4
    assert score_corpus([ScoredSeries("c/f.csv", tie, [WINDOW])]).results[0].threshold == 0.8


def test_rows_of_windows_matches_label_timestamps_in_any_iso_form():
    times = ["2014-04-01 00:00:00", "2014-04-01 00:05:00", "2014-04-01 00:10:00", "2014-04-01 00:15:00"]
    assert rows_of_windows(times, [("2014-04-01 00:05:00.000000", "2014-04-01T00:10:00")], "x") == [(1, 2)]
    with pytest.raises(ValueError, match="matches 0 data rows"):
        rows_of_windows(times, [("2014-04-01 00:06:00", "2014-04-01 00:10:00")], "x")


def test_results_must_align_with_the_data(tmp_path):
    data, results = tmp_path / "data" / "cat", tmp_path / "det" / "cat"
    data.mkdir(parents=True)
    results.mkdir(parents=True)
    (data / "f.csv").write_text("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2\n")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"cat/f.csv": []}))
    for content, message in [
        ("timestamp,anomaly_score\n2014-04-01 00:00:00,0\n", "1 rows, the data file has 2"),
        ("timestamp,anomaly_score\n2014-04-01 00:00:00,0\n2014-04-01 00:10:00,0\n", "line 3"),
        ("timestamp,anomaly_score\n2014-04-01 00:00:00,0\n2014-04-01T00:05:00,1.5\n", "not in \\[0, 1\\]"),
        ("timestamp,score\n2014-04-01 00:00:00,0\n2014-04-01 00:05:00,0\n", "no anomaly_score"),
    ]:
        (results / "det_f.csv").write_text(content)
        with pytest.raises(ValueError, match=message):
            score_results(str(tmp_path / "data"), str(labels), str(tmp_path / "det"))
