"""The NuPIC-compatible face: what NuPIC code does must work unchanged, and what we cannot reproduce
faithfully must be refused clearly."""

import datetime
import math
import subprocess
import sys

import numpy
import pytest

from influxhtm import _engine
from influxhtm.htm import (
    AnomalyDetector,
    AnomalyLikelihood,
    CorruptState,
    EngineError,
    EnginePanic,
    InvalidParams,
    ModelFactory,
    anomaly_params,
    nab_probation,
)
from influxhtm.htm.params import HISTORIC_WINDOW_SIZE, PROBATION_LIMIT, engine_config, nab_encoder_range
from influxhtm.htm.timestamps import parse_timestamp
from tests.engine.golden import load_trace


def test_anomaly_params_reproduce_nabs_numenta_params():
    header, _ = load_trace("art_daily_jumpsup")
    ours = anomaly_params(header["inputMin"], header["inputMax"])
    assert ours["modelParams"] == header["params"]["modelParams"]
    assert nab_encoder_range(header["inputMin"], header["inputMax"]) == (
        header["encoderMinVal"],
        header["encoderMaxVal"],
    )
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
    two = AnomalyLikelihood(
        learningPeriod=lk["learningPeriod"], estimationSamples=int(lk["estimationSamples"]), tail="two-sided"
    )
    for r in records:
        t = parse_timestamp(r["t"])
        assert one.anomalyProbability(r["v"], r["raw"], t) == r["L1"]
        assert two.anomalyProbability(r["v"], r["raw"], t) == r["L2"]
    assert AnomalyLikelihood.computeLogLikelihood(1.0) == 1.0
    assert AnomalyLikelihood.computeLogLikelihood(0.5) == 0.0301029996658834


def test_unsupported_params_are_refused():
    params = anomaly_params(0, 10)
    params["modelParams"]["spParams"]["globalInhibition"] = 0
    with pytest.raises(InvalidParams, match="globalInhibition"):
        ModelFactory.create(params)
    params = anomaly_params(0, 10)
    params["modelParams"]["sensorParams"]["encoders"]["value"]["type"] = "ScalarEncoder"
    with pytest.raises(InvalidParams, match="ScalarEncoder"):
        ModelFactory.create(params)
    params = anomaly_params(0, 10)
    params["modelParams"]["inferenceType"] = "TemporalMultiStep"
    with pytest.raises(InvalidParams, match="inferenceType"):
        ModelFactory.create(params)
    with pytest.raises(InvalidParams, match="predictedField"):
        ModelFactory.create(anomaly_params(0, 10)).enableInference({"predictedField": "other"})


def test_exception_hierarchy():
    """One base class; the two value-like errors are still ValueErrors for callers of the old binding."""
    assert issubclass(InvalidParams, EngineError) and issubclass(InvalidParams, ValueError)
    assert issubclass(CorruptState, EngineError) and issubclass(CorruptState, ValueError)
    assert issubclass(EnginePanic, EngineError) and not issubclass(EnginePanic, ValueError)
    assert issubclass(EngineError, Exception) and not issubclass(EngineError, ValueError)
    assert InvalidParams is _engine.InvalidParams and EnginePanic.__module__ == "influxhtm._engine"


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda p: p["sensorParams"]["encoders"]["value"].update(w=20), "w must be a positive odd number"),
        (lambda p: p["sensorParams"]["encoders"]["value"].update(n=100), r"6 \* w"),
        (lambda p: p["sensorParams"]["encoders"]["value"].update(n=10**6), "at most 65536"),
        (lambda p: p["sensorParams"]["encoders"]["value"].update(n=-5), "RdseParams.n"),
        (lambda p: p["sensorParams"]["encoders"]["timestamp_timeOfDay"].update(timeOfDay=[22, 9.49]), "odd"),
        (lambda p: (p["spParams"].update(columnCount=0), p["tmParams"].update(columnCount=0)), "column_count"),
        (lambda p: p["tmParams"].update(cellsPerColumn=1), "cells_per_column"),
        (lambda p: p.update(clEnable=True, clParams={"steps": "20000"}), "at most 10000"),
        (lambda p: p.update(clEnable=True, clParams={"steps": "1", "alpha": -1.0}), "alpha"),
    ],
)
def test_engine_parameter_validation_raises_invalid_params_never_panics(change, words):
    """Values only the engine can judge are refused by the engine itself, with InvalidParams naming them."""
    params = anomaly_params(0, 10)
    change(params["modelParams"])
    with pytest.raises(InvalidParams, match=words):
        ModelFactory.create(params)


def test_model_config_names_a_missing_or_ill_typed_key():
    config_dict = {"type": "rdse", "resolution": 1.0, "w": 21, "n": 400}
    with pytest.raises(InvalidParams, match=r"encoders\[0\].*seed"):
        _engine.ModelConfig(encoders=[config_dict], sp={}, sequence_memory={"type": "backtracking"})
    with pytest.raises(InvalidParams, match="unknown encoder type 'scalar'"):
        _engine.ModelConfig(encoders=[{"type": "scalar"}], sp={}, sequence_memory={})
    with pytest.raises(InvalidParams, match="sp: KeyError: 'column_count'"):
        _engine.ModelConfig(encoders=[], sp={}, sequence_memory={"type": "backtracking"})


@pytest.mark.parametrize("probation", [20_000, 10**9, PROBATION_LIMIT + 1, -1, 1.5, "750", True])
def test_detector_probation_out_of_range_is_invalid_params(probation):
    """probation 20000 used to panic in the engine: its estimation half exceeds the likelihood's window."""
    with pytest.raises(InvalidParams, match=f"probation must be an integer from 0 to {PROBATION_LIMIT}"):
        AnomalyDetector(0, 100, probation=probation)


def test_detector_probation_limits_work():
    t0 = datetime.datetime(2020, 1, 1)
    for probation in (0, PROBATION_LIMIT):
        detector = AnomalyDetector(0, 100, probation=probation)
        scores = [detector.handle(t0 + datetime.timedelta(minutes=5 * i), float(i % 7)) for i in range(3)]
        assert all(0.0 <= s.anomaly_likelihood <= 1.0 for s in scores)


def test_likelihood_parameters_the_engine_cannot_use_are_invalid_params():
    for kwargs, words in [
        ({"learningPeriod": 10_000, "estimationSamples": 10_000}, "exceeds historic_window_size"),
        ({"reestimationPeriod": 0}, "reestimation_period"),
        ({"learningPeriod": -1}, "learningPeriod"),
        ({"estimationSamples": math.inf}, "estimationSamples"),
        ({"tail": "both"}, "tail"),
    ]:
        with pytest.raises(InvalidParams, match=words):
            AnomalyLikelihood(**kwargs)
    with pytest.raises(InvalidParams, match="exceeds historic_window_size"):
        _engine.LikelihoodParams(
            learning_period=10_000,
            estimation_samples=HISTORIC_WINDOW_SIZE + 1,
            historic_window_size=HISTORIC_WINDOW_SIZE,
            reestimation_period=100,
            tail="one-sided",
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_value": -1e308, "max_value": 1e308},
        {"min_value": 0, "max_value": math.inf},
        {"min_value": 0, "max_value": 10, "resolution": math.nan},
        {"min_value": 0, "max_value": 10, "resolution": 0.0},
        {"min_value": 0, "max_value": 10, "prediction_steps": -1},
        {"min_value": 0, "max_value": 10, "tm": "cells4"},
    ],
)
def test_detector_range_resolution_and_steps_are_validated(kwargs):
    with pytest.raises(InvalidParams):
        AnomalyDetector(**kwargs)


def test_engine_results_are_typed_read_only_objects():
    config, _, _ = engine_config(anomaly_params(0, 10, prediction_steps=1))
    likelihood = _engine.LikelihoodParams(
        learning_period=5, estimation_samples=5, historic_window_size=100, reestimation_period=10, tail="two-sided"
    )
    assert (likelihood.probation, likelihood.tail) == (10, "two-sided")
    detector = _engine.Detector(config, likelihood)
    scores = detector.handle(0, 3.0)
    assert isinstance(scores, _engine.DetectorScores)
    assert (scores.raw_score, scores.anomaly_likelihood, scores.spatial_anomaly, scores.bucket) == (
        1.0,
        0.5,
        False,
        500,
    )
    with pytest.raises(AttributeError):
        scores.raw_score = 0.0
    scores, trace = detector.handle_traced(60, 4.0)
    assert isinstance(trace, _engine.StepTrace) and len(trace.encoding) == 42 and len(trace.active_columns) == 40
    model = _engine.Model(config)
    step = model.run(0, 3.0)
    assert isinstance(step, _engine.StepResult) and step.bucket == 500 and step.raw_score == 1.0
    assert model.run(60, 3.0).predictions[0][1] > 0
    assert [s.bucket for s in detector.handle_many([120, 180], [3.0, 5.0])] == [500, 519]  # resolution 14 / 130
    with pytest.raises(InvalidParams, match="record 1: value must be a finite number"):
        detector.handle_many([240, 300, 360], [3.0, math.nan, 4.0])
    assert detector.records_seen == 5


def test_importing_the_engine_face_does_not_import_numpy():
    code = "import sys, influxhtm.htm, influxhtm.udf; assert 'numpy' not in sys.modules, 'numpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_detector_rejects_bad_values_without_changing_state():
    detector = AnomalyDetector(0, 100)
    t0 = datetime.datetime(2020, 1, 1)
    detector.handle(t0, 50.0)
    before = detector.save()
    for bad in (math.nan, math.inf, -math.inf, "12", None, True, 10**400):
        with pytest.raises(InvalidParams):
            detector.handle(t0 + datetime.timedelta(minutes=5), bad)
    assert detector.save() == before
    with pytest.raises(InvalidParams):
        AnomalyDetector(0, 100, tail="sideways")
    with pytest.raises(InvalidParams):
        AnomalyDetector(math.nan, 100)
    with pytest.raises(InvalidParams):
        AnomalyDetector(10, 0)


def test_model_with_missing_value_encodes_nothing_like_nupic():
    model = ModelFactory.create(anomaly_params(0, 10))
    t = datetime.datetime(2020, 1, 1)
    result = model.run({"timestamp": t, "value": None})
    assert float(result.inferences["anomalyScore"]) == 1.0
    with pytest.raises(InvalidParams, match="finite"):
        model.run({"timestamp": t, "value": math.inf})
    with pytest.raises(InvalidParams, match="timestamp"):
        model.run({"value": 1.0})


def test_timestamps_are_wall_clock():
    aware = datetime.datetime(2020, 1, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    naive = datetime.datetime(2020, 1, 1, 12, 0)
    a, b = AnomalyDetector(0, 10), AnomalyDetector(0, 10)
    assert a.handle_traced(aware, 1.0)[1]["enc"] == b.handle_traced(naive, 1.0)[1]["enc"]
