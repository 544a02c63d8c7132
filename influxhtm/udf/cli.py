"""`influxhtm udf` (registered into the influxhtm CLI); `influxhtm models` lives with the store
(influxhtm/store/cli.py)."""

from __future__ import annotations

from .main import add_udf_arguments, run_udf


def register(subparsers) -> None:
    """Add the `udf` subcommand to an argparse subparsers object."""
    udf = subparsers.add_parser(
        "udf",
        help="run the Kapacitor HTM UDF (socket server or process)",
        description="Run the HTM anomaly UDF for Kapacitor.",
    )
    add_udf_arguments(udf)
    udf.set_defaults(func=run_udf)
