"""Retention policies and continuous queries that downsample HTM results at several periods.

For each period ``p`` kept for ``d`` (``--periods 10m:30d,1h:365d,1d:INF``): retention policy ``htm_<p>``
(duration ``d``) and continuous query ``cq_htm_<p>`` that writes, per ``p`` and per series
(``GROUP BY time(p), *`` keeps the tags), ``mean`` of ``value`` and ``prediction`` and ``max`` and
``mean`` of each score (``anomaly_score_max``, ``anomaly_score_mean``, ...) into ``"htm_<p>"``, under the
same measurement name. For the whole database the CQ reads every ``*_htm`` measurement; for one sensor
only that sensor's result series (its tags plus ``source_field``; a CQ made before the tag was renamed
filters on ``field`` and is replaced by the next setup). Setup is idempotent: it compares with what SHOW
reports and only creates, alters or replaces what differs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .influxql import parse_duration, quote_ident, quote_literal, validate_duration
from .schema import PREDICTION, RESULT_SUFFIX, SCORE_FIELDS, VALUE, result_measurement, result_tags

__all__ = [
    "Change",
    "Period",
    "cq_name",
    "cq_statement",
    "default_rp",
    "drop_retention",
    "parse_periods",
    "plan_retention",
    "rp_name",
    "setup_retention",
    "show_retention",
]

RP_PREFIX = "htm_"
CQ_PREFIX = "cq_htm_"


@dataclass(frozen=True)
class Period:
    """Downsample every ``every`` (an InfluxQL duration); keep the result for ``keep`` (or ``INF``)."""

    every: str
    keep: str


@dataclass(frozen=True)
class Change:
    """One InfluxQL statement setup/drop runs (or, with dry_run, would run), with why."""

    action: str  # "create", "alter", "replace", "drop"
    kind: str  # "retention policy" or "continuous query"
    name: str
    statements: tuple[str, ...]


def parse_periods(text: str) -> list[Period]:
    """``"10m:30d,1h:365d,1d:INF"`` -> ``[Period("10m", "30d"), ...]``; raises ValueError with the reason."""
    periods, seen = [], set()
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        every, sep, keep = item.partition(":")
        if not sep:
            raise ValueError(f"period {item!r} must be EVERY:KEEP, e.g. 10m:30d or 1d:INF")
        every = validate_duration(every.strip())
        keep = validate_duration(keep.strip(), allow_inf=True)
        if keep != "INF" and parse_duration(keep) < 3_600_000_000_000:
            raise ValueError(f"period {item!r}: InfluxDB keeps data for at least 1h")
        if keep != "INF" and parse_duration(keep) < parse_duration(every):
            raise ValueError(f"period {item!r}: keeping less than one period is useless")
        if every in seen:
            raise ValueError(f"period {every} given twice")
        seen.add(every)
        periods.append(Period(every, keep))
    if not periods:
        raise ValueError("no periods given: use e.g. 10m:30d,1h:365d,1d:INF")
    return periods


def rp_name(period: Period) -> str:
    return RP_PREFIX + period.every


def _sensor_slug(sensor) -> str:
    raw = "\x00".join([sensor.measurement, sensor.tag_key, sensor.component or "", sensor.field])
    slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{sensor.measurement}_{sensor.component or ''}").strip("_")[:40]
    return f"{slug}_{hashlib.sha256(raw.encode()).hexdigest()[:8]}"


def cq_name(period: Period, sensor=None) -> str:
    """``cq_htm_<p>`` for the database, ``cq_htm_<p>_<sensor slug>_<hash>`` for one sensor."""
    name = CQ_PREFIX + period.every
    return name if sensor is None else f"{name}_{_sensor_slug(sensor)}"


def _select_list() -> str:
    columns = [f"mean({quote_ident(name)}) AS {quote_ident(name)}" for name in (VALUE, PREDICTION)]
    for score in SCORE_FIELDS:
        columns.append(f"max({quote_ident(score)}) AS {quote_ident(score + '_max')}")
        columns.append(f"mean({quote_ident(score)}) AS {quote_ident(score + '_mean')}")
    return ", ".join(columns)


def _regex_literal(pattern: str) -> str:
    return "/" + pattern.replace("/", "\\/") + "/"


def cq_statement(database: str, period: Period, source_rp: str, sensor=None, suffix: str = RESULT_SUFFIX) -> str:
    """The CREATE CONTINUOUS QUERY statement for one period (database-wide or for one sensor)."""
    db = quote_ident(database)
    target = f"{db}.{quote_ident(rp_name(period))}"
    if sensor is None:
        into = f"{target}.:MEASUREMENT"
        source = f"{db}.{quote_ident(source_rp)}.{_regex_literal('^.*' + re.escape(suffix) + '$')}"
        where = ""
    else:
        measurement = result_measurement(sensor.measurement, suffix)
        into = f"{target}.{quote_ident(measurement)}"
        source = f"{db}.{quote_ident(source_rp)}.{quote_ident(measurement)}"
        tags = result_tags(sensor.tags, sensor.field)
        where = " WHERE " + " AND ".join(f"{quote_ident(k)}::tag = {quote_literal(v)}" for k, v in sorted(tags.items()))
    return (
        f"CREATE CONTINUOUS QUERY {quote_ident(cq_name(period, sensor))} ON {db} BEGIN "
        f"SELECT {_select_list()} INTO {into} FROM {source}{where} "
        f"GROUP BY time({period.every}), * END"
    )


def _normalized(statement: str) -> str:
    """InfluxDB re-renders stored CQs without needless quotes; compare with quotes and spacing removed."""
    return re.sub(r"\s+", " ", statement.replace('"', "")).strip()


def _existing_rps(client, database: str) -> dict:
    result = client.query(f"SHOW RETENTION POLICIES ON {quote_ident(database)}")
    return {row["name"]: row for row in result.get_points()}


def _existing_cqs(client, database: str) -> dict:
    result = client.query("SHOW CONTINUOUS QUERIES")
    return {row["name"]: row["query"] for row in result.get_points(measurement=database)}


def default_rp(client, database: str) -> str:
    """The database's default retention policy."""
    for name, row in _existing_rps(client, database).items():
        if row.get("default"):
            return name
    raise ValueError(f"database {database!r} has no default retention policy (does it exist?)")


def plan_retention(client, periods: list[Period], *, sensor=None, source_rp: str | None = None) -> list[Change]:
    """What :func:`setup_retention` would change, from the server's current RPs and CQs (read-only)."""
    database = client.database
    rps = _existing_rps(client, database)
    cqs = _existing_cqs(client, database)
    if source_rp is None:
        source_rp = (sensor.retention_policy if sensor is not None else None) or default_rp(client, database)
    changes = []
    db = quote_ident(database)
    for period in periods:
        name = rp_name(period)
        duration = period.keep
        if name not in rps:
            changes.append(
                Change(
                    "create",
                    "retention policy",
                    name,
                    (f"CREATE RETENTION POLICY {quote_ident(name)} ON {db} DURATION {duration} REPLICATION 1",),
                )
            )
        elif parse_duration(rps[name]["duration"]) != parse_duration(duration):
            changes.append(
                Change(
                    "alter",
                    "retention policy",
                    name,
                    (f"ALTER RETENTION POLICY {quote_ident(name)} ON {db} DURATION {duration}",),
                )
            )
    for period in periods:
        name = cq_name(period, sensor)
        statement = cq_statement(database, period, source_rp, sensor, client.result_suffix)
        if name not in cqs:
            changes.append(Change("create", "continuous query", name, (statement,)))
        elif _normalized(cqs[name]) != _normalized(statement):
            changes.append(
                Change(
                    "replace",
                    "continuous query",
                    name,
                    (f"DROP CONTINUOUS QUERY {quote_ident(name)} ON {db}", statement),
                )
            )
    return changes


def _apply(client, changes: list[Change]) -> None:
    for change in changes:
        for statement in change.statements:
            client.query(statement, method="POST")


def setup_retention(
    client, periods, *, sensor=None, source_rp: str | None = None, dry_run: bool = False
) -> list[Change]:
    """Create/alter the RPs and create/replace the CQs for ``periods`` (a list or ``"10m:30d,..."``).

    Returns the changes made (or, with ``dry_run``, that would be made); running it twice returns
    nothing the second time.
    """
    if isinstance(periods, str):
        periods = parse_periods(periods)
    changes = plan_retention(client, periods, sensor=sensor, source_rp=source_rp)
    if not dry_run:
        _apply(client, changes)
    return changes


def show_retention(client, *, sensor=None) -> dict:
    """The ``htm_*`` retention policies and the ``cq_htm_*`` continuous queries (of one sensor if given)."""
    database = client.database
    rps = {name: row for name, row in _existing_rps(client, database).items() if name.startswith(RP_PREFIX)}
    cqs = _existing_cqs(client, database)
    if sensor is None:
        cqs = {name: q for name, q in cqs.items() if name.startswith(CQ_PREFIX)}
    else:
        suffix = "_" + _sensor_slug(sensor)
        cqs = {name: q for name, q in cqs.items() if name.startswith(CQ_PREFIX) and name.endswith(suffix)}
    return {"retention_policies": rps, "continuous_queries": cqs}


def drop_retention(client, *, sensor=None, keep_policies: bool = False, dry_run: bool = False) -> list[Change]:
    """Drop the ``cq_htm_*`` CQs (of one sensor if given) and, for the database unless ``keep_policies``,
    the ``htm_*`` retention policies, which deletes the downsampled data in them."""
    current = show_retention(client, sensor=sensor)
    db = quote_ident(client.database)
    changes = [
        Change("drop", "continuous query", name, (f"DROP CONTINUOUS QUERY {quote_ident(name)} ON {db}",))
        for name in sorted(current["continuous_queries"])
    ]
    if sensor is None and not keep_policies:
        changes += [
            Change("drop", "retention policy", name, (f"DROP RETENTION POLICY {quote_ident(name)} ON {db}",))
            for name in sorted(current["retention_policies"])
        ]
    if not dry_run:
        _apply(client, changes)
    return changes
