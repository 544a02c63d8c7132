"""What the live view reads from InfluxDB: the result series of a database and their points.

A result series is one measurement ``<source>_htm`` with one set of tag values (the source tags plus
``source_field``); the dashboard calls it a model, since one HTM model writes each. Every name of the
result schema comes from :mod:`influxhtm.schema`; fields a series lacks (``prediction`` when the model
does not predict; ``learning`` and ``records_seen`` in results written before they existed) are ``None``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from influxhtm.influxql import build_select, qualified_measurement, quote_ident
from influxhtm.schema import (
    ANOMALY_SCORE,
    LEARNING,
    LEGACY_FIELD_TAG,
    PREDICTION,
    RECORDS_SEEN,
    RESULT_SUFFIX,
    SOURCE_FIELD_TAG,
    VALUE,
)

from .alerts import is_alert

__all__ = ["POINT_FIELDS", "ResultSeries", "list_series", "read_points"]

#: the fields the view shows, in the order of the columns of :func:`read_points`
POINT_FIELDS = (VALUE, PREDICTION, ANOMALY_SCORE, LEARNING, RECORDS_SEEN)
#: most points one request returns (the page asks again while ``more`` is true)
MAX_POINTS = 10000
#: most points of a series the page loads when it opens (the newest; a browser holds this many well)
HISTORY = 50000


@dataclass(frozen=True)
class ResultSeries:
    """One result series: its measurement and all its tag values (``""``: the series lacks that tag key)."""

    measurement: str
    tags: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, measurement: str, tags: dict) -> ResultSeries:
        return cls(measurement, tuple(sorted((str(k), str(v or "")) for k, v in tags.items())))

    @property
    def id(self) -> str:
        """A URL-safe name of the series, stable across restarts of the view."""
        text = json.dumps([self.measurement, list(self.tags)], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def from_id(cls, series_id: str) -> ResultSeries:
        try:
            text = base64.urlsafe_b64decode(series_id + "=" * (-len(series_id) % 4)).decode()
            measurement, tags = json.loads(text)
            if not isinstance(measurement, str) or not isinstance(tags, list):
                raise ValueError("not [measurement, tags]")
            return cls.of(measurement, {str(k): str(v) for k, v in tags})
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as e:
            raise ValueError(f"unknown series id {series_id!r}") from e

    @property
    def tag_dict(self) -> dict:
        return dict(self.tags)

    @property
    def source_field(self) -> str:
        """The modelled field (tag ``source_field``; the old tag ``field`` for results written before it)."""
        tags = self.tag_dict
        return tags.get(SOURCE_FIELD_TAG) or tags.get(LEGACY_FIELD_TAG) or ""

    @property
    def source_tags(self) -> dict:
        """The tags of the source series (present ones only)."""
        return {k: v for k, v in self.tags if v and k not in (SOURCE_FIELD_TAG, LEGACY_FIELD_TAG)}

    @property
    def source_measurement(self) -> str:
        name = self.measurement
        return name[: -len(RESULT_SUFFIX)] if name.endswith(RESULT_SUFFIX) and len(name) > len(RESULT_SUFFIX) else name

    @property
    def title(self) -> str:
        """``cpu_htm · host=a · field usage``: what an operator calls the series."""
        parts = [self.measurement] + [f"{k}={v}" for k, v in sorted(self.source_tags.items())]
        if self.source_field:
            parts.append(f"field {self.source_field}")
        return " · ".join(parts)


def _result_measurements(client) -> list[str]:
    """Measurements of the database that hold HTM results: named ``*_htm`` with an ``anomaly_score`` field."""
    names = []
    for (name, _), rows in client.query("SHOW FIELD KEYS").items():
        if name.endswith(RESULT_SUFFIX) and any(row["fieldKey"] == ANOMALY_SCORE for row in rows):
            names.append(name)
    return sorted(names)


def _source(client, measurement: str, retention_policy: str | None) -> str:
    if retention_policy:
        return qualified_measurement(measurement, client.database, retention_policy)
    return quote_ident(measurement)


def _grouped(client, query: str) -> dict:
    """``{tags: first row}`` of a ``GROUP BY *`` query; tags as a ResultSeries-ready dict."""
    out = {}
    for (_, tags), rows in client.query(query, epoch="ns").items():
        for row in rows:
            out[tuple(sorted((tags or {}).items()))] = row
            break
    return out


def list_series(client, *, retention_policy: str | None = None, threshold: float | None = None) -> list[dict]:
    """Every result series of the client's database with its state at its last point, sorted by title.

    Each entry: ``id``, ``title``, ``measurement``, ``tags`` (source tags), ``source_field``, ``points``
    (count), and of the last point ``last_time_ms``, ``last_score``, ``learning``, ``records_seen`` and
    ``alert`` (by :func:`influxhtm.dashboard.alerts.is_alert` when ``threshold`` is given).
    """
    entries = []
    for measurement in _result_measurements(client):
        source = _source(client, measurement, retention_policy)
        last = _grouped(client, f"SELECT * FROM {source} GROUP BY * ORDER BY time DESC LIMIT 1")
        counts = _grouped(client, f"SELECT count({quote_ident(ANOMALY_SCORE)}) FROM {source} GROUP BY *")
        for key, row in last.items():
            series = ResultSeries.of(measurement, dict(key))
            score = _float(row.get(ANOMALY_SCORE))
            learning = _bool(row.get(LEARNING))
            entry = {
                "id": series.id,
                "title": series.title,
                "measurement": measurement,
                "source_measurement": series.source_measurement,
                "tags": series.source_tags,
                "source_field": series.source_field,
                "points": int((counts.get(key) or {}).get("count") or 0),
                "last_time_ms": None if row.get("time") is None else row["time"] // 1_000_000,
                "last_score": score,
                "learning": learning,
                "records_seen": _int(row.get(RECORDS_SEEN)),
            }
            if threshold is not None:
                entry["alert"] = is_alert(score, learning, threshold)
            entries.append(entry)
    entries.sort(key=lambda e: str(e["title"]))
    return entries


def read_points(
    client,
    series: ResultSeries,
    *,
    after_ns: int | None = None,
    threshold: float,
    limit: int = MAX_POINTS,
    history: int | None = HISTORY,
    retention_policy: str | None = None,
) -> dict:
    """The points of ``series`` after ``after_ns``, oldest first, at most ``limit``, as columns.

    Without ``after_ns`` (the page opening) they start at the ``history``-th newest point (None: the first).

    Returns ``{"time_ms": [...], "value": [...], "prediction": [...], "anomaly_score": [...],
    "learning": [...], "records_seen": [...], "alert": [...], "last_ns": str|None, "more": bool}``:
    ``alert`` by :func:`influxhtm.dashboard.alerts.is_alert`; ``last_ns`` (a string: JavaScript numbers
    cannot hold nanosecond epochs) is the cursor to pass back as ``after_ns``; ``more`` means there are
    points after it still to read; ``older`` that points before the first one were left out (``history``).
    """
    source = _source(client, series.measurement, retention_policy)
    since_ns = None if after_ns is None else int(after_ns) + 1
    older = False
    if after_ns is None and history is not None:
        query, params = build_select(source, [ANOMALY_SCORE], series.tag_dict, limit=1, last_n=True)
        oldest = client.query_points(f"{query} OFFSET {int(history) - 1}", params, time_as_ns=True)
        if oldest:
            since_ns = oldest[0]["time"]
            check, params = build_select(source, [ANOMALY_SCORE], series.tag_dict, until_ns=since_ns - 1, limit=1)
            older = bool(client.query_points(check, params, time_as_ns=True))
    query, params = build_select(source, list(POINT_FIELDS), series.tag_dict, since_ns=since_ns, limit=limit + 1)
    rows = client.query_points(query, params, time_as_ns=True)
    more = len(rows) > limit
    rows = rows[:limit]
    columns: dict = {name: [] for name in ("time_ms", *POINT_FIELDS, "alert")}
    for row in rows:
        score = _float(row.get(ANOMALY_SCORE))
        learning = _bool(row.get(LEARNING))
        columns["time_ms"].append(row["time"] // 1_000_000)
        columns[VALUE].append(_float(row.get(VALUE)))
        columns[PREDICTION].append(_float(row.get(PREDICTION)))
        columns[ANOMALY_SCORE].append(score)
        columns[LEARNING].append(learning)
        columns[RECORDS_SEEN].append(_int(row.get(RECORDS_SEEN)))
        columns["alert"].append(is_alert(score, learning, threshold))
    last_ns = rows[-1]["time"] if rows else after_ns
    columns["last_ns"] = None if last_ns is None else str(last_ns)
    columns["more"] = more
    columns["older"] = older
    return columns


def _float(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):  # a field written as a string by some other writer
        return {"true": True, "false": False}.get(value.lower())
    return None
