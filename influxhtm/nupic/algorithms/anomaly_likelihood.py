"""NuPIC 1.0.5's anomaly likelihood (``nupic.algorithms.anomaly_likelihood``).

The likelihood turns raw anomaly scores into "how unusual is the recent predictability": it fits a
normal distribution to a 10-record moving average of the scores and reports the tail probability of the
newest average (spec/htm.md 3.8). This module is stock NuPIC 1.0.5, so the tail is **two-sided**: an
average far *below* the mean is as unlikely as one far above it. (``influxhtm.htm.likelihood`` offers the
one-sided tail of NAB's published results as well.)

Two ways to use it, as in NuPIC:

- ``AnomalyLikelihood().anomalyProbability(value, anomalyScore, timestamp)`` per record (the streaming
  class, on influxhtm's Rust engine);
- the batch functions ``estimateAnomalyLikelihoods(records)`` once and then
  ``updateAnomalyLikelihoods(newRecords, params)`` for later records, each record being
  ``[timestamp, value, anomalyScore]`` and ``params`` the estimator state dict they return::

      {"distribution": {"name": "normal", "mean": ..., "variance": ..., "stdev": ...},
       "movingAverage": {"windowSize": 10, "historicalValues": [...], "total": ...},
       "historicalLikelihoods": [...]}  # the last (at most windowSize) unfiltered tail probabilities

The batch functions return *tail probabilities* (small = unusual); the class returns 1 minus them.
NuPIC's capnp ``read``/``write`` are not provided; the class pickles instead. The ``verbosity``
arguments are accepted for compatibility and print nothing.
"""

from __future__ import annotations

import datetime
import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any, Optional

import numpy

from influxhtm.htm import likelihood as engine_likelihood

__all__ = [
    "AnomalyLikelihood",
    "estimateAnomalyLikelihoods",
    "estimateNormal",
    "isValidEstimatorParams",
    "nullDistribution",
    "tailProbability",
    "updateAnomalyLikelihoods",
]

#: stock NuPIC 1.0.5's tail convention
TAIL = "two-sided"
#: NuPIC's stand-in for sqrt(2) in the Gaussian tail
_SQRT2_APPROX = 1.4142
#: below this mean or variance the fitted normal is clamped up to it
_MIN_MEAN = 0.03
_MIN_VARIANCE = 0.0003
#: the stored timestamp of records whose timestamp is not a date
_EPOCH = datetime.datetime(1970, 1, 1)
#: metric values with a smaller population variance count as flat (the null distribution is used)
_FLAT_METRIC_VARIANCE = 1.5e-5


class AnomalyLikelihood:
    """NuPIC's streaming likelihood: feed it every record's value and raw anomaly score.

    The first ``learningPeriod + estimationSamples`` records get 0.5; after that the distribution is
    re-estimated from the last ``historicWindowSize`` records every ``reestimationPeriod`` records.
    ``claLearningPeriod`` is the deprecated name of ``learningPeriod`` and wins if given. ValueError if
    ``historicWindowSize < estimationSamples`` or for parameters that are not non-negative integers.
    """

    def __init__(
        self,
        claLearningPeriod: Optional[int] = None,
        learningPeriod: int = 288,
        estimationSamples: int = 100,
        historicWindowSize: int = 8640,
        reestimationPeriod: int = 100,
    ) -> None:
        if historicWindowSize < estimationSamples:
            raise ValueError("estimationSamples exceeds historicWindowSize")
        if claLearningPeriod is not None:
            warnings.warn(
                "claLearningPeriod is deprecated, use learningPeriod instead.", DeprecationWarning, stacklevel=2
            )
            learningPeriod = claLearningPeriod
        self._learningPeriod = learningPeriod
        self._probationaryPeriod = learningPeriod + estimationSamples
        self._historicWindowSize = historicWindowSize
        self._reestimationPeriod = reestimationPeriod
        self._likelihood = engine_likelihood.AnomalyLikelihood(
            learningPeriod=learningPeriod,
            estimationSamples=estimationSamples,
            historicWindowSize=historicWindowSize,
            reestimationPeriod=reestimationPeriod,
            tail=TAIL,
        )

    def anomalyProbability(self, value: Any, anomalyScore: float, timestamp: Any = None) -> float:
        """The likelihood (0..1, close to 1 = anomalous) of the current record given its raw anomaly score.

        `value` is the record's metric value; a value that is not a number (a category, None) only turns
        off the flat-metric rule for the windows that contain it, as in NuPIC. `timestamp` is stored
        with the record and does not change the result.
        """
        number = float(value) if type(value) is float or isinstance(value, numbers.Real) else math.nan
        return self._likelihood.anomalyProbability(number, anomalyScore, _stored_timestamp(timestamp))

    @staticmethod
    def computeLogLikelihood(likelihood: float) -> float:
        """A log scale for likelihoods that cluster near 1: ln(1.0000000001 - L) / ln(1e-10)."""
        return engine_likelihood.AnomalyLikelihood.computeLogLikelihood(likelihood)

    def __eq__(self, other: object) -> bool:
        """Equal when the parameters and the whole state (history, distribution, filter) are."""
        return isinstance(other, AnomalyLikelihood) and self._likelihood.save() == other._likelihood.save()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by state (as NuPIC's class)

    def __str__(self) -> str:
        return (
            f"AnomalyLikelihood: learningPeriod={self._learningPeriod} "
            f"probationaryPeriod={self._probationaryPeriod} historicWindowSize={self._historicWindowSize} "
            f"reestimationPeriod={self._reestimationPeriod} tail={TAIL}"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_likelihood"] = self._likelihood.save()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["_likelihood"] = engine_likelihood.AnomalyLikelihood.load(state["_likelihood"])
        self.__dict__.update(state)


def _stored_timestamp(timestamp: Any) -> datetime.date:
    """The timestamp the engine stores: a date or datetime as it is, the epoch for anything else (NuPIC
    stores any object, by default the record number; the timestamp never changes a likelihood)."""
    return timestamp if isinstance(timestamp, datetime.date) else _EPOCH


def estimateAnomalyLikelihoods(
    anomalyScores: Sequence[Sequence[Any]],
    averagingWindow: int = 10,
    skipRecords: int = 0,
    verbosity: int = 0,
) -> tuple[numpy.ndarray, list[list[Any]], dict[str, Any]]:
    """Fits the distribution to a batch of ``[timestamp, value, anomalyScore]`` records.

    Returns (filtered tail probabilities, one per well-formed record; the averaged records
    ``[timestamp, value, averagedScore]``; the estimator params). The first `skipRecords` averaged
    records are left out of the fit; with no records left the null distribution is used, as it is when
    all values are numbers and their variance is below 1.5e-5 (a flat metric). Records that are not a
    3-element list or tuple are skipped. ValueError for an empty batch.
    """
    if len(anomalyScores) == 0:
        raise ValueError("Must have at least one anomalyScore")

    averagedRecords, windowValues, windowTotal = _anomalyScoreMovingAverage(anomalyScores, averagingWindow)
    averages = numpy.array([record[2] for record in averagedRecords], dtype=float)

    if len(averagedRecords) <= skipRecords:
        distribution = nullDistribution()
    else:
        distribution = estimateNormal(averages[skipRecords:])
        if all(isinstance(record[1], numbers.Number) for record in averagedRecords):
            metricValues = numpy.array([record[1] for record in averagedRecords], dtype=float)
            metric = estimateNormal(metricValues[skipRecords:], performLowerBoundCheck=False)
            if metric["variance"] < _FLAT_METRIC_VARIANCE:
                distribution = nullDistribution()

    likelihoods = numpy.array([tailProbability(a, distribution) for a in averages], dtype=float)
    params = {
        "distribution": distribution,
        "movingAverage": {"historicalValues": windowValues, "total": windowTotal, "windowSize": averagingWindow},
        "historicalLikelihoods": [float(p) for p in likelihoods[-averagingWindow:]],
    }
    return numpy.array(_filterLikelihoods(likelihoods), dtype=float), averagedRecords, params


def updateAnomalyLikelihoods(
    anomalyScores: Sequence[Sequence[Any]],
    params: dict[str, Any],
    verbosity: int = 0,
) -> tuple[numpy.ndarray, numpy.ndarray, dict[str, Any]]:
    """Scores new ``[timestamp, value, anomalyScore]`` records with the distribution in `params` (from
    ``estimateAnomalyLikelihoods`` or an earlier update), continuing its moving average and filter.

    Returns (filtered tail probabilities, the moving averages as a numpy array, the new params — pass
    those to the next call; `params` itself is not changed). Params without "historicalLikelihoods"
    (older NuPIC) start the filter from [1.0]. ValueError for an empty batch or invalid params.
    """
    if len(anomalyScores) == 0:
        raise ValueError("Must have at least one anomalyScore")
    if not isValidEstimatorParams(params):
        raise ValueError("'params' is not a valid params structure")

    movingAverage = params["movingAverage"]
    windowSize = movingAverage["windowSize"]
    windowValues = list(movingAverage["historicalValues"])
    windowTotal = movingAverage["total"]
    distribution = params["distribution"]

    averages = numpy.zeros(len(anomalyScores), dtype=float)
    likelihoods = numpy.zeros(len(anomalyScores), dtype=float)
    for i, record in enumerate(anomalyScores):
        windowTotal = _pushToWindow(windowValues, windowTotal, record[2], windowSize)
        averages[i] = windowTotal / len(windowValues)
        likelihoods[i] = tailProbability(averages[i], distribution)

    unfiltered = [*params.get("historicalLikelihoods", [1.0]), *(float(p) for p in likelihoods)]
    likelihoods[:] = _filterLikelihoods(unfiltered)[-len(likelihoods) :]
    newParams = {
        "distribution": distribution,
        "movingAverage": {"historicalValues": windowValues, "total": windowTotal, "windowSize": windowSize},
        "historicalLikelihoods": unfiltered[-min(windowSize, len(unfiltered)) :],
    }
    return likelihoods, averages, newParams


def _pushToWindow(window: list, total: float, value: float, windowSize: int) -> float:
    """NuPIC's MovingAverage step: drop the oldest of a full window, append `value`; the new total."""
    if len(window) == windowSize:
        total -= window.pop(0)
    window.append(value)
    return total + value


def _anomalyScoreMovingAverage(
    anomalyScores: Sequence[Any], windowSize: int = 10, verbosity: int = 0
) -> tuple[list[list[Any]], list[Any], float]:
    """The records with their anomaly score replaced by its moving average over `windowSize` records
    (fewer at the start), plus the final window and its total. Malformed records are skipped."""
    window: list[Any] = []
    total = 0.0
    averaged: list[list[Any]] = []
    for record in anomalyScores:
        if not isinstance(record, (list, tuple)) or len(record) != 3:
            continue
        total = _pushToWindow(window, total, record[2], windowSize)
        averaged.append([record[0], record[1], float(total) / len(window)])
    return averaged, window, total


def _filterLikelihoods(
    likelihoods: Sequence[float] | numpy.ndarray, redThreshold: float = 0.99999, yellowThreshold: float = 0.999
) -> list[float]:
    """Keeps only sharp drops in tail probability: a red-zone value (<= 1 - redThreshold) right after
    another red-zone value is replaced by 1 - yellowThreshold. The first value is kept as it is."""
    red = 1.0 - redThreshold
    yellow = 1.0 - yellowThreshold
    filtered = [likelihoods[0]] if len(likelihoods) else []
    for previous, current in zip(likelihoods, likelihoods[1:]):
        filtered.append(yellow if current <= red and previous <= red else current)
    return filtered


def estimateNormal(sampleData: Any, performLowerBoundCheck: bool = True) -> dict[str, Any]:
    """The normal distribution (name, mean, population variance, stdev) of `sampleData`. With the lower
    bound check the mean is raised to at least 0.03 and the variance to at least 0.0003."""
    params: dict[str, Any] = {"name": "normal", "mean": numpy.mean(sampleData), "variance": numpy.var(sampleData)}
    if performLowerBoundCheck:
        params["mean"] = max(params["mean"], _MIN_MEAN)
        params["variance"] = max(params["variance"], _MIN_VARIANCE)
    params["stdev"] = math.sqrt(params["variance"]) if params["variance"] > 0 else 0
    return params


def nullDistribution(verbosity: int = 0) -> dict[str, Any]:
    """A very broad normal (mean 0.5, stdev 1000) under which every anomaly score is likely."""
    return {"name": "normal", "mean": 0.5, "variance": 1e6, "stdev": 1e3}


def tailProbability(x: float, distributionParams: dict[str, Any]) -> float:
    """The probability of a sample further from the mean than `x` on its side (two-sided convention):
    P(X > x) above the mean, P(X < x) below it, with NuPIC's 1.4142 for sqrt(2). RuntimeError if the
    params lack "mean" or "stdev"."""
    if "mean" not in distributionParams or "stdev" not in distributionParams:
        raise RuntimeError("Insufficient parameters to specify the distribution.")
    mean = distributionParams["mean"]
    if x < mean:
        x = 2 * mean - x
    z = (x - mean) / distributionParams["stdev"]
    return 0.5 * math.erfc(z / _SQRT2_APPROX)


def isValidEstimatorParams(p: Any) -> bool:
    """True if `p` looks like the params dict the batch functions return (a basic structural check)."""
    if not isinstance(p, dict) or "distribution" not in p or "movingAverage" not in p:
        return False
    distribution = p["distribution"]
    return all(key in distribution for key in ("mean", "name", "variance", "stdev"))
