"""influxhtm.nupic.data.inference_shifter: NuPIC's InferenceShifter lines each prediction up with the
record it predicts."""

from influxhtm.nupic.data.inference_shifter import InferenceShifter
from influxhtm.nupic.frameworks.opf.opf_utils import ModelResult, SensorInput


def _result(t, inferences):
    return ModelResult(
        predictionNumber=t,
        rawInput={"c1": float(t)},
        sensorInput=SensorInput(dataRow=[float(t)]),
        inferences=inferences,
        metrics={"t": t},
        predictedFieldIdx=0,
        predictedFieldName="c1",
        classifierInput=None,
    )


def test_one_step_best_prediction_arrives_with_the_record_it_predicts():
    shifter = InferenceShifter()
    shifted = [
        shifter.shift(_result(t, {"multiStepBestPredictions": {1: 100 + t}, "anomalyScore": t / 10})) for t in range(5)
    ]
    assert [r.inferences["multiStepBestPredictions"][1] for r in shifted] == [None, 100, 101, 102, 103]
    # the anomaly score is about the record itself: not shifted
    assert [r.inferences["anomalyScore"] for r in shifted] == [0.0, 0.1, 0.2, 0.3, 0.4]
    # the record's own input stays with it
    assert [r.rawInput["c1"] for r in shifted] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_each_step_key_is_delayed_by_its_step_count():
    shifter = InferenceShifter()
    predictions = [
        shifter.shift(_result(t, {"multiStepBestPredictions": {1: f"1@{t}", 3: f"3@{t}"}})).inferences[
            "multiStepBestPredictions"
        ]
        for t in range(6)
    ]
    assert [p[1] for p in predictions] == [None, "1@0", "1@1", "1@2", "1@3", "1@4"]
    assert [p[3] for p in predictions] == [None, None, None, "3@0", "3@1", "3@2"]


def test_next_step_prediction_list_is_none_filled_before_history():
    shifter = InferenceShifter()
    first = shifter.shift(_result(0, {"prediction": [1.0, 2.0], "encodings": (0, 1)}))
    second = shifter.shift(_result(1, {"prediction": [3.0, 4.0], "encodings": (1, 1)}))
    assert first.inferences == {"prediction": [None, None], "encodings": [None, None]}
    assert second.inferences == {"prediction": [1.0, 2.0], "encodings": (0, 1)}


def test_shifted_result_keeps_input_and_metrics_but_not_prediction_number():
    original = _result(7, {"anomalyScore": 0.5})
    shifted = InferenceShifter().shift(original)
    assert shifted is not original
    assert shifted.rawInput is original.rawInput
    assert shifted.sensorInput is original.sensorInput
    assert shifted.metrics == {"t": 7}
    assert shifted.predictedFieldIdx == 0
    assert shifted.predictedFieldName == "c1"
    # as in NuPIC, the shifted result does not carry these two over
    assert shifted.predictionNumber is None
    assert shifted.classifierInput is None


def test_history_is_a_copy_of_the_inferences():
    shifter = InferenceShifter()
    inferences = {"multiStepPredictions": {1: {5.0: 0.9}}}
    shifter.shift(_result(0, inferences))
    inferences["multiStepPredictions"][1][5.0] = 0.1  # the model reuses its dict
    later = shifter.shift(_result(1, {"multiStepPredictions": {1: {6.0: 1.0}}}))
    assert later.inferences["multiStepPredictions"][1] == {5.0: 0.9}


def test_history_length_is_set_by_the_first_result():
    shifter = InferenceShifter()
    shifter.shift(_result(0, {"multiStepBestPredictions": {1: "a"}}))
    shifter.shift(_result(1, {"multiStepBestPredictions": {1: "b"}}))
    # a 2-step key appearing later cannot be served from a 2-deep history: None, as in NuPIC
    third = shifter.shift(_result(2, {"multiStepBestPredictions": {1: "c", 2: "c2"}}))
    assert third.inferences["multiStepBestPredictions"] == {1: "b", 2: None}
