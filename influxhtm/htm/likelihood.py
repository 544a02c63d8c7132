"""NuPIC's `AnomalyLikelihood` (nupic.algorithms.anomaly_likelihood), backed by the Rust engine."""

import datetime
from typing import Optional

from influxhtm import _engine
from influxhtm.htm.timestamps import wall_clock_seconds

TAILS = ("one-sided", "two-sided")


class AnomalyLikelihood:
    """Turns a stream of raw anomaly scores into likelihoods, exactly as NuPIC 1.0.5 does.

    `tail="one-sided"` (default) is the convention of NAB's published results (NuPIC <= 0.5.7);
    `tail="two-sided"` is stock NuPIC 1.0.5 (values below the mean also look unlikely).
    """

    def __init__(self, claLearningPeriod: Optional[int] = None, learningPeriod: int = 288,
                 estimationSamples: int = 100, historicWindowSize: int = 8640, reestimationPeriod: int = 100,
                 tail: str = "one-sided"):
        if claLearningPeriod is not None:
            learningPeriod = claLearningPeriod
        if tail not in TAILS:
            raise ValueError(f"tail must be one of {TAILS}, got {tail!r}")
        for name, v in (("learningPeriod", learningPeriod), ("estimationSamples", estimationSamples),
                        ("historicWindowSize", historicWindowSize), ("reestimationPeriod", reestimationPeriod)):
            if int(v) != v or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if historicWindowSize < estimationSamples:
            raise ValueError("historicWindowSize must be >= estimationSamples")
        if reestimationPeriod < 1:
            raise ValueError("reestimationPeriod must be >= 1")
        self._engine = _engine.Likelihood(int(learningPeriod), int(estimationSamples), int(historicWindowSize),
                                          int(reestimationPeriod), tail)

    def anomalyProbability(self, value: float, anomalyScore: float, timestamp=None) -> float:
        """The likelihood (0..1) that the current record is anomalous, given its raw anomaly score."""
        if timestamp is None:
            timestamp = datetime.datetime.now()
        return self._engine.anomaly_probability(float(value), float(anomalyScore), wall_clock_seconds(timestamp))

    @staticmethod
    def computeLogLikelihood(likelihood: float) -> float:
        """NuPIC's log scaling: ln(1.0000000001 - L) / ln(1.0000000001 - 1), 1.0 at L = 1."""
        return _engine.Likelihood.compute_log_likelihood(float(likelihood))

    def save(self) -> bytes:
        return self._engine.save()

    @classmethod
    def load(cls, blob: bytes) -> "AnomalyLikelihood":
        obj = cls.__new__(cls)
        obj._engine = _engine.Likelihood.load(bytes(blob))
        return obj
