"""The ``influxhtm dashboard`` subcommand (argparse only here: the server loads when the command runs)."""

from __future__ import annotations

import os
import sys

from .alerts import ALERT_THRESHOLD
from .data import HISTORY

DEFAULT_LISTEN = "127.0.0.1:8050"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="live web view of the HTM results in an InfluxDB database (models, scores, alerts)",
        description="Serve a web page that charts every HTM result series of a database as it streams in: "
        "value and prediction, anomaly score with the alert threshold, alerts, learning periods.",
    )
    p.add_argument(
        "--influx-url",
        default=os.environ.get("INFLUX_URL", "http://localhost:8086"),
        help="InfluxDB 1.x HTTP API (INFLUX_URL, default http://localhost:8086)",
    )
    p.add_argument(
        "--database",
        default=os.environ.get("INFLUX_DATABASE", "htm"),
        help="database holding the results (INFLUX_DATABASE, default htm)",
    )
    p.add_argument("--rp", dest="retention_policy", help="retention policy of the results (default: the database's)")
    p.add_argument("--username", default=os.environ.get("INFLUX_USERNAME", "root"), help="user (INFLUX_USERNAME)")
    p.add_argument("--password", default=os.environ.get("INFLUX_PASSWORD", "root"), help="password (INFLUX_PASSWORD)")
    p.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT to serve on (default {DEFAULT_LISTEN}; port 0: any free)"
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=ALERT_THRESHOLD,
        help=f"alert when anomaly_score >= this and the model is past probation (default {ALERT_THRESHOLD})",
    )
    p.add_argument(
        "--history",
        type=int,
        default=HISTORY,
        help=f"points of each series the page loads when it opens, newest first (default {HISTORY})",
    )
    p.set_defaults(func=_cmd_dashboard)


def _cmd_dashboard(args) -> int:
    from .server import make_server

    server = make_server(
        args.influx_url,
        args.database,
        args.listen,
        threshold=args.threshold,
        retention_policy=args.retention_policy,
        username=args.username,
        password=args.password,
        history=args.history,
    )
    print(f"influxhtm dashboard: {server.url} (database {args.database} at {args.influx_url}; Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
