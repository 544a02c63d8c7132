"""Reading the modelled value from an input point and building the output points."""

from __future__ import annotations

import math

from influxhtm.kapacitor_udf import udf_pb2
from influxhtm.schema import LEARNING, RECORDS_SEEN, SOURCE_FIELD_TAG, result_measurement

from .options import HtmOptions

MAX_MAGNITUDE = 1e15
# Why a point is not scored; also the label values of the bad-points metric.
BAD_REASONS = ("missing", "string", "bool", "nan", "inf", "magnitude", "time_order")


def read_value(point: udf_pb2.Point, field: str) -> tuple[float | None, str | None]:
    """(value, None) for a usable number in fieldsDouble/fieldsInt, else (None, reason)."""
    if field in point.fieldsDouble:
        value = point.fieldsDouble[field]
    elif field in point.fieldsInt:
        value = float(point.fieldsInt[field])
    elif field in point.fieldsString:
        return None, "string"
    elif field in point.fieldsBool:
        return None, "bool"
    else:
        return None, "missing"
    if math.isnan(value):
        return None, "nan"
    if math.isinf(value):
        return None, "inf"
    if abs(value) > MAX_MAGNITUDE:
        return None, "magnitude"
    return value, None


def output_name(options: HtmOptions, input_name: str) -> str:
    return options.measurement or result_measurement(input_name)


def template_of(point: udf_pb2.Point) -> dict:
    """The series identity of an input point (JSON-able, stored in the model's metadata)."""
    return {
        "name": point.name,
        "database": point.database,
        "retention_policy": point.retentionPolicy,
        "group": point.group,
        "dimensions": list(point.dimensions),
        "by_name": point.byName,
        "tags": dict(point.tags),
    }


def point_from_template(template: dict, time_ns: int, field: str, value: float) -> udf_pb2.Point:
    """Rebuild an input point from a stored template (for journaled warm-up points after a restart)."""
    p = udf_pb2.Point(
        time=time_ns,
        name=template.get("name", ""),
        database=template.get("database", ""),
        retentionPolicy=template.get("retention_policy", ""),
        group=template.get("group", ""),
        byName=bool(template.get("by_name", False)),
    )
    p.dimensions.extend(template.get("dimensions", []))
    p.tags.update(template.get("tags", {}))
    p.fieldsDouble[field] = value
    return p


def _base(src: udf_pb2.Point, options: HtmOptions, keep_fields: bool) -> udf_pb2.Point:
    out = udf_pb2.Point()
    out.CopyFrom(src)
    out.name = output_name(options, src.name)
    out.tags[SOURCE_FIELD_TAG] = options.field
    if not keep_fields:
        out.ClearField("fieldsDouble")
        out.ClearField("fieldsInt")
        out.ClearField("fieldsString")
        out.ClearField("fieldsBool")
    return out


def scored_point(src: udf_pb2.Point, options: HtmOptions, value: float, scores) -> udf_pb2.Point:
    """The output point for a scored input: the input's identity plus the double score fields, boolean
    `learning` (the model is within its probation) and integer `records_seen` (this record included)."""
    out = _base(src, options, options.keepFields)
    values = {
        options.valueField: value,
        options.rawScoreField: scores.raw_score,
        options.likelihoodField: scores.anomaly_likelihood,
        options.scoreField: scores.anomaly_score,
    }
    if scores.prediction is not None:
        values[options.predictionField] = scores.prediction
    flags = {} if scores.learning is None else {LEARNING: bool(scores.learning)}
    counts = {} if scores.records_seen is None else {RECORDS_SEEN: int(scores.records_seen)}
    if options.keepFields:
        # a kept source field of the same name must not shadow a result field in another type's map
        for fmap, own in (
            (out.fieldsDouble, values),
            (out.fieldsInt, counts),
            (out.fieldsString, {}),
            (out.fieldsBool, flags),
        ):
            for name in (*values, *flags, *counts):
                if name in fmap and name not in own:
                    del fmap[name]
    doubles = out.fieldsDouble
    for name, v in values.items():
        doubles[name] = float(v)
    for name, flag in flags.items():
        out.fieldsBool[name] = flag
    for name, count in counts.items():
        out.fieldsInt[name] = count
    return out


def passthrough_point(src: udf_pb2.Point, options: HtmOptions) -> udf_pb2.Point:
    """An unscored bad point passed on: output name and tags, no score fields.

    The input's other fields are kept; the unusable modelled field and any field named like an output
    score field are left out, so the output measurement never sees a second type for those names.
    """
    out = _base(src, options, keep_fields=True)
    names = {
        options.field,
        options.valueField,
        options.rawScoreField,
        options.likelihoodField,
        options.scoreField,
        options.predictionField,
        LEARNING,  # an unscored point does not claim to be a model's record
        RECORDS_SEEN,
    }
    for fmap in (out.fieldsDouble, out.fieldsInt, out.fieldsString, out.fieldsBool):
        for name in names:
            if name in fmap:
                del fmap[name]
    return out
