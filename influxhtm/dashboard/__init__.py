"""``influxhtm dashboard``: a live web view of the HTM results in an InfluxDB database.

One page lists the models (result series) with their state and charts each one: value and prediction,
anomaly score with the alert threshold, alerts marked, learning periods shaded; it polls for new points
and appends them. The server (:mod:`influxhtm.dashboard.server`) is imported on first use, so
registering the CLI subcommand loads neither ``influxdb`` nor ``plotly``.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["serve_in_thread"]


def serve_in_thread(influx_url: str, database: str, listen: str = "127.0.0.1:0", **options) -> tuple[str, Callable]:
    """Start the live view in a daemon thread of this process; returns ``(url, stop)``.

    ``options``: ``threshold`` (default 0.5), ``retention_policy``, ``username``, ``password``,
    ``retry_timeout``, ``poll_ms`` (see :func:`influxhtm.dashboard.server.make_server`).
    """
    from .server import serve_in_thread as serve

    return serve(influx_url, database, listen, **options)
