"""CLI subcommands on InfluxDB: ``sensors list|data``, ``backfill``, ``plot``, ``retention setup|show|drop``,
``migrate-results``.

Connection flags default to the environment: INFLUX_HOST, INFLUX_PORT, INFLUX_DATABASE, INFLUX_USERNAME,
INFLUX_PASSWORD, INFLUX_SSL, INFLUX_RETRY_TIMEOUT; the model store to INFLUXHTM_STATE_DIR.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterable

from .results import MIGRATE_CHUNK
from .schema import ANOMALY_SCORE, LEGACY_FIELD_TAG, RESULT_SUFFIX, SOURCE_FIELD_TAG

__all__ = ["connect", "register"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _connection_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection (defaults from INFLUX_* environment variables)")
    group.add_argument("--host", help="InfluxDB host (INFLUX_HOST, default localhost)")
    group.add_argument("--port", help="InfluxDB HTTP port (INFLUX_PORT, default 8086)")
    group.add_argument("--database", help="database (INFLUX_DATABASE, default htm)")
    group.add_argument("--username", help="user (INFLUX_USERNAME, default root)")
    group.add_argument("--password", help="password (INFLUX_PASSWORD, default root)")
    group.add_argument("--ssl", action="store_true", default=None, help="use HTTPS (INFLUX_SSL=1)")
    group.add_argument(
        "--retry-timeout",
        metavar="SECONDS",
        help="keep retrying while InfluxDB is unreachable or answers 5xx for this long, then fail; "
        "0: no retries (INFLUX_RETRY_TIMEOUT, default 300)",
    )
    group.add_argument(
        "--state-dir",
        help="model store, shared with `influxhtm udf` (INFLUXHTM_STATE_DIR, default $XDG_STATE_HOME/influxhtm)",
    )
    return parent


def _sensor_parent(required: bool) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("sensor")
    group.add_argument("--measurement", required=required, help="measurement of the sensor")
    group.add_argument("--component", help="value of the identifying tag (default: whole measurement)")
    group.add_argument("--tag-key", default="component", help="identifying tag (default component)")
    group.add_argument("--field", default="value", help="field holding the value (default value)")
    group.add_argument("--rp", help="retention policy of the data (default: the database's default)")
    return parent


def _range_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--since", help="from this time on (ISO 8601; no zone = UTC)")
    parent.add_argument("--until", help="up to this time (ISO 8601; no zone = UTC)")
    return parent


def connect(args):
    """An :class:`InfluxHtmClient` from the connection flags, falling back to the environment."""
    from .client import InfluxHtmClient

    env = os.environ
    port_text = args.port or env.get("INFLUX_PORT") or "8086"
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"invalid port {port_text!r} (from --port or INFLUX_PORT)") from None
    ssl = args.ssl
    if ssl is None:
        text = env.get("INFLUX_SSL", "").strip().lower()
        if text not in _TRUE | _FALSE:
            raise ValueError(f"invalid INFLUX_SSL {text!r}: use 1/0, true/false, yes/no")
        ssl = text in _TRUE
    retry_text = args.retry_timeout or env.get("INFLUX_RETRY_TIMEOUT") or None
    try:
        retry_timeout = None if retry_text is None else float(retry_text)
    except ValueError:
        raise ValueError(
            f"invalid retry timeout {retry_text!r} (from --retry-timeout or INFLUX_RETRY_TIMEOUT)"
        ) from None
    return InfluxHtmClient(
        host=args.host or env.get("INFLUX_HOST") or "localhost",
        port=port,
        username=args.username or env.get("INFLUX_USERNAME") or "root",
        password=args.password if args.password is not None else env.get("INFLUX_PASSWORD", "root"),
        database=args.database or env.get("INFLUX_DATABASE") or "htm",
        ssl=ssl,
        verify_ssl=ssl,
        tag_key=getattr(args, "tag_key", None) or "component",
        field=getattr(args, "field", None) or "value",
        model_dir=args.state_dir,
        retry_timeout=retry_timeout,
    )


def _sensor(client, args):
    return client.get_sensor(args.measurement, args.component, retention_policy=args.rp)


def _guarded(func):
    """Turn InfluxDB client errors into a clear message and exit status 2."""

    def run(args) -> int:
        from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError

        try:
            return func(args)
        except (InfluxDBClientError, InfluxDBServerError) as exc:
            print(f"influxhtm {args.command}: InfluxDB error: {exc}", file=sys.stderr)
            return 2

    return run


# -- sensors --------------------------------------------------------------------------------------


def _cmd_sensors_list(args) -> int:
    client = connect(args)
    sensors = client.list_sensors(args.measurement)
    if args.json:
        json.dump(
            [
                {"measurement": s.measurement, "tag_key": s.tag_key, "component": s.component, "field": s.field}
                for s in sensors
            ],
            sys.stdout,
            indent=2,
        )
        print()
    else:
        for s in sensors:
            print(f"{s.measurement}\t{s.tag_key}={'' if s.component is None else s.component}\t{s.field}")
    return 0


def _aggregation(args):
    if args.method is None:
        if args.period is not None:
            raise ValueError("--period needs --method")
        return None
    return {"method": args.method, "period": args.period}


def _cmd_sensors_data(args) -> int:
    client = connect(args)
    try:
        fill = float(args.fill)
    except ValueError:
        fill = args.fill
    rows = _sensor(client, args).get_data(
        since=args.since, until=args.until, limit=args.limit, aggregation=_aggregation(args), fill=fill
    )
    writer = csv.writer(sys.stdout)
    writer.writerow(["time", "value"])
    for row in rows:
        writer.writerow(
            [row["time"].isoformat().replace("+00:00", "Z"), "" if row["value"] is None else repr(row["value"])]
        )
    return 0


# -- backfill / plot ------------------------------------------------------------------------------


def _model_options(args) -> dict:
    options = {
        "min_value": args.min_value,
        "max_value": args.max_value,
        "tm": args.tm,
        "detector": args.detector,
        "prediction_steps": args.prediction_steps,
        "probation": args.probation,
        "timezone": args.timezone,
    }
    return {k: v for k, v in options.items() if v is not None}


def _cmd_backfill(args) -> int:
    if args.group_by:
        if len(args.group_by) > 1:
            raise ValueError("--group-by takes one tag: a sensor is identified by a single tag")
        if args.component is not None:
            raise ValueError("--component names one sensor; --group-by backfills every value of its tag")
        args.tag_key = args.group_by[0]
    client = connect(args)
    components = _group_components(client, args) if args.group_by else [args.component]
    job = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "func"})
    job.state_dir = str(client.model_dir)  # resolved here: a Ray task may run on another node
    job.quiet = args.quiet or args.cluster is not None
    jobs = [(job, component) for component in components]
    finished: Iterable[tuple[str, int, str, int, str | None]]
    if args.cluster:
        from .cluster.tasks import spread

        finished = (summary for summary, _node in spread(args.cluster, _backfill_one, jobs))
    else:
        finished = map(_backfill_one, jobs)
    total = 0
    for sensor, count, model_id, seen, last in finished:
        total += count
        print(
            f"backfill {sensor}: {count} records scored; model {model_id} has seen {seen} up to {last or '-'}",
            file=sys.stderr,
        )
    if args.group_by:
        print(f"backfill: {total} records scored in {len(jobs)} series", file=sys.stderr)
    return 0


def _group_components(client, args) -> list[str]:
    """The values of the --group-by tag in --measurement's series having the numeric --field."""
    found = [s.component for s in client.list_sensors(args.measurement) if s.component is not None]
    if not found:
        raise ValueError(
            f"no series of {args.measurement!r} with tag {args.tag_key!r} and numeric field {args.field!r}"
        )
    return found


def _backfill_one(job) -> tuple[str, int, str, int, str | None]:
    """Backfill one sensor with its own client and model: (sensor, records scored, model id, records seen,
    last time)."""
    args, component = job
    sensor = connect(args).get_sensor(args.measurement, component, retention_policy=args.rp)
    model = sensor.get_model(**_model_options(args))
    count = model.backfill(since=args.since, until=args.until, chunk_size=args.chunk_size, progress=not args.quiet)
    last = model.last_time
    return repr(sensor), count, model.model_id, model.records_seen, last.isoformat() if last else None


def _cmd_plot(args) -> int:
    from .plot import plot_results

    client = connect(args)
    sensor = _sensor(client, args)
    results = sensor.get_model().get_results(since=args.since, until=args.until)
    flagged = plot_results(
        results,
        args.output,
        threshold=args.threshold,
        title=f"{sensor.measurement} {sensor.tag_key}={sensor.component} ({sensor.field})",
    )
    print(f"wrote {args.output}: {len(results)} points, {flagged} over {args.threshold}", file=sys.stderr)
    return 0


# -- retention ------------------------------------------------------------------------------------


def _retention_sensor(client, args):
    if args.measurement is None:
        if args.component is not None:
            raise ValueError("--component needs --measurement")
        return None
    return _sensor(client, args)


def _print_changes(changes, dry_run: bool) -> None:
    if not changes:
        print("nothing to change", file=sys.stderr)
    for change in changes:
        print(f"-- {change.action} {change.kind} {change.name}" + (" (dry run)" if dry_run else ""))
        for statement in change.statements:
            print(statement + ";")


def _cmd_retention_setup(args) -> int:
    from .retention import parse_periods, setup_retention

    periods = parse_periods(args.periods)
    client = connect(args)
    changes = setup_retention(
        client, periods, sensor=_retention_sensor(client, args), source_rp=args.source_rp, dry_run=args.dry_run
    )
    _print_changes(changes, args.dry_run)
    return 0


def _cmd_retention_show(args) -> int:
    from .retention import show_retention

    client = connect(args)
    shown = show_retention(client, sensor=_retention_sensor(client, args))
    for name, row in sorted(shown["retention_policies"].items()):
        print(f"retention policy {name}\tduration {row['duration']}\tshard {row['shardGroupDuration']}")
    for name, query in sorted(shown["continuous_queries"].items()):
        print(f"continuous query {name}\t{query}")
    return 0


def _cmd_retention_drop(args) -> int:
    from .retention import drop_retention

    client = connect(args)
    changes = drop_retention(
        client, sensor=_retention_sensor(client, args), keep_policies=args.keep_policies, dry_run=args.dry_run
    )
    _print_changes(changes, args.dry_run)
    return 0


# -- migration from the old tag ------------------------------------------------------------------


def _cmd_migrate_results(args) -> int:
    from .results import migrate_results

    client = connect(args)
    report = migrate_results(
        client, args.measurement, drop_old=args.drop_old, dry_run=args.dry_run, chunk_size=args.chunk_size
    )
    verb = "to copy" if args.dry_run else "copied"
    for item in report.copied:
        print(f"{item.retention_policy}.{item.measurement}	{item.points} points {verb}")
    for statement in report.dropped:
        print("-- drop the old-tag series" + (" (dry run)" if args.dry_run else ""))
        print(statement + ";")
    if not report.copied and not report.dropped:
        print("no results under the old tag", file=sys.stderr)
    elif report.copied and not args.drop_old:
        print("old-tag series kept; run again with --drop-old to delete them", file=sys.stderr)
    return 0


# -- registration ---------------------------------------------------------------------------------


def register(subparsers) -> None:
    """Add ``sensors``, ``backfill``, ``plot``, ``retention`` and ``migrate-results`` to ``influxhtm``."""
    from influxhtm.htm.params import DEFAULT_DETECTOR, DEFAULT_PROBATION, DEFAULT_TM, DETECTORS, TM_CHOICES

    conn = _connection_parent()
    when = _range_parent()

    sensors = subparsers.add_parser("sensors", help="list sensors in InfluxDB or print their data")
    sensors_sub = sensors.add_subparsers(dest="sensors_command", required=True)
    p = sensors_sub.add_parser("list", parents=[conn], help="list sensors (measurement, tag value, field)")
    p.add_argument("--measurement", help="only this measurement")
    p.add_argument("--tag-key", default="component", help="identifying tag (default component)")
    p.add_argument("--field", default="value", help="value field (default value)")
    p.add_argument("--json", action="store_true", help="JSON instead of tab-separated lines")
    p.set_defaults(func=_guarded(_cmd_sensors_list))
    p = sensors_sub.add_parser(
        "data", parents=[conn, _sensor_parent(True), when], help="print a sensor's data as CSV (time,value)"
    )
    p.add_argument("--limit", type=int, help="first N points from --since, or last N up to --until")
    p.add_argument(
        "--method", help="aggregate: mean, median, min, max, sum, count, first, last, spread, stddev, percentile_N"
    )
    p.add_argument("--period", help="aggregation period, e.g. 10m")
    p.add_argument("--fill", default="none", help="empty periods: none (default), null, previous, linear or a number")
    p.set_defaults(func=_guarded(_cmd_sensors_data))

    p = subparsers.add_parser(
        "backfill",
        parents=[conn, _sensor_parent(True), when],
        help="run the sensor's HTM model over its stored history (resumable)",
    )
    p.add_argument("--min", type=float, dest="min_value", help="data minimum (default: stored data's)")
    p.add_argument("--max", type=float, dest="max_value", help="data maximum (default: stored data's)")
    p.add_argument("--tm", choices=TM_CHOICES, help=f"temporal memory (default {DEFAULT_TM})")
    p.add_argument(
        "--detector",
        choices=DETECTORS,
        help=f"numenta: NuPIC's detector; ensemble: HTM fused with ARTime (default {DEFAULT_DETECTOR})",
    )
    p.add_argument("--prediction-steps", type=int, help="also predict N steps ahead (prediction field)")
    p.add_argument("--probation", type=int, help=f"likelihood probation in records (default {DEFAULT_PROBATION})")
    p.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone (e.g. Europe/Berlin) whose wall clock the model's time-of-day encoding sees "
        "(default UTC); kept with the model",
    )
    p.add_argument("--chunk-size", type=int, default=5000, help="records per read/checkpoint (default 5000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--group-by",
        action="append",
        metavar="TAG",
        help="backfill every series of --measurement: one model per value of TAG (the sensors' identifying "
        "tag, instead of --tag-key/--component)",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="backfill each series as one task on the Ray cluster at ADDRESS (e.g. 10.0.0.5:6379; auto: start a "
        "local Ray); the model store (--state-dir) must be a directory every node reaches (needs "
        "influxhtm[cluster])",
    )
    p.set_defaults(func=_guarded(_cmd_backfill))

    p = subparsers.add_parser(
        "plot",
        parents=[conn, _sensor_parent(True), when],
        help="PNG of value, prediction and anomaly score of a sensor's results",
    )
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--threshold", type=float, default=0.5, help=f"mark points with {ANOMALY_SCORE} over it")
    p.set_defaults(func=_guarded(_cmd_plot))

    retention = subparsers.add_parser("retention", help="retention policies + continuous queries for results")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    p = retention_sub.add_parser(
        "setup", parents=[conn, _sensor_parent(False)], help="create RPs htm_<p> and CQs cq_htm_<p> (idempotent)"
    )
    p.add_argument(
        "--periods", default="10m:30d,1h:365d,1d:INF", help="EVERY:KEEP,... (default 10m:30d,1h:365d,1d:INF)"
    )
    p.add_argument("--source-rp", help="RP the results are written to (default: the database's default)")
    p.add_argument("--dry-run", action="store_true", help="print the InfluxQL, change nothing")
    p.set_defaults(func=_guarded(_cmd_retention_setup))
    p = retention_sub.add_parser(
        "show", parents=[conn, _sensor_parent(False)], help="show the htm_* RPs and cq_htm_* CQs"
    )
    p.set_defaults(func=_guarded(_cmd_retention_show))
    p = retention_sub.add_parser(
        "drop", parents=[conn, _sensor_parent(False)], help="drop the CQs and (for a database) the RPs with their data"
    )
    p.add_argument("--keep-policies", action="store_true", help="drop only the continuous queries")
    p.add_argument("--dry-run", action="store_true", help="print the InfluxQL, change nothing")
    p.set_defaults(func=_guarded(_cmd_retention_drop))

    p = subparsers.add_parser(
        "migrate-results",
        parents=[conn],
        help=f"rewrite results stored under the old tag {LEGACY_FIELD_TAG!r} under {SOURCE_FIELD_TAG!r}",
        description=f"Copy every result point tagged {LEGACY_FIELD_TAG}=<field> (and no {SOURCE_FIELD_TAG}) to "
        f"the same point tagged {SOURCE_FIELD_TAG}=<field>, in every retention policy of the "
        "database; with --drop-old then drop the old series. Idempotent.",
    )
    p.add_argument(
        "--measurement",
        action="append",
        help=f"only this result measurement (repeatable; default every *{RESULT_SUFFIX} one)",
    )
    p.add_argument("--drop-old", action="store_true", help="after copying, DROP SERIES of the old-tag series")
    p.add_argument("--dry-run", action="store_true", help="count the points and print the statements, change nothing")
    p.add_argument(
        "--chunk-size", type=int, default=MIGRATE_CHUNK, help=f"points per read/write (default {MIGRATE_CHUNK})"
    )
    p.set_defaults(func=_guarded(_cmd_migrate_results))
