"""`influxhtm detect` and `influxhtm nab` as a user runs them (the installed console script)."""

import csv
import gzip
import json
import shutil
import subprocess
import sys

import pytest

from tests.engine.golden import NAB_DATA, SHARED, load_trace

CPC = NAB_DATA / "realAdExchange" / "exchange-2_cpc_results.csv"


def influxhtm(*args, check=True):
    return subprocess.run([sys.executable, "-m", "influxhtm.cli", *map(str, args)], capture_output=True, text=True,
                          check=check)


def test_detect_output_equals_nupic_and_trace_has_golden_keys(tmp_path):
    out, trace = tmp_path / "out.csv", tmp_path / "trace.jsonl.gz"
    influxhtm("detect", CPC, "-o", out, "--trace", trace, "--quiet")
    _, golden = load_trace("exchange-2_cpc_results")
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "raw_score", "anomaly_likelihood"]
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


@pytest.mark.parametrize("content, message", [
    ("time,value\n2020-01-01 00:00:00,1\n", "header"),
    ("timestamp,value\n2020-01-01 00:00:00,abc\n", "line 2: value 'abc' is not a number"),
    ("timestamp,value\n2020-01-01 00:00:00,1\nyesterday,2\n", "line 3: unrecognised timestamp"),
    ("timestamp,value\n2020-01-01 00:00:00,nan\n", "line 2: value 'nan' is not finite"),
    ("timestamp,value\n", "no data rows"),
])
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


def test_nab_writes_results_layout_that_the_scorer_accepts(tmp_path):
    data = tmp_path / "data"
    for category, name in [("realAdExchange", "exchange-2_cpc_results.csv"), ("artificialNoAnomaly", "art_flatline.csv")]:
        (data / category).mkdir(parents=True)
        shutil.copy(NAB_DATA / category / name, data / category / name)
    influxhtm("nab", "--data", data, "--out", tmp_path / "results", "--jobs", "2")
    produced = sorted(p.relative_to(tmp_path / "results").as_posix() for p in (tmp_path / "results").rglob("*.csv"))
    assert produced == ["influxhtm/artificialNoAnomaly/influxhtm_art_flatline.csv",
                        "influxhtm/realAdExchange/influxhtm_exchange-2_cpc_results.csv"]
    score = subprocess.run([sys.executable, str(SHARED / "tools" / "nab_score.py"), "--data", str(data),
                            "--labels", str(SHARED / "nab" / "combined_windows.json"),
                            "--results", str(tmp_path / "results" / "influxhtm"), "--json"],
                           capture_output=True, text=True, check=True)
    assert "standard" in score.stdout
