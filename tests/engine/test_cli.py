"""`influxhtm detect` and `influxhtm nab` as a user runs them (the installed console script)."""

import csv
import gzip
import json
import re
import shutil
import subprocess
import sys

import pytest

from influxhtm.htm.params import nab_probation
from tests.engine.golden import NAB_DATA, NAB_LABELS, load_trace

CPC = NAB_DATA / "realAdExchange" / "exchange-2_cpc_results.csv"


def influxhtm(*args, check=True):
    return subprocess.run(
        [sys.executable, "-m", "influxhtm.cli", *map(str, args)], capture_output=True, text=True, check=check
    )


def test_detect_output_equals_nupic_and_trace_has_golden_keys(tmp_path):
    out, trace = tmp_path / "out.csv", tmp_path / "trace.jsonl.gz"
    influxhtm("detect", CPC, "-o", out, "--trace", trace, "--quiet")
    _, golden = load_trace("exchange-2_cpc_results")
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "timestamp",
        "value",
        "anomaly_score",
        "raw_score",
        "anomaly_likelihood",
        "learning",
        "records_seen",
    ]
    probation = nab_probation(len(rows))
    assert [r["records_seen"] for r in rows] == [str(k) for k in range(1, len(rows) + 1)]
    assert [r["learning"] for r in rows] == ["true"] * probation + ["false"] * (len(rows) - probation)
    assert [r["timestamp"] for r in rows] == [g["t"] for g in golden]
    final_equal = sum(float(r["anomaly_score"]) == g["F1"] for r, g in zip(rows, golden))
    assert final_equal >= 0.99 * len(golden)
    with gzip.open(trace, "rt") as f:
        header = json.loads(f.readline())
        records = [json.loads(line) for line in f]
    assert header["rows"] == len(golden) == len(records)
    assert {"i", "t", "v", "b", "enc", "sp", "pc", "raw", "L1", "F1", "sp_anom", "segs", "syns"} <= set(records[0])
    assert [r["enc"] for r in records] == [g["enc"] for g in golden]


def test_detect_with_prediction_column(tmp_path):
    out = tmp_path / "out.csv"
    influxhtm("detect", CPC, "-o", out, "--predict", "1", "--quiet", "--min", "0", "--max", "2")
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert "prediction" in rows[0]
    assert all(r["prediction"] != "" for r in rows)


@pytest.mark.parametrize(
    "content, message",
    [
        ("time,value\n2020-01-01 00:00:00,1\n", "header"),
        ("timestamp,value\n2020-01-01 00:00:00,abc\n", "line 2: value 'abc' is not a number"),
        ("timestamp,value\n2020-01-01 00:00:00,1\nyesterday,2\n", "line 3: unrecognised timestamp"),
        ("timestamp,value\n2020-01-01 00:00:00,nan\n", "line 2: value 'nan' is not finite"),
        ("timestamp,value\n", "no data rows"),
    ],
)
def test_detect_reports_bad_rows(tmp_path, content, message):
    src = tmp_path / "in.csv"
    src.write_text(content)
    result = influxhtm("detect", src, "-o", tmp_path / "out.csv", check=False)
    assert result.returncode == 2
    assert message in result.stderr


def test_detect_scores_timestamps_going_back_like_nupic_and_warns(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("timestamp,value\n2020-01-01 00:05:00,1\n2020-01-01 00:00:00,2\n2020-01-01 00:10:00,3\n")
    result = influxhtm("detect", src, "-o", tmp_path / "out.csv", "--quiet")
    assert "line 3: timestamp 2020-01-01 00:00:00 goes back in time" in result.stderr
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 4


def test_nab_writes_results_layout_and_scores_it(tmp_path):
    data = tmp_path / "data"
    for category, name in [
        ("realAdExchange", "exchange-2_cpc_results.csv"),
        ("artificialNoAnomaly", "art_flatline.csv"),
    ]:
        (data / category).mkdir(parents=True)
        shutil.copy(NAB_DATA / category / name, data / category / name)
    run = influxhtm("nab", "--data", data, "--out", tmp_path / "results", "--jobs", "2", "--labels", NAB_LABELS)
    produced = sorted(p.relative_to(tmp_path / "results").as_posix() for p in (tmp_path / "results").rglob("*.csv"))
    assert produced == [
        "influxhtm/artificialNoAnomaly/influxhtm_art_flatline.csv",
        "influxhtm/realAdExchange/influxhtm_exchange-2_cpc_results.csv",
    ]
    assert "29 of 31 labelled files have no results" in run.stderr
    printed = re.search(r"NAB score: standard (\S+) / low FP (\S+) / low FN (\S+)", run.stdout)
    assert printed, run.stdout
    # The same results scored again by `nab-score`, at NAB's optimised thresholds and at a fixed one.
    results = tmp_path / "results" / "influxhtm"
    report = json.loads(
        influxhtm("nab-score", "--data", data, "--labels", NAB_LABELS, "--results", results, "--json").stdout
    )
    assert report["detector"] == "influxhtm" and report["windows"] == 1 and report["threshold"] == "optimised"
    assert [f"{report['scores'][p]:.2f}" for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate")] == list(
        printed.groups()
    )
    fixed = json.loads(
        influxhtm(
            "nab-score", "--data", data, "--labels", NAB_LABELS, "--results", results, "--json", "--threshold", "0.5"
        ).stdout
    )
    assert fixed["threshold"] == "fixed" and fixed["profiles"]["standard"]["threshold"] == 0.5


def test_nab_score_finds_the_labels_beside_the_data_and_reports_bad_input(tmp_path):
    results = tmp_path / "mine" / "realAdExchange"
    results.mkdir(parents=True)
    with open(CPC) as f:
        times = [row["timestamp"] for row in csv.DictReader(f)]
    (results / "mine_exchange-2_cpc_results.csv").write_text(
        "timestamp,anomaly_score\n" + "".join(f"{t},0.0\n" for t in times)
    )
    table = influxhtm("nab-score", "--data", NAB_DATA, "--results", tmp_path / "mine").stdout
    assert "NAB score: standard 0.00 / low FP 0.00 / low FN 0.00" in table  # the null detector
    (results / "mine_exchange-2_cpc_results.csv").write_text("timestamp,anomaly_score\n" + f"{times[0]},0.0\n")
    bad = influxhtm("nab-score", "--data", NAB_DATA, "--results", tmp_path / "mine", check=False)
    assert bad.returncode == 2 and f"1 rows, the data file has {len(times)}" in bad.stderr
    missing = influxhtm("nab", "--data", tmp_path, "--out", tmp_path / "out", "--score", check=False)
    assert missing.returncode == 2 and "combined_windows.json" in missing.stderr


@pytest.mark.slow
def test_nab_over_the_fixture_corpus_scores_as_nupic(tmp_path):
    # The README's figures: `influxhtm nab` over the 31 fixture files scores as NuPIC 1.0.5 does on them.
    run = influxhtm("nab", "--data", NAB_DATA, "--out", tmp_path, "--jobs", "2", "--score")
    assert "NAB score: standard 69.34 / low FP 61.15 / low FN 74.53" in run.stdout, run.stdout
