"""Result points read back from InfluxDB: ``HtmModelResults`` (with NuPIC's OPF view of a row), and
:func:`migrate_results`, which rewrites results stored under the old tag ``field`` under ``source_field``."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass

from .influxql import field_key, format_field, qualified_measurement, quote_ident, series_key
from .schema import LEGACY_FIELD_TAG, RECORDS_SEEN, RESULT_FIELDS, SCORE_FIELDS, SOURCE_FIELD_TAG

__all__ = [
    "LEGACY_CONDITION",
    "MIGRATE_CHUNK",
    "HtmModelResults",
    "MigrationReport",
    "ResultMigration",
    "migrate_results",
    "prefer_current_tag",
]

#: InfluxQL condition true for result points under the old tag only (``field`` set, ``source_field`` not)
LEGACY_CONDITION = f"{quote_ident(LEGACY_FIELD_TAG)} != '' AND {quote_ident(SOURCE_FIELD_TAG)} = ''"
_LEGACY_SELECT_CONDITION = f"{quote_ident(LEGACY_FIELD_TAG)}::tag != '' AND {quote_ident(SOURCE_FIELD_TAG)}::tag = ''"
MIGRATE_CHUNK = 5000


@dataclass(frozen=True)
class HtmModelResults:
    """One result point of the result schema (``<measurement>_htm``).

    ``anomaly_score`` is the one to alert on (NAB's final score); ``raw_score`` is the fraction of active
    columns that were not predicted. Fields missing in the point (or empty aggregation buckets) are
    ``None``. ``rawInput`` and ``inferences`` give the same data under NuPIC's OPF names, where
    ``inferences["anomalyScore"]`` is the raw score. The attributes are named like the schema's fields
    (:data:`influxhtm.schema.RESULT_FIELDS`).
    """

    time: _dt.datetime
    value: float | None = None
    raw_score: float | None = None
    anomaly_likelihood: float | None = None
    anomaly_score: float | None = None
    prediction: float | None = None
    #: the model was within its probation at this point (None for results written before the field existed)
    learning: bool | None = None
    #: records the model had learned, this one included (None for results written before the field existed)
    records_seen: int | None = None

    @classmethod
    def from_row(cls, row: dict) -> HtmModelResults:
        values = {name: row.get(name) for name in RESULT_FIELDS}
        seen = values[RECORDS_SEEN]
        if seen is not None and not isinstance(seen, bool):
            values[RECORDS_SEEN] = int(seen)  # an aggregation (mean, ...) may make it a float
        return cls(time=row["time"], **values)

    def as_dict(self) -> dict:
        """The row as a plain dict (``time`` plus the result fields)."""
        return asdict(self)

    @property
    def rawInput(self) -> dict:  # OPF name
        """OPF view: ``{"timestamp": time, "value": value}``."""
        return {"timestamp": self.time, "value": self.value}

    @property
    def inferences(self) -> dict:
        """OPF view: ``anomalyScore`` (raw), ``anomalyLikelihood``, ``multiStepBestPredictions`` {1: p}."""
        inferences: dict = {"anomalyScore": self.raw_score, "anomalyLikelihood": self.anomaly_likelihood}
        if self.prediction is not None:
            inferences["multiStepBestPredictions"] = {1: self.prediction}
        return inferences


def prefer_current_tag(rows: list) -> list:
    """Rows (oldest first, with a ``source_field`` column) without old-tag twins; the column is removed.

    Where a point under the old tag and one under the new tag sit at the same time (a migration has
    copied it and the old one is not dropped yet), only the new one is kept.
    """
    kept, start = [], 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and rows[end]["time"] == rows[start]["time"]:
            end += 1
        same_time = rows[start:end]
        if len(same_time) > 1 and any(row.get(SOURCE_FIELD_TAG) for row in same_time):
            same_time = [row for row in same_time if row.get(SOURCE_FIELD_TAG)]
        for row in same_time:
            row.pop(SOURCE_FIELD_TAG, None)
            kept.append(row)
        start = end
    return kept


# -- migration from the old tag ------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultMigration:
    """Old-tag points of one measurement in one retention policy: copied (or, in a dry run, found)."""

    retention_policy: str
    measurement: str
    points: int


@dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate_results` copied and the ``DROP SERIES`` statements it ran (or would run)."""

    copied: tuple[ResultMigration, ...]
    dropped: tuple[str, ...]


def _points(client, statement: str) -> list:
    return list(client.query(statement).get_points())


def _values(client, statement: str) -> list:
    """The rows of a single-series SELECT as lists, in the column order of the statement."""
    result = client.query(statement, epoch="ns")
    series = result.raw.get("series") or []
    if any(s.get("partial") for s in series):
        raise ValueError("InfluxDB truncated the result (max-row-limit); use a smaller chunk_size")
    return [row for s in series for row in s["values"]]


def _looks_like_results(field_keys) -> bool:
    """Fields of a result measurement: a score field, or a downsampled one (``anomaly_score_max``, ...)."""
    return any(key == name or key.startswith(name + "_") for key in field_keys for name in SCORE_FIELDS)


def _has_legacy_series(client, measurement: str) -> bool:
    tag_keys = {row["tagKey"] for row in _points(client, f"SHOW TAG KEYS FROM {quote_ident(measurement)}")}
    if LEGACY_FIELD_TAG not in tag_keys:
        return False
    return bool(_points(client, f"SHOW SERIES FROM {quote_ident(measurement)} WHERE {LEGACY_CONDITION} LIMIT 1"))


def _rewritten(measurement: str, fields: list, types: dict, tag_keys: list, row: list) -> str:
    """The line of an old-tag point under the new tag (fields keep their types, time its nanoseconds)."""
    field_values = row[1 : 1 + len(fields)]
    tags = {key: value for key, value in zip(tag_keys, row[1 + len(fields) :]) if value not in (None, "")}
    tags[SOURCE_FIELD_TAG] = tags.pop(LEGACY_FIELD_TAG)
    field_text = ",".join(
        f"{field_key(name)}={format_field(value, types[name])}"
        for name, value in zip(fields, field_values)
        if value is not None
    )
    return f"{series_key(measurement, tags)} {field_text} {int(row[0])}"


def _write(client, lines: list, retention_policy: str) -> int:
    """Write one chunk; points older than the retention policy's duration (due for deletion) are let go."""
    from influxdb.exceptions import InfluxDBClientError

    try:
        client.write_points(lines, time_precision="n", retention_policy=retention_policy, protocol="line")
    except InfluxDBClientError as exc:
        expired = re.search(r"points beyond retention policy dropped=(\d+)", str(exc))
        if expired is None:
            raise
        return len(lines) - int(expired.group(1))
    return len(lines)


def _copy(client, retention_policy: str, measurement: str, types: dict, tag_keys: list, chunk_size: int) -> int:
    """Copy the old-tag points of one measurement in one RP under the new tag, in time-ordered chunks."""
    fields = sorted(types)
    columns = ", ".join(
        [f"{quote_ident(name)}::field" for name in fields] + [f"{quote_ident(key)}::tag" for key in tag_keys]
    )
    source = qualified_measurement(measurement, client.database, retention_policy)
    copied, cursor, page = 0, None, chunk_size
    while True:
        where = _LEGACY_SELECT_CONDITION + ("" if cursor is None else f" AND time >= {cursor}")
        rows = _values(client, f"SELECT {columns} FROM {source} WHERE {where} LIMIT {page}")
        finished = len(rows) < page
        if not finished:  # the last instant may go on in the next page: leave it to that page
            last = rows[-1][0]
            head = [row for row in rows if row[0] < last]
            if not head:  # one instant fills the page: read it whole
                page *= 2
                continue
            rows, cursor, page = head, last, chunk_size
        if rows:
            copied += _write(
                client, [_rewritten(measurement, fields, types, tag_keys, row) for row in rows], retention_policy
            )
        if finished:
            return copied


def _count(client, retention_policy: str, measurement: str) -> int:
    source = qualified_measurement(measurement, client.database, retention_policy)
    rows = _points(client, f"SELECT count(*) FROM {source} WHERE {_LEGACY_SELECT_CONDITION}")
    return max((value for row in rows for key, value in row.items() if key != "time" and value), default=0)


def migrate_results(
    client, measurements=None, *, drop_old: bool = False, dry_run: bool = False, chunk_size: int = MIGRATE_CHUNK
) -> MigrationReport:
    """Rewrite result points stored under the old tag ``field`` under the tag ``source_field``.

    InfluxDB 1.x cannot rename a tag, and ``SELECT ... INTO`` turns every tag it does not group by into
    a field, so the points are read and written again through the client: in every retention policy
    of the client's database (downsampled ``htm_*`` ones too), in time-ordered chunks of ``chunk_size``
    points, with all other tags, field types and nanosecond times kept. ``measurements``: a name or a
    list of names; default every ``*<result_suffix>`` measurement that has score fields and old-tag
    series. Copying is idempotent (a point written again overwrites its copy).

    Only after every retention policy of a measurement is copied, and only with ``drop_old``, its
    old-tag series are deleted: ``DROP SERIES FROM <m> WHERE "field" != '' AND "source_field" = ''``
    (DROP SERIES acts on every retention policy at once). Until then readers see both copies; the
    library prefers the new one. ``dry_run`` counts the points and lists the statements, changing
    nothing.
    """
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    database = quote_ident(client.database)
    policies = [row["name"] for row in _points(client, f"SHOW RETENTION POLICIES ON {database}")]
    if measurements is None:
        names = [
            row["name"] for row in _points(client, "SHOW MEASUREMENTS") if row["name"].endswith(client.result_suffix)
        ]
    else:
        names = [measurements] if isinstance(measurements, str) else list(measurements)
    copied, dropped = [], []
    for name in names:
        if not _has_legacy_series(client, name):
            continue
        tag_keys = [row["tagKey"] for row in _points(client, f"SHOW TAG KEYS FROM {quote_ident(name)}")]
        types_by_rp = {}
        for policy in policies:
            rows = _points(client, f"SHOW FIELD KEYS FROM {quote_ident(policy)}.{quote_ident(name)}")
            if rows:
                types_by_rp[policy] = {row["fieldKey"]: row["fieldType"] for row in rows}
        if measurements is None and not _looks_like_results(k for types in types_by_rp.values() for k in types):
            continue
        for policy, types in types_by_rp.items():
            if dry_run:
                points = _count(client, policy, name)
            else:
                points = _copy(client, policy, name, types, tag_keys, chunk_size)
            if points:
                copied.append(ResultMigration(policy, name, points))
        if drop_old:
            statement = f"DROP SERIES FROM {quote_ident(name)} WHERE {LEGACY_CONDITION}"
            if not dry_run:
                client.query(statement, method="POST")
            dropped.append(statement)
    return MigrationReport(tuple(copied), tuple(dropped))
