"""NuPIC's OPF metrics (influxhtm.nupic.frameworks.opf.metrics and prediction_metrics_manager): the labels NuPIC
programs look results up by, the windowed error measures, the "uber" metrics, and a whole NuPIC-style run of the
hotgym model whose metric values are derived independently from NuPIC 1.0.5's recorded predictions."""

import gzip
import json
import math
import subprocess
import sys

import pytest

from influxhtm.nupic.data.field_meta import FieldMetaInfo
from influxhtm.nupic.frameworks.opf.metrics import MetricSpec, getModule
from influxhtm.nupic.frameworks.opf.model_factory import ModelFactory
from influxhtm.nupic.frameworks.opf.opf_utils import ClassifierInput, ModelResult, SensorInput
from influxhtm.nupic.frameworks.opf.prediction_metrics_manager import MetricsManager
from tests.nupic.test_one_gym import EXAMPLE, TRACE, _timestamp

FIELD = "kw_energy_consumption"


def _feed(metric, pairs):
    return [metric.addInstance(truth, prediction) for truth, prediction in pairs]


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        (MetricSpec("rmse", "prediction", "consumption"), "prediction:rmse:field=consumption"),
        (MetricSpec("rmse", "classification"), "classification:rmse"),
        (MetricSpec("rmse", "encodings", "pounds", params={"window": 100}), "encodings:rmse:window=100:field=pounds"),
        (
            MetricSpec("aae", "prediction", "pounds", params={"window": 100, "paramA": 10.2, "1paramB": 20}),
            "prediction:aae:1paramB=20:paramA=10.2:window=100:field=pounds",
        ),
        (
            MetricSpec(
                "multiStep", "multiStepBestPredictions", FIELD, {"errorMetric": "aae", "window": 1000, "steps": 1}
            ),
            f"multiStepBestPredictions:multiStep:errorMetric='aae':steps=1:window=1000:field={FIELD}",
        ),
    ],
)
def test_labels_are_nupics(spec, label):
    assert spec.getLabel() == label
    assert MetricSpec.getInferenceTypeFromLabel("TemporalMultiStep:" + label) == "TemporalMultiStep"
    assert MetricSpec.getInferenceTypeFromLabel(label) is None


def test_windowed_error_measures():
    pairs = [(1.0, 2.0), (4.0, 1.0), (2.0, 2.0), (10.0, 6.0)]
    window = {"window": 2}
    assert _feed(getModule(MetricSpec("aae", "prediction", params={})), pairs) == [1.0, 2.0, 4 / 3, 2.0]
    assert _feed(getModule(MetricSpec("aae", "prediction", params=window)), pairs) == [1.0, 2.0, 1.5, 2.0]
    rmse = _feed(getModule(MetricSpec("rmse", "prediction", params=window)), pairs)
    assert rmse == pytest.approx([1.0, math.sqrt(5), math.sqrt(4.5), math.sqrt(8)])
    nrmse = getModule(MetricSpec("nrmse", "prediction", params={}))
    assert _feed(nrmse, pairs[:1]) == [math.inf]  # one ground truth: no spread yet
    assert _feed(nrmse, pairs[1:2])[0] == pytest.approx(math.sqrt(5) / 1.5)
    assert _feed(getModule(MetricSpec("acc", "prediction", params={})), pairs) == [0.0, 0.0, 1 / 3, 0.25]
    assert _feed(getModule(MetricSpec("avg_err", "prediction", params={})), pairs) == [1.0, 1.0, 2 / 3, 0.75]
    # altMAPE: 100 x sum |error| / sum |truth| over the window
    alt = _feed(getModule(MetricSpec("altMAPE", "prediction", params=window)), pairs)
    assert alt == pytest.approx([100.0, 400 / 5, 300 / 6, 400 / 12])
    # MAPE skips a ground truth of 0
    mape = _feed(
        getModule(MetricSpec("MAPE", "prediction", params={"window": 10})), [(2.0, 1.0), (0.0, 5.0), (4.0, 5.0)]
    )
    assert mape == pytest.approx([50.0, 50.0, 37.5])


def test_missing_values_and_max_records_leave_the_value_alone():
    aae = getModule(MetricSpec("aae", "prediction", params={"maxRecords": 2}))
    assert _feed(aae, [(1.0, None), (None, 3.0), (1.0, 3.0), (2.0, 2.0), (9.0, 0.0)]) == [None, None, 2.0, 1.0, 1.0]
    assert aae.getMetric() == {"value": 1.0, "stats": {"steps": 2}}


def test_baseline_predictors():
    truths = [3.0, 5.0, 4.0, 8.0]
    trivial = getModule(MetricSpec("trivial", "prediction", params={"errorMetric": "aae"}))
    assert _feed(trivial, [(t, None) for t in truths]) == [None, 2.0, 1.5, 7 / 3]
    mean = getModule(MetricSpec("moving_mean", "prediction", params={"errorMetric": "aae", "mean_window": 2}))
    # predictions: mean of the last 2 earlier truths -> 3, 4, 4.5
    assert _feed(mean, [(t, None) for t in truths]) == [None, 2.0, 1.0, (2 + 0 + 3.5) / 3]
    mode = getModule(MetricSpec("moving_mode", "prediction", params={"errorMetric": "acc", "mode_window": 3}))
    # predictions: the most frequent of the last 3 earlier categories ("" before the first): "", a, a, a, a
    assert _feed(mode, [(c, None) for c in "aabab"]) == [0.0, 0.5, 1 / 3, 0.5, 0.4]
    passthru = getModule(MetricSpec("passThruPrediction", "prediction", params={"window": 2}))
    assert _feed(passthru, [(0, 1.0), (0, 3.0), (0, 7.0)]) == [1.0, 2.0, 5.0]


def test_the_baselines_default_step_shows_in_the_label_as_in_nupic():
    spec = MetricSpec("trivial", "prediction", FIELD, params={"errorMetric": "aae"})
    MetricsManager([spec], [FieldMetaInfo(FIELD, "float", "")], "TemporalMultiStep")
    assert spec.getLabel() == f"prediction:trivial:errorMetric='aae':steps=1:field={FIELD}"


def test_multi_step_metrics():
    spec = MetricSpec("multiStep", "multiStepBestPredictions", params={"errorMetric": "aae", "steps": [1, 3]})
    metric = getModule(spec)
    assert metric.addInstance(5.0, {1: None, 3: None}) == 0.0  # NuPIC reports 0 until it has predictions
    assert metric.addInstance(5.0, {1: 4.0, 3: None}) == 0.5  # the steps so far over the number of steps
    assert metric.addInstance(5.0, {1: 4.0, 3: {2.0: 0.7, 9.0: 0.3}}) == (1.0 + 3.0) / 2
    probability = getModule(
        MetricSpec("multiStepProbability", "multiStepPredictions", params={"errorMetric": "aae", "steps": [1]})
    )
    assert probability.addInstance(5.0, {1: {4.0: 0.75, 9.0: 0.25}}) == pytest.approx(0.75 * 1 + 0.25 * 4)


def test_negative_log_likelihood_of_the_true_bucket():
    metric = getModule(MetricSpec("negativeLogLikelihood", "multiStepBucketLikelihoods", params={"window": 5}))
    result = ModelResult(
        inferences={"multiStepBucketLikelihoods": {1: {3: 0.5, 4: 0.25}}}, classifierInput=ClassifierInput(1.0, 3)
    )
    assert metric.addInstance(1.0, {}, result=result) == pytest.approx(-math.log(0.5))
    result.classifierInput.bucketIndex = 7  # not predicted: the probability left over, 0.25
    assert metric.addInstance(1.0, {}, result=result) == pytest.approx((-math.log(0.5) - math.log(0.25)) / 2)


def test_refusals_name_the_problem():
    with pytest.raises(ValueError, match="Unsupported metric type: nope"):
        getModule(MetricSpec("nope", "prediction"))
    with pytest.raises(NotImplementedError, match="'neg_auc' is not supported"):
        getModule(MetricSpec("neg_auc", "prediction", params={}))
    with pytest.raises(ValueError, match="errorMetric"):
        getModule(MetricSpec("trivial", "prediction", params={}))
    with pytest.raises(ValueError, match="Invalid inference element"):
        MetricsManager([MetricSpec("aae", "", "x", params={})], [], "TemporalNextStep")


def test_the_manager_lines_a_temporal_prediction_up_with_the_record_it_predicts():
    fields = [FieldMetaInfo("temperature", "float", ""), FieldMetaInfo("consumption", "float", "")]
    manager = MetricsManager([MetricSpec("aae", "prediction", "consumption", params={})], fields, "TemporalNextStep")
    rows = [([9, 7], [12, 17]), ([12, 17], [14, 19]), ([14, 20], [16, 21]), ([9, 7], None)]
    for truth, prediction in rows:
        manager.update(ModelResult(sensorInput=SensorInput(dataRow=truth), inferences={"prediction": prediction}))
    # |17 - 17|, |20 - 19|, |7 - 21| (the last record's own prediction is never judged)
    assert manager.getMetrics() == {"prediction:aae:field=consumption": 15 / 3}
    assert manager.getMetricDetails("prediction:aae:field=consumption")["stats"] == {"steps": 3}


def _expected_hotgym_errors(records, window=1000):
    """Per record: the model's and the trivial predictor's 1-step aae and altMAPE over the last `window`
    judged records, computed from NuPIC's recorded best predictions."""
    out = []
    for t in range(len(records)):
        judged = range(max(1, t - window + 1), t + 1)
        if not judged:
            out.append((0.0, None, 0.0, None))
            continue
        truth = [records[s]["v"] for s in judged]
        model = [abs(records[s]["v"] - records[s - 1]["best"]) for s in judged]
        trivial = [abs(records[s]["v"] - records[s - 1]["v"]) for s in judged]
        n, total = len(truth), sum(truth)
        out.append((sum(model) / n, sum(trivial) / n, 100 * sum(model) / total, 100 * sum(trivial) / total))
    return out


def test_a_nupic_style_run_of_the_hotgym_model_reports_nupics_errors():
    with gzip.open(TRACE, "rt") as f:
        header, *records = (json.loads(line) for line in f)
    model = ModelFactory.create(header["params"])
    model.enableInference(header["inferenceArgs"])
    specs = [
        MetricSpec(
            field=FIELD,
            metric=kind,
            inferenceElement=element,
            params={"errorMetric": error, "window": 1000, "steps": 1},
        )
        for error in ("aae", "altMAPE")
        for kind, element in (("multiStep", "multiStepBestPredictions"), ("trivial", "prediction"))
    ]
    manager = MetricsManager(specs, model.getFieldInfo(), model.getInferenceType())
    labels = [spec.getLabel() for spec in specs]
    got = []
    for r in records:
        metrics = manager.update(model.run({"timestamp": _timestamp(r["t"]), FIELD: r["v"]}))
        got.append(tuple(metrics[label] for label in labels))
    expected = _expected_hotgym_errors(records)
    assert got[0] == expected[0]
    for t in range(1, len(records)):
        assert got[t] == pytest.approx(expected[t], rel=1e-9), t


def test_the_example_program_prints_the_errors():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE / "errors.py")], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert len(out) == 4391 // 100 + 1
    assert out[-1].startswith("After 4391 records, 1-step aae=")
    with gzip.open(TRACE, "rt") as f:
        _, *records = (json.loads(line) for line in f)
    model_aae, trivial_aae, model_mape, trivial_mape = _expected_hotgym_errors(records)[-1]
    assert out[-1] == (
        f"After 4391 records, 1-step aae={model_aae:.6f} (trivial {trivial_aae:.6f}), "
        f"altMAPE={model_mape:.6f} (trivial {trivial_mape:.6f})"
    )
