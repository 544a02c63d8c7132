"""Per-record parity of the whole detector with NuPIC 1.0.5 on every golden trace, through the public
Python API (the same path `influxhtm detect` and the UDF use)."""

import pytest

from influxhtm.htm import AnomalyDetector
from influxhtm.htm.timestamps import parse_timestamp
from tests.engine.golden import load_trace, trace_names

# The acceptance bars: encoder bits and SP columns on 100 % of records; raw and final scores on ≥ 99 %.
RAW_AND_FINAL_SHARE = 0.99


def run_trace(name, tail):
    header, records = load_trace(name)
    encoders = header["params"]["modelParams"]["sensorParams"]["encoders"]
    assert encoders["value"]["type"] == "RandomDistributedScalarEncoder"
    detector = AnomalyDetector(
        header["inputMin"],
        header["inputMax"],
        probation=int(header["probationaryPeriod"]),
        tail=tail,
        tm="tm" if header["tmImplementation"] == "tm_cpp" else "backtracking",
        prediction_steps=1 if header.get("classifier") else 0,
    )
    outputs = [detector.handle_traced(parse_timestamp(r["t"]), r["v"]) for r in records]
    return records, outputs


@pytest.mark.parametrize("name", trace_names())
def test_detector_matches_nupic(name):
    records, outputs = run_trace(name, "one-sided")
    n = len(records)
    enc_sp_mismatch = [
        r["i"] for r, (_, t) in zip(records, outputs) if t["enc"] != r["enc"] or t["sp"] != r["sp"] or t["b"] != r["b"]
    ]
    assert not enc_sp_mismatch, f"encoder/SP differ from NuPIC at records {enc_sp_mismatch[:10]}"
    raw_equal = sum(s.raw_score == r["raw"] for r, (s, _) in zip(records, outputs))
    final_equal = sum(s.anomaly_score == r["F1"] for r, (s, _) in zip(records, outputs))
    assert raw_equal >= RAW_AND_FINAL_SHARE * n, f"raw scores equal on {raw_equal}/{n} records"
    assert final_equal >= RAW_AND_FINAL_SHARE * n, f"final scores equal on {final_equal}/{n} records"
    spatial = [r["i"] for r, (_, t) in zip(records, outputs) if t["sp_anom"] != r["sp_anom"]]
    assert not spatial, f"spatial-anomaly flag differs at {spatial[:10]}"


@pytest.mark.parametrize("name", ["art_daily_jumpsup", "exchange-2_cpc_results"])
def test_two_sided_tail_matches_stock_nupic(name):
    records, outputs = run_trace(name, "two-sided")
    equal = sum(s.anomaly_likelihood == r["L2"] and s.anomaly_score == r["F2"] for r, (s, _) in zip(records, outputs))
    assert equal >= RAW_AND_FINAL_SHARE * len(records), f"two-sided L2/F2 equal on {equal}/{len(records)}"


def test_classifier_predictions_match_nupic():
    """The detector's `prediction` is NuPIC's best 1-step prediction on every record."""
    records, outputs = run_trace("art_daily_jumpsup-cl", "one-sided")
    assert [s.prediction for s, _ in outputs] == [r["best"] for r in records]
