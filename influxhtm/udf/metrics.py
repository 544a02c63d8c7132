"""Metrics of the HTM UDF server: plain in-process counters, gauges and a histogram.

They cost a lock and an addition each and import nothing, so the server starts with the engine and protobuf
only. `UdfMetrics.serve` (--metrics HOST:PORT) imports prometheus_client and exposes them through a custom
collector under the names below (counters get prometheus' `_total` suffix).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from typing import Callable

from .points import BAD_REASONS

STEP_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
QUARANTINE_CAUSES = ("unloadable", "options_changed")


class Counter:
    """A monotonically increasing number."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self._value = 0.0
        self._lock = threading.Lock()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            self._value += amount

    @property
    def value(self) -> float:
        return self._value


class LabeledCounter:
    """Counters by the value of one label (e.g. reason); `labels(value)` gives (and creates) one."""

    def __init__(self, name: str, documentation: str, label: str, values: Iterable[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self._children: dict[str, Counter] = {}
        self._lock = threading.Lock()
        for value in values:
            self.labels(value)

    def labels(self, value: str) -> Counter:
        child = self._children.get(value)
        if child is None:
            with self._lock:
                child = self._children.setdefault(value, Counter(self.name, self.documentation))
        return child

    def values(self) -> dict[str, float]:
        with self._lock:
            children = dict(self._children)
        return {label: child.value for label, child in children.items()}


class Gauge:
    """A number that goes up and down, or the result of a function read when the metrics are collected."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self._value = 0.0
        self._function: Callable[[], float] | None = None

    def set(self, value: float) -> None:
        self._value = float(value)

    def set_function(self, function: Callable[[], float]) -> None:
        self._function = function

    @property
    def value(self) -> float:
        return float(self._function()) if self._function is not None else self._value


class Histogram:
    """Observations counted in cumulative buckets (upper bounds `buckets`, then +Inf), with their sum."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * (len(self.buckets) + 1)  # per bucket, not cumulative; last: above every bound
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)  # the first bound >= value (bounds are inclusive)
        with self._lock:
            self._counts[index] += 1
            self._sum += value

    def snapshot(self) -> tuple[list[tuple[float, int]], float, int]:
        """(cumulative counts per upper bound, +Inf last; sum; count)."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), counts):
            running += count
            cumulative.append((bound, running))
        return cumulative, total, running

    @property
    def count(self) -> int:
        return self.snapshot()[2]


class UdfMetrics:
    """Counters, gauges and the step-latency histogram of one server process."""

    def __init__(self) -> None:
        self.points_in = Counter("influxhtm_udf_points_in", "Points received from Kapacitor")
        self.points_out = Counter("influxhtm_udf_points_out", "Points sent back to Kapacitor")
        self.bad_points = LabeledCounter(
            "influxhtm_udf_bad_points", "Points not scored, by reason", "reason", BAD_REASONS
        )
        self.models = Gauge("influxhtm_udf_models", "Models resident in memory")
        self.checkpoints = Counter("influxhtm_udf_checkpoints", "Model checkpoints written")
        self.quarantined = LabeledCounter(
            "influxhtm_udf_quarantined_models",
            "Stored models moved to the quarantine instead of being resumed, by cause (unloadable: corrupt, "
            "a newer format, or refused by the engine; options_changed: the task's model options changed)",
            "cause",
            QUARANTINE_CAUSES,
        )
        self.step_seconds = Histogram(
            "influxhtm_udf_step_seconds",
            "Time of one model step (journal append + HTM) per point; one observation per model update "
            "(a point, or one group's share of a backlog run)",
            STEP_BUCKETS,
        )
        self.degraded_models = Gauge(
            "influxhtm_udf_degraded_models",
            "Models whose storage writes fail: scored, but their inputs are not journaled until a full "
            "checkpoint lands again",
        )
        self.storage_write_failures = LabeledCounter(
            "influxhtm_udf_storage_write_failures",
            "Failed writes to the state dir (journal appends, checkpoints, metadata), by errno name "
            "(ENOSPC, EDQUOT, EIO, ENOENT, EROFS, EACCES, ...; short_write)",
            "errno",
        )
        self.tasks_reenabled = Counter(
            "influxhtm_udf_tasks_reenabled", "Kapacitor tasks disabled and enabled again after the server started"
        )
        self.checkpoint_age = Gauge(
            "influxhtm_udf_checkpoint_age_seconds",
            "Seconds since the oldest model with unsaved updates was last checkpointed",
        )

    def track_checkpoint_age(self, oldest_unsaved: Callable[[], float | None]) -> None:
        """oldest_unsaved() gives the monotonic time of the oldest pending checkpoint, or None."""

        def age() -> float:
            since = oldest_unsaved()
            return 0.0 if since is None else max(0.0, time.monotonic() - since)

        self.checkpoint_age.set_function(age)

    def serve(self, address: str) -> None:
        """Serve the metrics in Prometheus' text format over HTTP on HOST:PORT in a daemon thread."""
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            raise ValueError(f"--metrics expects HOST:PORT, got {address!r}")
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()
        registry.register(_collector(self))
        start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)


def _collector(metrics: UdfMetrics):
    """A prometheus_client collector reading `metrics` at every scrape (prometheus_client imported by now)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    class UdfCollector:
        def collect(self):
            for counter in (metrics.points_in, metrics.points_out, metrics.checkpoints, metrics.tasks_reenabled):
                yield CounterMetricFamily(counter.name, counter.documentation, value=counter.value)
            for labeled in (metrics.bad_points, metrics.quarantined, metrics.storage_write_failures):
                family = CounterMetricFamily(labeled.name, labeled.documentation, labels=[labeled.label])
                for label, value in sorted(labeled.values().items()):
                    family.add_metric([label], value)
                yield family
            for gauge in (metrics.models, metrics.checkpoint_age, metrics.degraded_models):
                yield GaugeMetricFamily(gauge.name, gauge.documentation, value=gauge.value)
            h = metrics.step_seconds
            cumulative, total, _ = h.snapshot()
            buckets = [("+Inf" if bound == float("inf") else repr(float(bound)), count) for bound, count in cumulative]
            yield HistogramMetricFamily(h.name, h.documentation, buckets=buckets, sum_value=total)

    return UdfCollector()
