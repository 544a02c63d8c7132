"""NuPIC's `AnomalyLikelihood` (nupic.algorithms.anomaly_likelihood), backed by the Rust engine."""

import datetime
from typing import Optional

from influxhtm import _engine
from influxhtm._engine import InvalidParams
from influxhtm.htm.params import DEFAULT_TAIL, HISTORIC_WINDOW_SIZE, REESTIMATION_PERIOD, TAILS
from influxhtm.htm.timestamps import wall_clock_seconds

__all__ = ["TAILS", "AnomalyLikelihood"]

#: The engine counts records in 32 bits.
MAX_U32 = 2**32 - 1


class AnomalyLikelihood:
    """Turns a stream of raw anomaly scores into likelihoods, exactly as NuPIC 1.0.5 does.

    `tail="one-sided"` (default) is the convention of NAB's published results (NuPIC <= 0.5.7);
    `tail="two-sided"` is stock NuPIC 1.0.5 (values below the mean also look unlikely). Parameters the
    engine cannot use raise InvalidParams (a ValueError).
    """

    def __init__(
        self,
        claLearningPeriod: Optional[int] = None,
        learningPeriod: int = 288,
        estimationSamples: int = 100,
        historicWindowSize: int = HISTORIC_WINDOW_SIZE,
        reestimationPeriod: int = REESTIMATION_PERIOD,
        tail: str = DEFAULT_TAIL,
    ):
        if claLearningPeriod is not None:
            learningPeriod = claLearningPeriod
        self._engine = _engine.Likelihood(
            likelihood_params(learningPeriod, estimationSamples, historicWindowSize, reestimationPeriod, tail)
        )

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
        """Restores a likelihood saved with `save()`; CorruptState (a ValueError) for anything else."""
        obj = cls.__new__(cls)
        obj._engine = _engine.Likelihood.load(bytes(blob))
        return obj


def likelihood_params(
    learning_period: int, estimation_samples: int, historic_window_size: int, reestimation_period: int, tail: str
) -> _engine.LikelihoodParams:
    """The engine's typed likelihood parameters; InvalidParams names the first unusable one."""
    if tail not in TAILS:
        raise InvalidParams(f"tail must be one of {TAILS}, got {tail!r}")
    values = {
        "learningPeriod": learning_period,
        "estimationSamples": estimation_samples,
        "historicWindowSize": historic_window_size,
        "reestimationPeriod": reestimation_period,
    }
    for name, v in values.items():
        whole = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
        if isinstance(v, bool) or not whole or not 0 <= v <= MAX_U32:
            raise InvalidParams(f"{name} must be an integer from 0 to {MAX_U32}, got {v!r}")
    return _engine.LikelihoodParams(
        learning_period=int(learning_period),
        estimation_samples=int(estimation_samples),
        historic_window_size=int(historic_window_size),
        reestimation_period=int(reestimation_period),
        tail=tail,
    )
