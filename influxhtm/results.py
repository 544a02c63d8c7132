"""``HtmModelResults``: one HTM result row read back from InfluxDB, with NuPIC's OPF view of it."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass

__all__ = ["HtmModelResults"]


@dataclass(frozen=True)
class HtmModelResults:
    """One result point of the result schema (``<measurement>_htm``).

    ``anomaly_score`` is the one to alert on (NAB's final score); ``raw_score`` is the fraction of active
    columns that were not predicted. Fields missing in the point (or empty aggregation buckets) are
    ``None``. ``rawInput`` and ``inferences`` give the same data under NuPIC's OPF names, where
    ``inferences["anomalyScore"]`` is the raw score.
    """

    time: _dt.datetime
    value: float | None = None
    raw_score: float | None = None
    anomaly_likelihood: float | None = None
    anomaly_score: float | None = None
    prediction: float | None = None

    @classmethod
    def from_row(cls, row: dict) -> "HtmModelResults":
        return cls(time=row["time"], value=row.get("value"), raw_score=row.get("raw_score"),
                   anomaly_likelihood=row.get("anomaly_likelihood"), anomaly_score=row.get("anomaly_score"),
                   prediction=row.get("prediction"))

    def as_dict(self) -> dict:
        """The row as a plain dict (``time`` plus the result fields)."""
        return asdict(self)

    @property
    def rawInput(self) -> dict:  # noqa: N802 - OPF name
        """OPF view: ``{"timestamp": time, "value": value}``."""
        return {"timestamp": self.time, "value": self.value}

    @property
    def inferences(self) -> dict:
        """OPF view: ``anomalyScore`` (raw), ``anomalyLikelihood``, ``multiStepBestPredictions`` {1: p}."""
        inferences = {"anomalyScore": self.raw_score, "anomalyLikelihood": self.anomaly_likelihood}
        if self.prediction is not None:
            inferences["multiStepBestPredictions"] = {1: self.prediction}
        return inferences
