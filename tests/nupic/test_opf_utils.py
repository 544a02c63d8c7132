"""influxhtm.nupic.frameworks.opf.opf_utils: NuPIC's InferenceType / InferenceElement enumerations, their
temporal delays, and the ModelResult / SensorInput / ClassifierInput records."""

import pytest

from influxhtm.nupic.frameworks.opf.opf_utils import (
    ClassifierInput,
    InferenceElement,
    InferenceType,
    ModelResult,
    SensorInput,
)

INFERENCE_TYPES = [
    "TemporalNextStep",
    "TemporalClassification",
    "NontemporalClassification",
    "TemporalAnomaly",
    "NontemporalAnomaly",
    "TemporalMultiStep",
    "NontemporalMultiStep",
]
INFERENCE_ELEMENTS = [
    "prediction",
    "encodings",
    "classification",
    "anomalyScore",
    "anomalyLabel",
    "classConfidences",
    "multiStepPredictions",
    "multiStepBestPredictions",
    "multiStepBucketLikelihoods",
    "multiStepBucketValues",
]


@pytest.mark.parametrize("name", INFERENCE_TYPES)
def test_inference_type_constants_are_their_names(name):
    assert getattr(InferenceType, name) == name
    assert InferenceType.validate(name)
    assert InferenceType.getLabel(name) == name
    assert InferenceType.getValue(name) == name


def test_inference_type_values_are_exactly_nupics():
    assert sorted(InferenceType.getValues()) == sorted(INFERENCE_TYPES)
    assert sorted(InferenceType.getLabels()) == sorted(INFERENCE_TYPES)
    assert not InferenceType.validate("Anomaly")
    assert not InferenceType.validate("isTemporal")
    with pytest.raises(KeyError):
        InferenceType.getLabel("Anomaly")


def test_temporal_inference_types():
    temporal = {t for t in INFERENCE_TYPES if InferenceType.isTemporal(t)}
    # NuPIC counts NontemporalMultiStep as temporal: multi-step prediction needs the temporal memory.
    assert temporal == {
        "TemporalNextStep",
        "TemporalClassification",
        "TemporalAnomaly",
        "TemporalMultiStep",
        "NontemporalMultiStep",
    }


def test_inference_element_values_are_exactly_nupics():
    assert sorted(InferenceElement.getValues()) == sorted(INFERENCE_ELEMENTS)
    for name in INFERENCE_ELEMENTS:
        assert getattr(InferenceElement, name) == name
    assert not InferenceElement.validate("multiStepBucketProbabilities")


@pytest.mark.parametrize(
    ("element", "key", "delay"),
    [
        ("prediction", None, 1),
        ("encodings", None, 1),
        ("anomalyScore", None, 0),
        ("anomalyLabel", None, 0),
        ("classification", None, 0),
        ("classConfidences", None, 0),
        ("multiStepPredictions", 5, 5),
        ("multiStepBestPredictions", 1, 1),
        ("multiStepBestPredictions", "3", 3),
        ("multiStepBucketLikelihoods", 2, 2),
        ("multiStepBucketValues", 4, 0),
        ("anomalyLikelihood", None, 0),
    ],
)
def test_temporal_delay(element, key, delay):
    assert InferenceElement.getTemporalDelay(element, key) == delay


def test_max_delay_covers_every_key_of_dict_elements():
    inferences = {
        "anomalyScore": 0.25,
        "multiStepBestPredictions": {1: 3.0, 5: 4.0},
        "multiStepPredictions": {2: {3.0: 1.0}},
    }
    assert InferenceElement.getMaxDelay(inferences) == 5
    assert InferenceElement.getMaxDelay({"prediction": [1.0]}) == 1
    assert InferenceElement.getMaxDelay({"anomalyScore": 0.0}) == 0
    assert InferenceElement.getMaxDelay({}) == 0


def test_only_prediction_is_a_temporal_element():
    assert [e for e in INFERENCE_ELEMENTS if InferenceElement.isTemporal(e)] == ["prediction"]


def test_input_elements():
    assert InferenceElement.getInputElement("prediction") == "dataRow"
    assert InferenceElement.getInputElement("encodings") == "dataEncodings"
    assert InferenceElement.getInputElement("classConfidences") == "category"
    assert InferenceElement.getInputElement("multiStepBestPredictions") == "dataDict"
    assert InferenceElement.getInputElement("anomalyScore") is None


def test_model_result_keywords_and_defaults():
    empty = ModelResult()
    for name in (
        "predictionNumber",
        "rawInput",
        "sensorInput",
        "inferences",
        "metrics",
        "predictedFieldIdx",
        "predictedFieldName",
        "classifierInput",
    ):
        assert getattr(empty, name) is None

    sensor = SensorInput(dataRow=[1.5], dataDict={"c1": 1.5}, sequenceReset=0)
    classifier = ClassifierInput(dataRow=1.5, bucketIndex=7)
    result = ModelResult(
        predictionNumber=3,
        rawInput={"c1": 1.5},
        sensorInput=sensor,
        inferences={"anomalyScore": 0.5},
        metrics={"m": 1},
        predictedFieldIdx=0,
        predictedFieldName="c1",
        classifierInput=classifier,
    )
    assert result.predictionNumber == 3
    assert result.inferences["anomalyScore"] == 0.5
    assert result.sensorInput.dataDict == {"c1": 1.5}
    assert result.classifierInput.bucketIndex == 7
    result.inferences = {}
    assert result.inferences == {}
    with pytest.raises(AttributeError):
        result.anomalyScore = 1.0  # type: ignore[attr-defined]  # slots: no stray attributes, as in NuPIC


def test_reprs_name_every_field_and_value():
    text = repr(ModelResult(predictionNumber=12, inferences={"anomalyScore": 0.75}, predictedFieldName="c1"))
    assert text.startswith("ModelResult(")
    for part in ("predictionNumber=12", "'anomalyScore': 0.75", "predictedFieldName='c1'", "classifierInput=None"):
        assert part in text
    assert "bucketIndex=4" in repr(ClassifierInput(dataRow=2.0, bucketIndex=4))
    assert "sequenceReset=1" in repr(SensorInput(sequenceReset=1))


def test_asdict():
    assert SensorInput(dataRow=[1], category=2)._asdict() == {
        "dataRow": [1],
        "dataDict": None,
        "dataEncodings": None,
        "sequenceReset": None,
        "category": 2,
    }
    assert ClassifierInput(dataRow=1.0, bucketIndex=3)._asdict() == {"dataRow": 1.0, "bucketIndex": 3}
