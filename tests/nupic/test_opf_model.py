"""NuPIC's OPF model surface under influxhtm.nupic: model shapes, inference types, the Model API and the
errors that name what is not supported."""

import copy
import datetime

import numpy
import pytest

from influxhtm._engine import InvalidParams
from influxhtm.nupic.data.field_meta import FieldMetaSpecial
from influxhtm.nupic.frameworks.opf.model_factory import ModelFactory
from influxhtm.nupic.frameworks.opf.opf_utils import InferenceType

START = datetime.datetime(2024, 3, 4)


def _params(inference_type="TemporalAnomaly", steps="1", **encoders):
    base = {
        "value": {
            "type": "ScalarEncoder",
            "fieldname": "value",
            "name": "value",
            "w": 21,
            "minval": 0.0,
            "maxval": 100.0,
            "n": 120,
            "clipInput": True,
        },
        "timestamp_timeOfDay": {
            "type": "DateEncoder",
            "fieldname": "timestamp",
            "name": "timestamp",
            "timeOfDay": [21, 4.0],
        },
    }
    base.update(encoders)
    return {
        "model": "HTMPrediction",
        "version": 1,
        "modelParams": {
            "inferenceType": inference_type,
            "sensorParams": {"verbosity": 0, "encoders": base, "sensorAutoReset": None},
            "spEnable": True,
            "spParams": {"columnCount": 2048, "globalInhibition": 1, "numActiveColumnsPerInhArea": 40,
                         "potentialPct": 0.8, "synPermConnected": 0.1, "synPermActiveInc": 0.05,
                         "synPermInactiveDec": 0.005, "boostStrength": 0.0, "seed": 1956, "inputWidth": 0},
            "tmEnable": True,
            "tmParams": {"columnCount": 2048, "cellsPerColumn": 32, "activationThreshold": 12, "minThreshold": 9,
                         "newSynapseCount": 20, "initialPerm": 0.21, "permanenceInc": 0.1, "permanenceDec": 0.1,
                         "maxSynapsesPerSegment": 32, "maxSegmentsPerCell": 128, "pamLength": 1, "seed": 1960,
                         "temporalImp": "cpp", "globalDecay": 0.0, "maxAge": 0},
            "clParams": {"regionName": "SDRClassifierRegion", "alpha": 0.05, "steps": steps},
            "anomalyParams": {"autoDetectWaitRecords": None, "autoDetectThreshold": None},
        },
    }  # fmt: skip


def _record(i, value=None):
    return {"timestamp": START + datetime.timedelta(hours=i), "value": (i % 6) * 15.0 if value is None else value}


def _model(params=None, predicted="value"):
    model = ModelFactory.create(params or _params())
    model.enableInference({"predictedField": predicted})
    return model


def test_multi_step_model_predicts_every_step_and_reports_no_anomaly_score():
    model = _model(_params("TemporalMultiStep", steps="1,5"))
    for i in range(300):
        result = model.run(_record(i))
    assert "anomalyScore" not in result.inferences
    assert set(result.inferences["multiStepPredictions"]) == {1, 5}
    for step, by_value in result.inferences["multiStepPredictions"].items():
        assert 0 < len(by_value) <= 8
        assert sum(by_value.values()) <= 1.0 + 1e-9
        best = result.inferences["multiStepBestPredictions"][step]
        assert by_value[best] == max(by_value.values())
    seen = {(i % 6) * 15.0 for i in range(6)}
    assert set(result.inferences["multiStepBestPredictions"].values()) <= seen
    # NuPIC keys the bucket likelihoods by the classifier encoder's bucket of each predicted value.
    encoder = model._sensor.objects["value"]
    buckets = result.inferences["multiStepBucketLikelihoods"][1]
    assert buckets == {
        encoder.getBucketIndices(v)[0]: p for v, p in result.inferences["multiStepPredictions"][1].items()
    }
    assert result.classifierInput.bucketIndex == encoder.getBucketIndices(75.0)[0]
    assert result.classifierInput.dataRow == 75.0


def test_several_fields_one_predicted_and_a_category_encoded_only():
    params = _params(
        shift={"type": "CategoryEncoder", "fieldname": "shift", "name": "shift", "w": 21,
               "categoryList": ["day", "night"]},
    )  # fmt: skip
    model = _model(params)
    names = [info.name for info in model.getFieldInfo()]
    assert names == sorted(names) == ["shift", "timestamp_timeOfDay", "value"]
    assert model.getFieldInfo()[1].special == FieldMetaSpecial.timestamp
    for i in range(200):
        record = dict(_record(i), shift="day" if i % 24 < 12 else "night")
        result = model.run(record)
    assert isinstance(result.inferences["anomalyScore"], numpy.float32)
    assert result.inferences["multiStepBestPredictions"][1] is not None
    with pytest.raises(InvalidParams, match="shift"):
        model.run(_record(200))  # the category field is missing
    with pytest.raises(InvalidParams, match="number"):
        model.run(dict(_record(200), shift="day", value="high"))


def test_temporal_anomaly_without_a_predicted_field_fails_as_in_nupic():
    model = ModelFactory.create(_params())
    with pytest.raises(ValueError, match="Expected predicted field 'None' in input row"):
        model.run(_record(0))


def test_nontemporal_anomaly_reports_nupics_constant_zero():
    model = _model(_params("NontemporalAnomaly"))
    scores = {float(model.run(_record(i)).inferences["anomalyScore"]) for i in range(20)}
    assert scores == {0.0}
    assert model.getInferenceType() == InferenceType.NontemporalAnomaly


def test_learning_off_learns_nothing_and_reset_forgets_the_sequence():
    frozen = _model()
    frozen.disableLearning()
    assert not frozen.isLearningEnabled()
    assert {float(frozen.run(_record(i)).inferences["anomalyScore"]) for i in range(60)} == {1.0}

    model = _model()
    scores = [float(model.run(_record(i)).inferences["anomalyScore"]) for i in range(400)]
    assert max(scores[-30:]) < 0.2, "the period is learned"
    model.resetSequenceStates()
    assert float(model.run(_record(400)).inferences["anomalyScore"]) == 1.0


def test_anomaly_parameters_drive_the_label():
    model = _model()
    assert model.getAnomalyParameter("autoDetectWaitRecords") is None
    model.setAnomalyParameter("autoDetectWaitRecords", 3)
    model.setAnomalyParameter("autoDetectThreshold", 0.5)
    labels = [model.run(_record(i)).inferences["anomalyLabel"] for i in range(5)]
    assert labels == ["[]"] * 3 + ["['Auto Threshold Classification']"] * 2  # raw score 1.0 while learning
    with pytest.raises(InvalidParams, match="unknown anomaly parameter 'bogus'"):
        model.getAnomalyParameter("bogus")


def test_checkpoint_directory_continues_identically(tmp_path):
    model = _model()
    for i in range(150):
        model.run(_record(i))
    model.save(str(tmp_path / "ckpt"))
    restored = ModelFactory.loadFromCheckpoint(str(tmp_path / "ckpt"))
    assert restored.getInferenceArgs() == {"predictedField": "value"}
    for i in range(150, 200):
        a, b = model.run(_record(i)), restored.run(_record(i))
        assert a.inferences == b.inferences
        assert a.predictionNumber == b.predictionNumber == i


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda p: p["modelParams"].update(inferenceType="NontemporalClassification"), "NontemporalClassification"),
        (lambda p: p.update(model="TwoGram"), "TwoGram"),
        (
            lambda p: p["modelParams"]["sensorParams"]["encoders"].update(
                where={"type": "GeospatialCoordinateEncoder", "fieldname": "where", "scale": 30, "timestep": 60}
            ),
            "GeospatialCoordinateEncoder",
        ),
        (lambda p: p["modelParams"]["sensorParams"].update(sensorAutoReset={"days": 1}), "sensorAutoReset"),
        (lambda p: p["modelParams"]["spParams"].update(globalInhibition=0), "globalInhibition"),
        (lambda p: p["modelParams"]["tmParams"].update(globalDecay=0.1), "globalDecay"),
        (lambda p: p["modelParams"]["clParams"].update(regionName="KNNClassifierRegion"), "KNNClassifierRegion"),
        (lambda p: p["modelParams"]["sensorParams"]["encoders"]["value"].update(bogus=1), "bogus"),
    ],
)
def test_unsupported_parameters_are_refused_by_name(change, named):
    params = copy.deepcopy(_params())
    change(params)
    with pytest.raises(InvalidParams, match=named):
        ModelFactory.create(params)


def test_the_sensor_input_row_has_a_value_per_encoder_in_field_info_order():
    params = _params(
        timestamp_weekend={"type": "DateEncoder", "fieldname": "timestamp", "name": "timestamp", "weekend": 21},
    )
    model = _model(params)
    names = [info.name for info in model.getFieldInfo()]
    assert names == ["timestamp_timeOfDay", "timestamp_weekend", "value"]
    record = _record(3)
    row = model.run(record).sensorInput.dataRow
    assert row == [record["timestamp"], record["timestamp"], record["value"]]
