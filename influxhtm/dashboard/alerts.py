"""The alert rule of HTM results, in Python: the one `tickscripts/htm_alert.tick` applies in Kapacitor.

A result point is an alert when its ``anomaly_score`` is at or above the threshold and its model is past
its probation (field ``learning`` is false). The scores of a learning model are not to be trusted, so a
point that is learning is never an alert. A point without a ``learning`` field (results written before
the field existed) is judged by its score alone: the model's state is unknown, and hiding every alert of
such a series would be worse than showing one from a probation that can no longer be told apart.
"""

from __future__ import annotations

__all__ = ["ALERT_THRESHOLD", "is_alert"]

#: the TICKscript's `crit`: NAB's log-scaled likelihood, 0.5 means a likelihood of at least 0.99999
ALERT_THRESHOLD = 0.5


def is_alert(anomaly_score: float | None, learning: bool | None, threshold: float = ALERT_THRESHOLD) -> bool:
    """True when a point with these fields raises an alert: score >= threshold and the model not learning."""
    if anomaly_score is None or learning:
        return False
    return anomaly_score >= threshold
