"""The NuPIC-compatible face: what NuPIC code does must work unchanged, and what we cannot reproduce
faithfully must be refused clearly."""

import datetime
import math

import numpy
import pytest

from influxhtm.htm import AnomalyDetector, AnomalyLikelihood, ModelFactory, anomaly_params, nab_probation
from influxhtm.htm.params import nab_encoder_range
from influxhtm.htm.timestamps import parse_timestamp

from tests.engine.golden import load_trace


def test_anomaly_params_reproduce_nabs_numenta_params():
    header, _ = load_trace("art_daily_jumpsup")
    ours = anomaly_params(header["inputMin"], header["inputMax"])
    assert ours["modelParams"] == header["params"]["modelParams"]
    assert nab_encoder_range(header["inputMin"], header["inputMax"]) == (header["encoderMinVal"], header["encoderMaxVal"])
    assert nab_probation(header["rows"]) == header["probationaryPeriod"]


def test_opf_model_matches_golden_raw_scores_and_predictions():
    header, records = load_trace("art_daily_jumpsup-cl")
    model = ModelFactory.create(header["params"])
    model.enableInference({"predictedField": "value"})
    for r in records:
        result = model.run({"timestamp": parse_timestamp(r["t"]), "value": r["v"]})
        assert result.predictionNumber == r["i"]
        assert isinstance(result.inferences["anomalyScore"], numpy.float32)
        assert float(result.inferences["anomalyScore"]) == r["raw"]
        assert result.inferences["multiStepBestPredictions"][1] == r["best"]
        probs = sorted(result.inferences["multiStepPredictions"][1].items(), key=lambda kv: (-kv[1], kv[0]))
        assert [list(p) for p in probs] == r["preds"]


def test_likelihood_class_matches_golden():
    header, records = load_trace("exchange-2_cpc_results")
    lk = header["likelihood"]
    one = AnomalyLikelihood(learningPeriod=lk["learningPeriod"], estimationSamples=int(lk["estimationSamples"]))
    two = AnomalyLikelihood(learningPeriod=lk["learningPeriod"], estimationSamples=int(lk["estimationSamples"]),
                            tail="two-sided")
    for r in records:
        t = parse_timestamp(r["t"])
        assert one.anomalyProbability(r["v"], r["raw"], t) == r["L1"]
        assert two.anomalyProbability(r["v"], r["raw"], t) == r["L2"]
    assert AnomalyLikelihood.computeLogLikelihood(1.0) == 1.0
    assert AnomalyLikelihood.computeLogLikelihood(0.5) == 0.0301029996658834


def test_unsupported_params_are_refused():
    params = anomaly_params(0, 10)
    params["modelParams"]["spParams"]["globalInhibition"] = 0
    with pytest.raises(ValueError, match="globalInhibition"):
        ModelFactory.create(params)
    params = anomaly_params(0, 10)
    params["modelParams"]["sensorParams"]["encoders"]["value"]["type"] = "ScalarEncoder"
    with pytest.raises(ValueError, match="ScalarEncoder"):
        ModelFactory.create(params)
    params = anomaly_params(0, 10)
    params["modelParams"]["inferenceType"] = "TemporalMultiStep"
    with pytest.raises(ValueError, match="inferenceType"):
        ModelFactory.create(params)
    with pytest.raises(ValueError, match="predictedField"):
        ModelFactory.create(anomaly_params(0, 10)).enableInference({"predictedField": "other"})


def test_detector_rejects_bad_values_without_changing_state():
    detector = AnomalyDetector(0, 100)
    t0 = datetime.datetime(2020, 1, 1)
    detector.handle(t0, 50.0)
    before = detector.save()
    for bad in (math.nan, math.inf, -math.inf, "12", None, True):
        with pytest.raises((ValueError, TypeError)):
            detector.handle(t0 + datetime.timedelta(minutes=5), bad)
    assert detector.save() == before
    with pytest.raises(ValueError):
        AnomalyDetector(0, 100, tail="sideways")
    with pytest.raises(ValueError):
        AnomalyDetector(math.nan, 100)
    with pytest.raises(ValueError):
        AnomalyDetector(10, 0)


def test_model_with_missing_value_encodes_nothing_like_nupic():
    model = ModelFactory.create(anomaly_params(0, 10))
    t = datetime.datetime(2020, 1, 1)
    result = model.run({"timestamp": t, "value": None})
    assert float(result.inferences["anomalyScore"]) == 1.0
    with pytest.raises(ValueError, match="finite"):
        model.run({"timestamp": t, "value": math.inf})
    with pytest.raises(ValueError, match="timestamp"):
        model.run({"value": 1.0})


def test_timestamps_are_wall_clock():
    aware = datetime.datetime(2020, 1, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    naive = datetime.datetime(2020, 1, 1, 12, 0)
    a, b = AnomalyDetector(0, 10), AnomalyDetector(0, 10)
    assert a.handle_traced(aware, 1.0)[1]["enc"] == b.handle_traced(naive, 1.0)[1]["enc"]
