"""The result schema: where and how HTM results sit beside a series in InfluxDB (DESIGN.md §4).

Measurement ``<source measurement>_htm``, the source tags plus tag ``field`` (the modelled field), float
fields ``value``, ``raw_score``, ``anomaly_likelihood``, ``anomaly_score`` and ``prediction`` (omitted when
there is none).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

__all__ = [
    "RESULT_SUFFIX", "FIELD_TAG", "RESULT_FIELDS", "SCORE_FIELDS", "result_measurement", "result_tags",
    "log_scaled_likelihood", "result_fields",
]

RESULT_SUFFIX = "_htm"
FIELD_TAG = "field"
RESULT_FIELDS = ("value", "raw_score", "anomaly_likelihood", "anomaly_score", "prediction")
SCORE_FIELDS = ("raw_score", "anomaly_likelihood", "anomaly_score")

# float64 value of ln(1.0000000001 - 1.0): NAB's divisor, which maps a likelihood of 1.0 to exactly 1.0.
_LOG_SCALE_DIVISOR = -23.02585084720009


def result_measurement(measurement: str, suffix: str = RESULT_SUFFIX) -> str:
    """Name of the result measurement for a source measurement: ``cpu`` -> ``cpu_htm``."""
    return measurement + suffix


def result_tags(source_tags: Mapping[str, str], field: str) -> dict:
    """The source tags plus ``field=<modelled field>``."""
    if FIELD_TAG in source_tags and source_tags[FIELD_TAG] != field:
        raise ValueError(f"source tags already have a {FIELD_TAG!r} tag ({source_tags[FIELD_TAG]!r}); "
                         "the result schema reserves it for the modelled field")
    tags = dict(source_tags)
    tags[FIELD_TAG] = field
    return tags


def log_scaled_likelihood(likelihood: float) -> float:
    """NAB's final anomaly score from a likelihood: ``ln(1.0000000001 - L) / ln(1.0000000001 - 1)``."""
    return math.log(1.0000000001 - likelihood) / _LOG_SCALE_DIVISOR


def _float_or_none(name: str, value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def result_fields(value, raw_score, anomaly_likelihood=None, anomaly_score=None,
                  prediction=None) -> dict:
    """The float fields of one result point, leaving out the ones that are ``None``."""
    fields = {
        "value": _float_or_none("value", value),
        "raw_score": _float_or_none("raw_score", raw_score),
        "anomaly_likelihood": _float_or_none("anomaly_likelihood", anomaly_likelihood),
        "anomaly_score": _float_or_none("anomaly_score", anomaly_score),
        "prediction": _float_or_none("prediction", prediction),
    }
    return {name: number for name, number in fields.items() if number is not None}
