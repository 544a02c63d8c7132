"""NuPIC's hotgym anomaly tutorial (one_gym) on influxhtm.nupic, record for record against NuPIC 1.0.5's trace
(tests/fixtures/golden/clients/one_gym.jsonl.gz): SP input bits, SP columns, predicted columns, raw score,
best prediction, prediction number and classifier bucket of all 4391 records; and our NuPIC-style example
program, which must reproduce the same scores and predictions."""

import csv
import datetime
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from influxhtm.nupic.frameworks.opf.model_factory import ModelFactory
from influxhtm.nupic.frameworks.opf.sensor_params import record_values

ROOT = Path(__file__).resolve().parents[2]
TRACE = ROOT / "tests/fixtures/golden/clients/one_gym.jsonl.gz"
EXAMPLE = ROOT / "examples/nupic_hotgym"


@pytest.fixture(scope="module")
def golden():
    with gzip.open(TRACE, "rt") as f:
        header, *records = (json.loads(line) for line in f)
    assert len(records) == header["rows"] == 4391
    return header, records


def _timestamp(text):
    return datetime.datetime.strptime(text, "%m/%d/%y %H:%M")


def test_every_record_matches_nupic(golden):
    header, records = golden
    model = ModelFactory.create(header["params"])
    model.enableInference(header["inferenceArgs"])
    engine = model._model()
    mismatches = []
    for r in records:
        fields = {"timestamp": _timestamp(r["t"]), "kw_energy_consumption": r["v"]}
        number = engine.record_num
        step, trace = engine.run_record(record_values(model._sensor, fields), True, True)
        got = {
            "enc": list(trace.encoding),
            "sp": list(trace.active_columns),
            "pc": list(trace.predicted_columns),
            "raw": float(numpy.float32(step.raw_score)),
            "best": step.best_prediction,
            "pn": number,
            "bucket": step.bucket,
        }
        wrong = [k for k, v in got.items() if v != r[k]]
        if wrong:
            mismatches.append((r["i"], wrong))
    assert mismatches == [], f"{len(mismatches)} records differ, first: {mismatches[:5]}"


def test_the_opf_result_carries_nupics_values(golden):
    header, records = golden
    model = ModelFactory.create(header["params"])
    model.enableInference(header["inferenceArgs"])
    for r in records[:300]:
        result = model.run({"timestamp": _timestamp(r["t"]), "kw_energy_consumption": r["v"]})
        assert result.predictionNumber == r["pn"]
        assert isinstance(result.inferences["anomalyScore"], numpy.float32)
        assert float(result.inferences["anomalyScore"]) == r["raw"]
        assert result.inferences["multiStepBestPredictions"] == {1: r["best"]}
        assert result.classifierInput.bucketIndex == r["bucket"]
        assert result.classifierInput.dataRow == r["v"]


def test_the_example_program_reproduces_nupics_records(golden, tmp_path):
    _, records = golden
    out = tmp_path / "hotgym_out.csv"
    subprocess.run(
        [sys.executable, str(EXAMPLE / "run.py"), str(EXAMPLE / "rec-center-hourly.csv"), str(out)], check=True
    )
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(records)
    for i, (row, r) in enumerate(zip(rows, records)):
        assert row["timestamp"] == r["t"]
        assert float(row["anomaly_score"]) == r["raw"], i
        # The shifter lines each prediction up with the record it predicts: the one made a record earlier.
        expected = "" if i == 0 else repr(records[i - 1]["best"])
        assert row["prediction"] == expected, i
        assert 0.0 <= float(row["anomaly_likelihood"]) <= 1.0
