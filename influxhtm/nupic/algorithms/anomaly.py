"""NuPIC's anomaly scores (``nupic.algorithms.anomaly``): the raw score of one step and the ``Anomaly``
helper that turns it into a likelihood-based or weighted score, optionally averaged and thresholded."""

from __future__ import annotations

from typing import Any, Optional

import numpy

from influxhtm.nupic.algorithms.anomaly_likelihood import AnomalyLikelihood, _pushToWindow


def computeRawAnomalyScore(activeColumns: Any, prevPredictedColumns: Any) -> float:
    """The fraction of active columns that were not predicted at the previous step (0.0 with no active
    columns). Both arguments are sequences of column indices."""
    activeCount = len(activeColumns)
    if activeCount == 0:
        return 0.0
    predictedCount = numpy.isin(activeColumns, prevPredictedColumns).sum()
    return (activeCount - predictedCount) / float(activeCount)


class Anomaly:
    """Anomaly scores in one of three modes.

    - ``"pure"`` (``Anomaly.MODE_PURE``, the default): the raw score;
    - ``"likelihood"``: 1 - the anomaly likelihood of the raw score (``AnomalyLikelihood`` with NuPIC's
      defaults), which needs the input value;
    - ``"weighted"``: raw score * (1 - likelihood).

    `slidingWindowSize` averages the final score over that many steps; `binaryAnomalyThreshold` (a float
    in (0, 1)) then maps it to 1.0 at or above the threshold and 0.0 below. ValueError for an unknown
    mode or an invalid threshold.
    """

    MODE_PURE = "pure"
    MODE_LIKELIHOOD = "likelihood"
    MODE_WEIGHTED = "weighted"
    _supportedModes = (MODE_PURE, MODE_LIKELIHOOD, MODE_WEIGHTED)

    def __init__(
        self,
        slidingWindowSize: Optional[int] = None,
        mode: str = MODE_PURE,
        binaryAnomalyThreshold: Optional[float] = None,
    ) -> None:
        if mode not in self._supportedModes:
            raise ValueError(
                "Invalid anomaly mode; only supported modes are: Anomaly.MODE_PURE, Anomaly.MODE_LIKELIHOOD, "
                f"Anomaly.MODE_WEIGHTED; you used: {mode!r}"
            )
        if binaryAnomalyThreshold is not None and (
            not isinstance(binaryAnomalyThreshold, float) or not 0.0 < binaryAnomalyThreshold < 1.0
        ):
            raise ValueError("Anomaly: binaryAnomalyThreshold must be from (0,1) or None if disabled.")
        if slidingWindowSize is not None and (
            isinstance(slidingWindowSize, bool) or not isinstance(slidingWindowSize, int)
        ):
            raise TypeError("MovingAverage - windowSize must be integer type")
        if slidingWindowSize is not None and slidingWindowSize <= 0:
            raise ValueError("MovingAverage - windowSize must be >0")
        self._mode = mode
        self._binaryThreshold = binaryAnomalyThreshold
        self._windowSize = slidingWindowSize
        self._window: list[float] = []
        self._windowTotal = 0.0
        self._likelihood = AnomalyLikelihood() if mode in (self.MODE_LIKELIHOOD, self.MODE_WEIGHTED) else None

    def compute(
        self, activeColumns: Any, predictedColumns: Any, inputValue: Any = None, timestamp: Any = None
    ) -> float:
        """The anomaly score of this step: `activeColumns` are the columns active now, `predictedColumns`
        those predicted at the previous step. The likelihood modes also take the input value (required in
        "likelihood" mode) and an optional timestamp."""
        rawScore = computeRawAnomalyScore(activeColumns, predictedColumns)
        if self._likelihood is None:
            score = rawScore
        else:
            if self._mode == self.MODE_LIKELIHOOD and inputValue is None:
                raise ValueError(
                    "Selected anomaly mode 'Anomaly.MODE_LIKELIHOOD' requires 'inputValue' as parameter to "
                    "compute() method. "
                )
            probability = self._likelihood.anomalyProbability(inputValue, rawScore, timestamp)
            score = 1 - probability if self._mode == self.MODE_LIKELIHOOD else rawScore * (1 - probability)

        if self._windowSize is not None:
            self._windowTotal = _pushToWindow(self._window, self._windowTotal, score, self._windowSize)
            score = self._windowTotal / len(self._window)

        if self._binaryThreshold is not None:
            score = 1.0 if score >= self._binaryThreshold else 0.0
        return score

    def __str__(self) -> str:
        return f"Anomaly:\tmode={self._mode}\twindowSize={self._windowSize or 0!r}"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Anomaly)
            and other._mode == self._mode
            and other._binaryThreshold == self._binaryThreshold
            and other._windowSize == self._windowSize
            and other._window == self._window
            and other._windowTotal == self._windowTotal
            and other._likelihood == self._likelihood
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by state (as NuPIC's class)
