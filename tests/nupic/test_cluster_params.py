"""influxhtm.nupic.frameworks.opf.common_models.cluster_params: NuPIC's canned single-metric anomaly params
(input c0 = timestamp, c1 = metric) and their resolution rule."""

import pytest

from influxhtm.htm.params import engine_config
from influxhtm.nupic.frameworks.opf.common_models.cluster_params import getScalarMetricWithTimeOfDayAnomalyParams


def _resolution(params):
    return params["modelConfig"]["modelParams"]["sensorParams"]["encoders"]["c1"]["resolution"]


def test_structure_and_encoders():
    params = getScalarMetricWithTimeOfDayAnomalyParams([0.0, 10.0])
    assert params["inferenceArgs"] == {"predictionSteps": [1], "predictedField": "c1", "inputPredictedField": "auto"}
    config = params["modelConfig"]
    assert config["model"] == "HTMPrediction"
    assert config["version"] == 1
    assert config["predictAheadTime"] is None
    model = config["modelParams"]
    assert model["inferenceType"] == "TemporalAnomaly"
    assert model["spEnable"] and model["tmEnable"] and not model["clEnable"]
    encoders = model["sensorParams"]["encoders"]
    assert set(encoders) == {"c0_timeOfDay", "c0_dayOfWeek", "c0_weekend", "c1"}
    assert encoders["c0_timeOfDay"] == {"type": "DateEncoder", "timeOfDay": [21, 9.49], "fieldname": "c0", "name": "c0"}
    assert encoders["c0_dayOfWeek"] is None and encoders["c0_weekend"] is None
    c1 = encoders["c1"]
    assert {k: v for k, v in c1.items() if k != "resolution"} == {
        "name": "c1",
        "fieldname": "c1",
        "seed": 42,
        "type": "RandomDistributedScalarEncoder",
    }


def test_resolution_from_data_is_padded_by_one_standard_deviation():
    # data 0 and 10: stdev 5, range [-5, 15], resolution 20 / 130
    assert _resolution(getScalarMetricWithTimeOfDayAnomalyParams([0.0, 10.0])) == pytest.approx(20 / 130)
    # constant data: a stdev of 0 counts as 1, range [4, 6]
    assert _resolution(getScalarMetricWithTimeOfDayAnomalyParams([5.0, 5.0, 5.0])) == pytest.approx(2 / 130)


def test_given_bounds_and_min_resolution():
    assert _resolution(getScalarMetricWithTimeOfDayAnomalyParams([0], minVal=0.0, maxVal=130.0)) == pytest.approx(1.0)
    # only one bound given: the other comes from the data (max 10 + stdev 5 = 15)
    assert _resolution(getScalarMetricWithTimeOfDayAnomalyParams([0.0, 10.0], minVal=2.0)) == pytest.approx(13 / 130)
    # equal bounds become [minVal, minVal + 1]
    assert _resolution(getScalarMetricWithTimeOfDayAnomalyParams([0], minVal=3.0, maxVal=3.0)) == pytest.approx(1 / 130)
    # the default floor is 0.001, a given one wins over a smaller range
    assert _resolution(getScalarMetricWithTimeOfDayAnomalyParams([0], minVal=0.0, maxVal=0.01)) == 0.001
    assert _resolution(getScalarMetricWithTimeOfDayAnomalyParams([0], minVal=0, maxVal=13, minResolution=0.5)) == 0.5


def test_tm_implementation_selects_the_sequence_memory():
    cpp = getScalarMetricWithTimeOfDayAnomalyParams([0.0, 1.0])["modelConfig"]["modelParams"]["tmParams"]
    tm = getScalarMetricWithTimeOfDayAnomalyParams([0.0, 1.0], tmImplementation="tm_cpp")["modelConfig"]["modelParams"][
        "tmParams"
    ]
    assert cpp["temporalImp"] == "cpp" and (cpp["newSynapseCount"], cpp["activationThreshold"]) == (20, 13)
    assert tm["temporalImp"] == "tm_cpp" and (tm["newSynapseCount"], tm["activationThreshold"]) == (31, 20)


def test_unknown_tm_implementation():
    with pytest.raises(ValueError, match="Try cpp or tm_cpp"):
        getScalarMetricWithTimeOfDayAnomalyParams([0.0, 1.0], tmImplementation="py")


def test_each_call_returns_a_fresh_dict():
    first = getScalarMetricWithTimeOfDayAnomalyParams([0.0, 1.0])
    first["modelConfig"]["modelParams"]["spParams"]["columnCount"] = 1
    first["modelConfig"]["modelParams"]["sensorParams"]["encoders"]["c0_timeOfDay"]["timeOfDay"][0] = 1
    second = getScalarMetricWithTimeOfDayAnomalyParams([0.0, 1.0])
    assert second["modelConfig"]["modelParams"]["spParams"]["columnCount"] == 2048
    assert second["modelConfig"]["modelParams"]["sensorParams"]["encoders"]["c0_timeOfDay"]["timeOfDay"] == [21, 9.49]


def test_the_params_build_an_engine_model_on_c0_and_c1():
    params = getScalarMetricWithTimeOfDayAnomalyParams([0.0, 100.0], tmImplementation="tm_cpp")
    _, value_field, date_field = engine_config(params["modelConfig"])
    assert (value_field, date_field) == ("c1", "c0")
