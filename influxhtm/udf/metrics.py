"""Prometheus metrics of the HTM UDF server (served with --metrics HOST:PORT)."""
from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from .points import BAD_REASONS


class UdfMetrics:
    """Counters, gauges and the step-latency histogram; one registry per server process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.points_in = Counter("influxhtm_udf_points_in", "Points received from Kapacitor", registry=r)
        self.points_out = Counter("influxhtm_udf_points_out", "Points sent back to Kapacitor", registry=r)
        self.bad_points = Counter(
            "influxhtm_udf_bad_points", "Points not scored, by reason", ["reason"], registry=r
        )
        for reason in BAD_REASONS:
            self.bad_points.labels(reason)
        self.models = Gauge("influxhtm_udf_models", "Models resident in memory", registry=r)
        self.checkpoints = Counter("influxhtm_udf_checkpoints", "Model checkpoints written", registry=r)
        self.step_seconds = Histogram(
            "influxhtm_udf_step_seconds",
            "Time of one model step (journal append + HTM) per point; one observation per model update "
            "(a point, or one group's share of a backlog run)",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
            registry=r,
        )
        self.checkpoint_age = Gauge(
            "influxhtm_udf_checkpoint_age_seconds",
            "Seconds since the oldest model with unsaved updates was last checkpointed",
            registry=r,
        )

    def track_checkpoint_age(self, oldest_unsaved: Callable[[], float | None]) -> None:
        """oldest_unsaved() gives the monotonic time of the oldest pending checkpoint, or None."""

        def age() -> float:
            since = oldest_unsaved()
            return 0.0 if since is None else max(0.0, time.monotonic() - since)

        self.checkpoint_age.set_function(age)

    def serve(self, address: str) -> None:
        """Serve the metrics over HTTP on HOST:PORT in a daemon thread."""
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            raise ValueError(f"--metrics expects HOST:PORT, got {address!r}")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)
