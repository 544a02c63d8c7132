"""influxhtm.nupic.algorithms.anomaly_likelihood: stock NuPIC 1.0.5's likelihood (two-sided tail), the
streaming class on the engine and the batch functions in numpy (spec/htm.md 3.8)."""

import datetime
import math
import pickle
import random

import numpy as np
import pytest

from influxhtm.htm import likelihood as engine_likelihood
from influxhtm.nupic.algorithms import anomaly_likelihood as al
from influxhtm.nupic.algorithms.anomaly_likelihood import (
    AnomalyLikelihood,
    estimateAnomalyLikelihoods,
    estimateNormal,
    isValidEstimatorParams,
    nullDistribution,
    tailProbability,
    updateAnomalyLikelihoods,
)

RED = 1.0 - 0.99999
YELLOW = 1.0 - 0.999


def q(z):
    """The spec's upper tail for z standard deviations above the mean (1.4142 for sqrt(2))."""
    return 0.5 * math.erfc(z / 1.4142)


def _params(mean, stdev, window_size=10, history=(), total=0.0, likelihoods=None):
    params = {
        "distribution": {"name": "normal", "mean": mean, "variance": stdev**2, "stdev": stdev},
        "movingAverage": {"windowSize": window_size, "historicalValues": list(history), "total": total},
    }
    if likelihoods is not None:
        params["historicalLikelihoods"] = list(likelihoods)
    return params


def _stream(n, seed=3):
    """[timestamp, value, raw score] records: float32 scores, mostly low, with bursts of surprise."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        score = 1.0 if i % 250 in (200, 201, 202) else float(np.float32(rng.random() ** 4))
        records.append([datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=5 * i), rng.random() * 10, score])
    return records


def _nupic_class_from_batch_functions(records, learning, estimation, window, reestimation):
    """What NuPIC's AnomalyLikelihood computes, written out in terms of the module functions it calls."""
    history, params, out = [], None, []
    for iteration, record in enumerate(records):
        if iteration < learning + estimation:
            out.append(0.5)
        else:
            if params is None or iteration % reestimation == 0:
                skip = min(iteration, max(0, learning - max(0, iteration - window)))
                _, _, params = estimateAnomalyLikelihoods(history[-window:], skipRecords=skip)
            likelihoods, _, params = updateAnomalyLikelihoods([record], params)
            out.append(1.0 - likelihoods[0])
        history.append(record)
    return out


# ---- tail probability, normal fit, null distribution --------------------------------------------------


def test_tail_probability_is_two_sided():
    distribution = {"mean": 0.5, "stdev": 0.1}
    assert tailProbability(0.5, distribution) == 0.5
    assert tailProbability(0.7, distribution) == pytest.approx(q(2.0), rel=1e-12)
    # below the mean: mirrored, equally unlikely (not 1 - q as in the one-sided convention)
    assert tailProbability(0.3, distribution) == pytest.approx(q(2.0), rel=1e-12)
    assert tailProbability(0.3, distribution) < 0.05


def test_tail_probability_needs_mean_and_stdev():
    with pytest.raises(RuntimeError):
        tailProbability(0.5, {"mean": 0.5, "variance": 1.0})
    with pytest.raises(RuntimeError):
        tailProbability(0.5, {"stdev": 1.0})


def test_estimate_normal():
    fitted = estimateNormal(np.array([1.0, 3.0]))
    assert (fitted["name"], fitted["mean"], fitted["variance"], fitted["stdev"]) == ("normal", 2.0, 1.0, 1.0)
    # the lower bounds: mean >= 0.03, variance >= 0.0003
    clamped = estimateNormal(np.zeros(4))
    assert (clamped["mean"], clamped["variance"]) == (0.03, 0.0003)
    assert clamped["stdev"] == pytest.approx(math.sqrt(0.0003))
    raw = estimateNormal(np.zeros(4), performLowerBoundCheck=False)
    assert (raw["mean"], raw["variance"], raw["stdev"]) == (0.0, 0.0, 0)


def test_null_distribution():
    assert nullDistribution() == {"name": "normal", "mean": 0.5, "variance": 1e6, "stdev": 1e3}


def test_is_valid_estimator_params():
    assert isValidEstimatorParams(_params(0.5, 0.1))
    assert not isValidEstimatorParams([])
    assert not isValidEstimatorParams({"distribution": nullDistribution()})
    assert not isValidEstimatorParams({"movingAverage": {}})
    incomplete = _params(0.5, 0.1)
    del incomplete["distribution"]["variance"]
    assert not isValidEstimatorParams(incomplete)


# ---- estimateAnomalyLikelihoods -------------------------------------------------------------------------


def test_estimate_shapes_moving_average_and_params():
    scores = [1.0, 0.0, 0.0, 1.0, 0.5]
    records = [[t, float(t), s] for t, s in enumerate(scores)]
    likelihoods, averaged, params = estimateAnomalyLikelihoods(records, averagingWindow=2)
    # a 2-record moving average, over 1 record at the start
    assert averaged == [[0, 0.0, 1.0], [1, 1.0, 0.5], [2, 2.0, 0.0], [3, 3.0, 0.5], [4, 4.0, 0.75]]
    assert isinstance(likelihoods, np.ndarray) and likelihoods.shape == (5,)
    averages = np.array([1.0, 0.5, 0.0, 0.5, 0.75])
    mean, variance = averages.mean(), averages.var()
    assert params["distribution"]["name"] == "normal"
    assert params["distribution"]["mean"] == pytest.approx(mean)
    assert params["distribution"]["variance"] == pytest.approx(variance)
    assert params["distribution"]["stdev"] == pytest.approx(math.sqrt(variance))
    assert params["movingAverage"] == {"historicalValues": [1.0, 0.5], "total": 1.5, "windowSize": 2}
    expected = [q(abs(a - mean) / math.sqrt(variance)) for a in averages]
    assert params["historicalLikelihoods"] == pytest.approx(expected[-2:], rel=1e-12)
    assert likelihoods == pytest.approx(expected, rel=1e-12)  # nothing in the red zone: unfiltered


def test_estimate_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="at least one"):
        estimateAnomalyLikelihoods([])


def test_estimate_skips_malformed_records():
    records = [[0, 1.0, 0.5], "junk", [1, 2.0], (2, 3.0, 0.25)]
    likelihoods, averaged, _ = estimateAnomalyLikelihoods(records)
    assert averaged == [[0, 1.0, 0.5], [2, 3.0, 0.375]]
    assert len(likelihoods) == 2


def test_skip_records_at_or_beyond_the_data_give_the_null_distribution():
    records = [[t, float(t), 0.1 * (t % 3)] for t in range(20)]
    _, _, params = estimateAnomalyLikelihoods(records, skipRecords=20)
    assert params["distribution"] == nullDistribution()
    _, _, fitted = estimateAnomalyLikelihoods(records, skipRecords=18)  # one value left would be "flat"
    assert fitted["distribution"] != nullDistribution()


def test_skip_records_leave_the_first_averages_out_of_the_fit():
    records = [[t, float(t), 1.0 if t < 5 else 0.5] for t in range(30)]
    _, _, params = estimateAnomalyLikelihoods(records, averagingWindow=1, skipRecords=5)
    assert params["distribution"]["mean"] == 0.5
    assert params["distribution"]["variance"] == 0.0003  # all 0.5 after the skip: clamped


def test_flat_metric_gets_the_null_distribution_unless_values_are_not_numbers():
    flat = [[t, 7.0, 0.9 if t % 4 == 0 else 0.1] for t in range(40)]
    _, _, params = estimateAnomalyLikelihoods(flat)
    assert params["distribution"] == nullDistribution()
    categories = [[t, "on", s] for t, _, s in flat]
    _, _, params = estimateAnomalyLikelihoods(categories)
    assert params["distribution"] != nullDistribution()


def test_estimate_filters_a_run_of_red_zone_likelihoods():
    # 49 scores of 0 and then 1.0, 1.0 with window 1: two averages far above the mean in a row
    records = [[t, float(t), 0.0] for t in range(49)] + [[49, 49.0, 1.0], [50, 50.0, 1.0]]
    likelihoods, _, params = estimateAnomalyLikelihoods(records, averagingWindow=1)
    unfiltered = params["historicalLikelihoods"]
    assert len(unfiltered) == 1 and unfiltered[0] <= RED
    assert likelihoods[-2] <= RED  # the first of the run is reported
    assert likelihoods[-1] == YELLOW  # the second becomes 1 - 0.999


# ---- updateAnomalyLikelihoods ---------------------------------------------------------------------------


def test_update_scores_with_the_given_distribution_and_filters_runs():
    params = _params(0.03, 0.01, window_size=1, likelihoods=[0.5])
    records = [[0, 1.0, 1.0], [1, 1.0, 1.0], [2, 1.0, 0.03], [3, 1.0, 0.05]]
    likelihoods, averages, new = updateAnomalyLikelihoods(records, params)
    assert list(averages) == [1.0, 1.0, 0.03, 0.05]
    assert likelihoods[0] == pytest.approx(q(97.0), abs=1e-300)
    assert likelihoods[1] == YELLOW
    assert likelihoods[2] == 0.5
    assert likelihoods[3] == pytest.approx(q(2.0), rel=1e-12)
    assert new["distribution"] == params["distribution"]
    assert new["movingAverage"] == {"historicalValues": [0.05], "total": pytest.approx(0.05), "windowSize": 1}
    assert new["historicalLikelihoods"] == [pytest.approx(q(2.0), rel=1e-12)]


def test_update_continues_the_moving_average_of_estimate():
    records = _stream(40)
    _, _, params = estimateAnomalyLikelihoods(records[:25])
    _, averages, _ = updateAnomalyLikelihoods(records[25:], params)
    scores = np.array([r[2] for r in records])
    expected = [scores[t - 9 : t + 1].mean() for t in range(25, 40)]
    assert averages == pytest.approx(expected, rel=1e-12)


def test_update_keeps_its_input_params_and_chains():
    records = _stream(60)
    _, _, params = estimateAnomalyLikelihoods(records[:30])
    before = pickle.dumps(params)
    one_go, _, _ = updateAnomalyLikelihoods(records[30:], params)
    assert pickle.dumps(params) == before
    first, _, middle = updateAnomalyLikelihoods(records[30:45], params)
    second, _, _ = updateAnomalyLikelihoods(records[45:], middle)
    assert list(np.concatenate([first, second])) == list(one_go)


def test_update_without_historical_likelihoods_starts_the_filter_from_one():
    params = _params(0.5, 0.1)
    likelihoods, _, new = updateAnomalyLikelihoods([[0, 1.0, 0.5]], params)
    assert likelihoods[0] == 0.5
    assert new["historicalLikelihoods"] == [1.0, 0.5]


def test_update_rejects_empty_batches_and_bad_params():
    with pytest.raises(ValueError, match="at least one"):
        updateAnomalyLikelihoods([], _params(0.5, 0.1))
    with pytest.raises(ValueError, match="not a valid params"):
        updateAnomalyLikelihoods([[0, 1.0, 0.5]], {"distribution": nullDistribution()})


# ---- the streaming class --------------------------------------------------------------------------------


def test_probation_is_learning_period_plus_estimation_samples():
    likelihood = AnomalyLikelihood(learningPeriod=30, estimationSamples=20)
    out = [likelihood.anomalyProbability(r[1], r[2], r[0]) for r in _stream(60)]
    assert out[:50] == [0.5] * 50
    assert all(p != 0.5 for p in out[50:])


def test_class_agrees_with_the_batch_functions_as_nupic_uses_them():
    records = _stream(1500)
    likelihood = AnomalyLikelihood(
        learningPeriod=50, estimationSamples=50, historicWindowSize=400, reestimationPeriod=37
    )
    streamed = [likelihood.anomalyProbability(r[1], r[2], r[0]) for r in records]
    reference = _nupic_class_from_batch_functions(records, 50, 50, 400, 37)
    # the engine's erfc is Python 2.7's; math.erfc may differ in the last bit
    assert streamed == pytest.approx(reference, abs=1e-12)
    assert max(streamed) > 0.999  # the bursts are flagged


def test_class_is_the_engine_likelihood_with_the_two_sided_tail():
    records = _stream(1200)
    nupic = AnomalyLikelihood(learningPeriod=100, estimationSamples=100)
    engine = engine_likelihood.AnomalyLikelihood(learningPeriod=100, estimationSamples=100, tail="two-sided")
    assert [nupic.anomalyProbability(r[1], r[2], r[0]) for r in records] == [
        engine.anomalyProbability(r[1], r[2], r[0]) for r in records
    ]


def test_scores_far_below_the_mean_are_unlikely_under_the_two_sided_tail():
    rng = random.Random(5)
    records = [[t, rng.random(), 0.4 + 0.2 * rng.random()] for t in range(300)] + [
        [t, rng.random(), 0.0] for t in range(300, 320)
    ]
    nupic = AnomalyLikelihood(learningPeriod=50, estimationSamples=50)
    one_sided = engine_likelihood.AnomalyLikelihood(learningPeriod=50, estimationSamples=50, tail="one-sided")
    two = [nupic.anomalyProbability(v, s) for _, v, s in records]
    one = [one_sided.anomalyProbability(v, s) for _, v, s in records]
    assert max(two[300:]) > 0.999
    assert max(one[300:]) < 0.5


def test_constructor_errors_and_deprecated_learning_period():
    with pytest.raises(ValueError, match="estimationSamples exceeds historicWindowSize"):
        AnomalyLikelihood(estimationSamples=200, historicWindowSize=100)
    with pytest.warns(DeprecationWarning, match="claLearningPeriod"):
        likelihood = AnomalyLikelihood(claLearningPeriod=10, learningPeriod=500, estimationSamples=5)
    out = [likelihood.anomalyProbability(v, s) for _, v, s in _stream(20)]
    assert out[:15] == [0.5] * 15 and out[15] != 0.5


def test_any_timestamp_and_value_are_accepted_and_timestamps_do_not_matter():
    records = _stream(400)
    stamps = [None, 7, "not a date", datetime.date(2020, 1, 1), datetime.datetime(2020, 1, 1, 12)]
    outputs = []
    for stamp in stamps:
        likelihood = AnomalyLikelihood(learningPeriod=50, estimationSamples=50)
        outputs.append([likelihood.anomalyProbability(v, s, stamp) for _, v, s in records])
    assert all(out == outputs[0] for out in outputs)
    categorical = AnomalyLikelihood(learningPeriod=5, estimationSamples=5)
    assert all(0.0 <= categorical.anomalyProbability("red", s) <= 1.0 for _, _, s in records[:50])


def test_non_numeric_values_turn_the_flat_metric_rule_off():
    records = [[t, 3.0, 0.9 if t % 4 == 0 else 0.1] for t in range(300)]
    flat = AnomalyLikelihood(learningPeriod=50, estimationSamples=50)
    labelled = AnomalyLikelihood(learningPeriod=50, estimationSamples=50)
    flat_out = [flat.anomalyProbability(v, s) for _, v, s in records]
    labelled_out = [labelled.anomalyProbability("label", s) for _, _, s in records]
    # null distribution (mean 0.5, stdev 1000): every likelihood stays within 1e-3 of 0.5
    assert all(abs(p - 0.5) < 1e-3 for p in flat_out[100:])
    assert labelled_out[100:] == pytest.approx(
        _nupic_class_from_batch_functions([[t, "label", s] for t, _, s in records], 50, 50, 8640, 100)[100:],
        abs=1e-12,
    )
    assert any(abs(p - 0.5) > 0.1 for p in labelled_out[100:])


def test_compute_log_likelihood():
    assert AnomalyLikelihood.computeLogLikelihood(0.5) == pytest.approx(math.log(0.5000000001) / math.log(1e-10))
    assert AnomalyLikelihood.computeLogLikelihood(1.0) == pytest.approx(1.0)
    assert AnomalyLikelihood.computeLogLikelihood(0.9999) == pytest.approx(math.log(0.0001000001) / math.log(1e-10))


def test_equality_follows_the_state():
    a, b = AnomalyLikelihood(), AnomalyLikelihood()
    assert a == b
    assert a != AnomalyLikelihood(learningPeriod=10)
    a.anomalyProbability(1.0, 0.5, 0)
    assert a != b
    b.anomalyProbability(1.0, 0.5, 0)
    assert a == b
    assert a != "AnomalyLikelihood"


def test_str_names_the_parameters():
    text = str(AnomalyLikelihood(learningPeriod=12, estimationSamples=8, reestimationPeriod=5))
    assert text.startswith("AnomalyLikelihood:")
    for part in ("learningPeriod=12", "probationaryPeriod=20", "historicWindowSize=8640", "reestimationPeriod=5"):
        assert part in text


def test_pickle_round_trip_continues_the_stream():
    records = _stream(500)
    original = AnomalyLikelihood(learningPeriod=50, estimationSamples=50)
    for _, v, s in records[:300]:
        original.anomalyProbability(v, s)
    restored = pickle.loads(pickle.dumps(original))
    assert restored == original
    assert [restored.anomalyProbability(v, s) for _, v, s in records[300:]] == [
        original.anomalyProbability(v, s) for _, v, s in records[300:]
    ]
    assert str(restored) == str(original)


def test_module_exposes_nupics_public_names():
    for name in (
        "AnomalyLikelihood",
        "estimateAnomalyLikelihoods",
        "updateAnomalyLikelihoods",
        "estimateNormal",
        "nullDistribution",
        "tailProbability",
        "isValidEstimatorParams",
    ):
        assert callable(getattr(al, name))
