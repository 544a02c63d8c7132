"""influxhtm.nupic.algorithms.anomaly: NuPIC's raw anomaly score and the Anomaly helper's modes."""

import pytest

from influxhtm.nupic.algorithms.anomaly import Anomaly, computeRawAnomalyScore


def test_raw_score_is_the_unpredicted_fraction_of_active_columns():
    assert computeRawAnomalyScore([1, 2, 3, 4], [2, 3, 9]) == 0.5
    assert computeRawAnomalyScore([1, 2, 3, 4], []) == 1.0
    assert computeRawAnomalyScore([5, 6], [6, 5]) == 0.0
    assert computeRawAnomalyScore([], [1, 2]) == 0.0


def test_pure_mode_is_the_raw_score():
    anomaly = Anomaly()
    assert anomaly.compute([1, 2, 3, 4], [1]) == 0.75


def test_likelihood_modes_during_probation():
    # the likelihood is 0.5 during its probation, so "likelihood" gives 1 - 0.5 and "weighted" raw * 0.5
    assert Anomaly(mode=Anomaly.MODE_LIKELIHOOD).compute([1, 2, 3, 4], [1], inputValue=3.0) == 0.5
    assert Anomaly(mode=Anomaly.MODE_WEIGHTED).compute([1, 2, 3, 4], [1], inputValue=3.0) == 0.375


def test_likelihood_mode_needs_the_input_value():
    with pytest.raises(ValueError, match="inputValue"):
        Anomaly(mode="likelihood").compute([1, 2], [1])


def test_sliding_window_averages_and_threshold_binarizes():
    averaged = Anomaly(slidingWindowSize=2)
    scores = [averaged.compute([1, 2, 3, 4], predicted) for predicted in ([], [1, 2, 3, 4], [1, 2])]
    assert scores == [1.0, 0.5, 0.25]
    binary = Anomaly(slidingWindowSize=2, binaryAnomalyThreshold=0.5)
    assert [binary.compute([1, 2, 3, 4], predicted) for predicted in ([], [1, 2, 3, 4], [1, 2])] == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "fancy"}, ValueError),
        ({"binaryAnomalyThreshold": 1.0}, ValueError),
        ({"binaryAnomalyThreshold": 0.0}, ValueError),
        ({"binaryAnomalyThreshold": 1}, ValueError),
        ({"slidingWindowSize": 0}, ValueError),
        ({"slidingWindowSize": 2.0}, TypeError),
    ],
)
def test_invalid_arguments(kwargs, error):
    with pytest.raises(error):
        Anomaly(**kwargs)


def test_str_and_equality():
    assert str(Anomaly(slidingWindowSize=3)) == "Anomaly:\tmode=pure\twindowSize=3"
    assert str(Anomaly()) == "Anomaly:\tmode=pure\twindowSize=0"
    a, b = Anomaly(slidingWindowSize=3), Anomaly(slidingWindowSize=3)
    assert a == b
    a.compute([1, 2], [])
    assert a != b
    assert Anomaly(mode="likelihood") != Anomaly()
