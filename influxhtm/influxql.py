"""InfluxQL and line-protocol building blocks: quoting, escaping, durations and UTC time conversion.

Every identifier that goes into InfluxQL passes through :func:`quote_ident`, every string literal through
:func:`quote_literal` (or a bind parameter), so a name such as ``it's "odd"; DROP`` stays a name.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Collection, Mapping

__all__ = [
    "AGGREGATE_METHODS",
    "Nanos",
    "aggregate_call",
    "build_select",
    "field_key",
    "fill_clause",
    "format_field",
    "format_float",
    "from_ns",
    "line",
    "parse_duration",
    "qualified_measurement",
    "quote_ident",
    "quote_literal",
    "series_key",
    "tag_condition",
    "to_ns",
    "to_utc",
    "validate_duration",
]

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)

_DURATION_UNITS_NS = {
    "ns": 1,
    "u": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_DURATION_RE = re.compile(r"(\d+)(ns|u|µ|ms|s|m|h|d|w)")


def _escape_quoted(text: str, quote: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    return text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes: ``quote_ident('a"b')`` -> ``"a\\"b"``."""
    if name == "":
        raise ValueError("empty InfluxQL identifier")
    return '"' + _escape_quoted(name, '"') + '"'


def quote_literal(text: str) -> str:
    """An InfluxQL string literal in single quotes: ``quote_literal("it's")`` -> ``'it\\'s'``."""
    return "'" + _escape_quoted(text, "'") + "'"


def qualified_measurement(measurement: str, database: str | None = None, retention_policy: str | None = None) -> str:
    """``"db"."rp"."measurement"``, ``"db".."measurement"`` (default RP) or ``"measurement"``."""
    if database is None:
        if retention_policy is not None:
            return f"{quote_ident(retention_policy)}.{quote_ident(measurement)}"
        return quote_ident(measurement)
    rp = quote_ident(retention_policy) if retention_policy else ""
    return f"{quote_ident(database)}.{rp}.{quote_ident(measurement)}"


def parse_duration(text: str) -> int:
    """An InfluxQL duration literal (``10m``, ``1h30m``, ``52w``) in nanoseconds; ``INF`` -> 0."""
    if not isinstance(text, str):
        raise TypeError(f"duration must be a string like '10m', got {text!r}")
    if text.upper() == "INF":
        return 0
    pos, total = 0, 0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _DURATION_UNITS_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {text!r}: use e.g. 10s, 10m, 1h, 7d, 52w (or INF)")
    return total


def validate_duration(text: str, *, allow_inf: bool = False) -> str:
    """Return ``text`` if it is a positive InfluxQL duration (``INF`` only when allowed), else raise."""
    ns = parse_duration(text)
    if ns == 0 and not (allow_inf and text.upper() == "INF"):
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return "INF" if ns == 0 else text


def to_utc(value) -> _dt.datetime:
    """A timezone-aware UTC datetime from a datetime (naive = UTC), date, ISO-8601 string or epoch seconds."""
    if isinstance(value, _dt.datetime):
        dt = value
    elif isinstance(value, _dt.date):
        dt = _dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"invalid time {value!r}: use ISO 8601, e.g. 2024-01-31T12:00:00Z") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"invalid time {value!r}")
        return _EPOCH + _dt.timedelta(seconds=value)
    else:
        raise TypeError(f"cannot use {value!r} as a time (datetime, ISO string or epoch seconds)")
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class Nanos(int):
    """An int that is already nanoseconds since the epoch (plain numbers are taken as epoch seconds)."""


def to_ns(value) -> int:
    """Nanoseconds since the Unix epoch (UTC) from a datetime (naive = UTC), ISO string, epoch seconds
    (int or float) or :class:`Nanos`."""
    if isinstance(value, Nanos):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 1_000_000_000
    if isinstance(value, float) and math.isfinite(value):
        return round(value * 1_000_000) * 1_000
    delta = to_utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> _dt.datetime:
    """Aware UTC datetime from epoch nanoseconds (sub-microsecond digits are dropped)."""
    return _EPOCH + _dt.timedelta(microseconds=ns // 1_000)


# Characters InfluxDB 1.6 unescapes after a backslash (measured: tags do not unescape a double quote,
# measurements and field keys do). Each is escaped; a backslash right before one of them (or at the
# end) is ambiguous to InfluxDB's scanner, so such names are refused rather than silently changed.
_NAME_SPECIALS = ', ="'
_TAG_SPECIALS = ", ="
_MEASUREMENT_ESCAPES = str.maketrans({c: "\\" + c for c in _NAME_SPECIALS})
_FIELD_KEY_ESCAPES = _MEASUREMENT_ESCAPES
_TAG_ESCAPES = str.maketrans({c: "\\" + c for c in _TAG_SPECIALS})


def _check_lp_text(text: str, what: str, escaped: str) -> str:
    if not isinstance(text, str) or text == "":
        raise ValueError(f"{what} must be a non-empty string, got {text!r}")
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} {text!r} contains a line break, which line protocol cannot carry")
    for index, char in enumerate(text):
        if char == "\\" and (index + 1 == len(text) or text[index + 1] in escaped):
            raise ValueError(
                f"{what} {text!r} has a backslash before {text[index + 1 : index + 2] or 'its end'!r}, "
                "which line protocol cannot carry"
            )
    return text


def format_float(value) -> str:
    """A line-protocol float (never an integer literal, so the field stays a float)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"cannot write non-finite value {value!r} to InfluxDB")
    return repr(number)


def series_key(measurement: str, tags: dict) -> str:
    """The escaped ``measurement,tag=value,...`` part of a line (tags sorted, empty ones left out)."""
    parts = [_check_lp_text(measurement, "measurement", _NAME_SPECIALS).translate(_MEASUREMENT_ESCAPES)]
    for key in sorted(tags):
        value = tags[key]
        if value is None or value == "":
            continue
        parts.append(
            _check_lp_text(key, "tag key", _TAG_SPECIALS).translate(_TAG_ESCAPES)
            + "="
            + _check_lp_text(value, "tag value", _TAG_SPECIALS).translate(_TAG_ESCAPES)
        )
    return ",".join(parts)


def field_key(name: str) -> str:
    """An escaped line-protocol field key."""
    return _check_lp_text(name, "field key", _NAME_SPECIALS).translate(_FIELD_KEY_ESCAPES)


def format_field(value, field_type: str = "float") -> str:
    """A line-protocol field value of an InfluxDB field type (``SHOW FIELD KEYS``' ``fieldType``).

    Values read back as JSON lose their type (a float 2.0 comes back as ``2``), so rewriting a point
    takes the type from the server: float, integer, unsigned, string or boolean.
    """
    if field_type == "float":
        return format_float(value)
    if field_type == "integer":
        return f"{int(value)}i"
    if field_type == "unsigned":
        return f"{int(value)}u"
    if field_type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"boolean field value expected, got {value!r}")
        return "true" if value else "false"
    if field_type == "string":
        if not isinstance(value, str):
            raise ValueError(f"string field value expected, got {value!r}")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"unknown field type {field_type!r}")


def _field_type(name: str, value, integers: Collection[str]) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "integer" if name in integers else "float"


def line(measurement: str, tags: dict, fields: dict, time_ns: int, *, integers: Collection[str] = ()) -> str:
    """One line-protocol line; tags are sorted (InfluxDB's preferred order). Fields are floats (an int
    value too, so a field keeps one type), except bools (``true``/``false``) and the fields named in
    ``integers`` (``3i``)."""
    field_text = ",".join(
        f"{field_key(k)}={format_field(v, _field_type(k, v, integers))}" for k, v in fields.items() if v is not None
    )
    if not field_text:
        raise ValueError("a point needs at least one field value")
    return f"{series_key(measurement, tags)} {field_text} {int(time_ns)}"


AGGREGATE_METHODS = ("mean", "median", "mode", "min", "max", "sum", "count", "first", "last", "spread", "stddev")
_PERCENTILE_RE = re.compile(r"percentile_(\d+(?:\.\d+)?)")
FILL_OPTIONS = ("null", "none", "previous", "linear")


def aggregate_call(method: str, field: str) -> str:
    """``mean("value")``, ``percentile("value", 95)`` ... for a method name such as ``percentile_95``."""
    if not isinstance(method, str):
        raise ValueError(f"aggregation method must be a string, got {method!r}")
    name = method.lower()
    if name in AGGREGATE_METHODS:
        return f"{name}({quote_ident(field)}::field)"
    match = _PERCENTILE_RE.fullmatch(name)
    if match and 0 < float(match.group(1)) <= 100:
        return f"percentile({quote_ident(field)}::field, {match.group(1)})"
    raise ValueError(
        f"unknown aggregation method {method!r}: use one of "
        f"{', '.join(AGGREGATE_METHODS)} or percentile_N (0 < N <= 100)"
    )


def fill_clause(fill) -> str:
    """``fill(none)``, ``fill(previous)``, ``fill(0)`` ... from a fill option (a keyword or a number)."""
    if isinstance(fill, (int, float)) and not isinstance(fill, bool):
        if not math.isfinite(fill):
            raise ValueError(f"fill value must be finite, got {fill!r}")
        return f"fill({fill!r})"
    if isinstance(fill, str) and fill.lower() in FILL_OPTIONS:
        return f"fill({fill.lower()})"
    raise ValueError(f"invalid fill {fill!r}: use one of {', '.join(FILL_OPTIONS)} or a number")


def tag_condition(tags, params: dict) -> str:
    """The WHERE condition for ``tags`` (a dict, or a list of dicts of which any one may match).

    Values go into ``params`` as bind parameters (``$tag0``, ... for a dict; ``$tag<i>_<j>`` for the
    i-th of a list); keys are cast ``::tag``. A value ``None`` leaves the key out; ``""`` matches
    points without that tag. Returns ``""`` when nothing is filtered.
    """
    alternatives = [tags] if isinstance(tags, Mapping) else list(tags)
    if not alternatives:
        raise ValueError("an empty list of tag filters matches nothing")
    clauses = []
    for which, alternative in enumerate(alternatives):
        parts = []
        for index, (key, value) in enumerate(sorted(alternative.items())):
            if value is None:
                continue
            name = f"tag{index}" if len(alternatives) == 1 else f"tag{which}_{index}"
            params[name] = value
            parts.append(f"{quote_ident(key)}::tag = ${name}")
        if not parts:
            return ""  # this alternative matches everything
        clauses.append(parts)
    if len(clauses) == 1:
        return " AND ".join(clauses[0])
    return "(" + " OR ".join("(" + " AND ".join(parts) + ")" for parts in clauses) + ")"


def build_select(
    source: str,
    fields,
    tags,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    limit: int | None = None,
    aggregation: dict | None = None,
    fill="none",
    last_n: bool = False,
    tag_columns=(),
) -> tuple[str, dict]:
    """A SELECT over ``source`` (an already quoted measurement) for ``fields``, filtered by ``tags``.

    Returns ``(query, bind_params)``: tag values travel as bind parameters (keys cast ``::tag`` and
    fields ``::field``, so a tag and a field of the same name stay apart), times as integer
    nanoseconds (both bounds inclusive). ``tags`` is a dict, or a list of dicts of which any one may
    match (see :func:`tag_condition`). ``aggregation`` is ``{"method": m, "period": p}`` (period
    optional); each field ``f`` comes back as column ``f``. ``tag_columns`` (not with an aggregation)
    also returns those tags, each as a column of its name. ``last_n`` orders newest first so LIMIT
    picks the last points (the caller reverses them).
    """
    if isinstance(fields, str):
        fields = [fields]
    if aggregation is not None:
        if not isinstance(aggregation, dict) or "method" not in aggregation:
            raise ValueError('aggregation must be a dict like {"method": "mean", "period": "10m"}')
        unknown = set(aggregation) - {"method", "period"}
        if unknown:
            raise ValueError(f"unknown aggregation keys {sorted(unknown)}: use 'method' and 'period'")
        columns = ", ".join(f"{aggregate_call(aggregation['method'], f)} AS {quote_ident(f)}" for f in fields)
        if tag_columns:
            raise ValueError("tag_columns cannot go with an aggregation")
    else:
        columns = ", ".join(
            [f"{quote_ident(f)}::field AS {quote_ident(f)}" for f in fields]
            + [f"{quote_ident(t)}::tag AS {quote_ident(t)}" for t in tag_columns]
        )
    conditions: list[str] = []
    params: dict = {}
    condition = tag_condition(tags, params)
    if condition:
        conditions.append(condition)
    if since_ns is not None:
        conditions.append(f"time >= {int(since_ns)}")
    if until_ns is not None:
        conditions.append(f"time <= {int(until_ns)}")
    query = f"SELECT {columns} FROM {source}"
    if conditions:
        query += " WHERE " + " AND ".join(conditions)
    if aggregation is not None and aggregation.get("period") is not None:
        query += f" GROUP BY time({validate_duration(aggregation['period'])}) {fill_clause(fill)}"
    if last_n:
        query += " ORDER BY time DESC"
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        query += f" LIMIT {limit}"
    return query, params
