"""The result schema: where and how HTM results sit beside a series in InfluxDB (DESIGN.md §4).

Every name of the schema is defined here, once; the library, the UDF, the retention tooling, the demo and
the tests import them (TICKscripts and the README necessarily spell them out).

Measurement ``<source measurement>_htm``, the source tags plus tag ``source_field`` (the modelled field),
float fields ``value``, ``raw_score``, ``anomaly_likelihood``, ``anomaly_score`` and ``prediction``
(omitted when there is none), boolean ``learning`` (the model is within its probation) and integer
``records_seen``.

Results written before the tag was renamed carry the modelled field in tag ``field`` instead
(:data:`LEGACY_FIELD_TAG`; FIELD is an InfluxQL keyword, so an unquoted ``WHERE field = 'x'`` does not
parse). The library still reads them (:func:`result_series_filters`), and ``influxhtm migrate-results``
rewrites them under the new tag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ANOMALY_LIKELIHOOD",
    "ANOMALY_SCORE",
    "CSV_STATUS_COLUMNS",
    "LEARNING",
    "LEGACY_FIELD_TAG",
    "NAB_COLUMNS",
    "PREDICTION",
    "RAW_SCORE",
    "RECORDS_SEEN",
    "RESULT_FIELDS",
    "RESULT_SUFFIX",
    "SCORE_FIELDS",
    "SOURCE_FIELD_TAG",
    "VALUE",
    "legacy_result_tags",
    "log_scaled_likelihood",
    "result_fields",
    "result_measurement",
    "result_series_filters",
    "result_tags",
]

#: suffix of a result measurement: ``cpu`` -> ``cpu_htm``
RESULT_SUFFIX = "_htm"
#: the tag holding the name of the modelled field
SOURCE_FIELD_TAG = "source_field"
#: the tag that held it before (still read; ``influxhtm migrate-results`` rewrites it)
LEGACY_FIELD_TAG = "field"

# Field names of a result point. Floats unless said otherwise; a new field gets its name here and its
# place in RESULT_FIELDS (and, when it is not a float, its own case in result_fields).
VALUE = "value"  # the input value
RAW_SCORE = "raw_score"  # fraction of active columns not predicted
ANOMALY_LIKELIHOOD = "anomaly_likelihood"  # the anomaly likelihood of the raw score
ANOMALY_SCORE = "anomaly_score"  # the one to alert on (NAB's final score)
PREDICTION = "prediction"  # best 1-step prediction made at this point, for the next one
LEARNING = "learning"  # boolean: the model is within its probation (its scores are not to be trusted yet)
RECORDS_SEEN = "records_seen"  # integer: records the model has learned, this one included

RESULT_FIELDS = (VALUE, RAW_SCORE, ANOMALY_LIKELIHOOD, ANOMALY_SCORE, PREDICTION, LEARNING, RECORDS_SEEN)
SCORE_FIELDS = (RAW_SCORE, ANOMALY_LIKELIHOOD, ANOMALY_SCORE)
#: columns of a NAB results CSV (`influxhtm detect`, `influxhtm nab`); PREDICTION follows when predicting,
#: then CSV_STATUS_COLUMNS (after NAB's columns, so NAB's scorer reads the file as before)
NAB_COLUMNS = ("timestamp", VALUE, ANOMALY_SCORE, RAW_SCORE, ANOMALY_LIKELIHOOD)
#: the last columns of a results CSV: ``learning`` (true/false) and ``records_seen``
CSV_STATUS_COLUMNS = (LEARNING, RECORDS_SEEN)

# float64 value of ln(1.0000000001 - 1.0): NAB's divisor, which maps a likelihood of 1.0 to exactly 1.0.
_LOG_SCALE_DIVISOR = -23.02585084720009


def result_measurement(measurement: str, suffix: str = RESULT_SUFFIX) -> str:
    """Name of the result measurement for a source measurement: ``cpu`` -> ``cpu_htm``."""
    return measurement + suffix


def result_tags(source_tags: Mapping[str, str], field: str) -> dict:
    """The source tags plus ``source_field=<modelled field>``."""
    if SOURCE_FIELD_TAG in source_tags and source_tags[SOURCE_FIELD_TAG] != field:
        raise ValueError(
            f"source tags already have a {SOURCE_FIELD_TAG!r} tag "
            f"({source_tags[SOURCE_FIELD_TAG]!r}); the result schema reserves it for the "
            "modelled field"
        )
    tags = dict(source_tags)
    tags[SOURCE_FIELD_TAG] = field
    return tags


def legacy_result_tags(source_tags: Mapping[str, str], field: str) -> dict | None:
    """The tags results of these source tags had under the old schema (``field=<modelled field>``).

    None when the source tags have a ``field`` tag themselves: the old schema refused to write those.
    """
    if LEGACY_FIELD_TAG in source_tags:
        return None
    tags = dict(source_tags)
    tags[LEGACY_FIELD_TAG] = field
    return tags


def result_series_filters(source_tags: Mapping[str, str], field: str) -> list[dict]:
    """Tag filters that find the results of a series, new and old: any one of them matches.

    The first is :func:`result_tags`; the second (if any) matches points written under the old tag:
    :func:`legacy_result_tags` plus ``source_field=''``, which in InfluxQL means "has no such tag", so
    a new point whose source series happens to have a ``field`` tag is not taken for an old one.
    """
    filters = [result_tags(source_tags, field)]
    legacy = legacy_result_tags(source_tags, field)
    if legacy is not None:
        legacy[SOURCE_FIELD_TAG] = ""
        filters.append(legacy)
    return filters


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


def result_fields(
    value,
    raw_score,
    anomaly_likelihood=None,
    anomaly_score=None,
    prediction=None,
    learning=None,
    records_seen=None,
) -> dict:
    """The fields of one result point, leaving out the ones that are ``None``: floats, plus ``learning``
    as a bool and ``records_seen`` as an int (the line protocol writes ``learning=true records_seen=3i``)."""
    given = {
        VALUE: value,
        RAW_SCORE: raw_score,
        ANOMALY_LIKELIHOOD: anomaly_likelihood,
        ANOMALY_SCORE: anomaly_score,
        PREDICTION: prediction,
    }
    fields: dict[str, Any] = {name: _float_or_none(name, number) for name, number in given.items()}
    if learning is not None:
        if not isinstance(learning, bool):
            raise ValueError(f"{LEARNING} must be a bool, got {learning!r}")
        fields[LEARNING] = learning
    if records_seen is not None:
        if isinstance(records_seen, bool) or int(records_seen) != records_seen or records_seen < 0:
            raise ValueError(f"{RECORDS_SEEN} must be a non-negative integer, got {records_seen!r}")
        fields[RECORDS_SEEN] = int(records_seen)
    return {name: number for name, number in fields.items() if number is not None}
