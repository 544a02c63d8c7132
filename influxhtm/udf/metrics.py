"""Metrics of the HTM UDF server: plain in-process counters, gauges and a histogram.

They cost a lock and an addition each and import nothing, so the server starts with the engine and protobuf
only. `serve_metrics` (--metrics HOST:PORT) imports prometheus_client and exposes them through a custom
collector under the names below (counters get prometheus' `_total` suffix). What it exposes is a list of
snapshots (`UdfMetrics.snapshot`, plain data) with the labels that tell them apart: one unlabelled snapshot
for a local server; in cluster mode one per model host (label `host`), gathered at each scrape, plus the
front's own.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Callable, Union

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


@dataclass
class Family:
    """One metric's values at one moment, as plain data (what a model host sends its front).

    kind "counter" and "gauge": `values` maps the label value ("" without `label`) to the number;
    kind "histogram": `buckets` holds (upper bound, cumulative count) with +Inf last, and `total` the sum."""

    kind: str
    name: str
    documentation: str
    label: str = ""
    values: dict[str, float] = field(default_factory=dict)
    buckets: list[tuple[float, int]] = field(default_factory=list)
    total: float = 0.0


Snapshot = list[Family]
Source = tuple[dict[str, str], Snapshot]  # (labels that set a snapshot apart, e.g. {"host": "host-0"}; snapshot)


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
            "(ENOSPC, EDQUOT, EIO, ENOENT, EROFS, EACCES, ...; short_write; fenced: another model host owns the "
            "model now, cluster mode)",
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

    def snapshot(self) -> Snapshot:
        """Every metric's current values."""
        out = []
        for counter in (self.points_in, self.points_out, self.checkpoints, self.tasks_reenabled):
            out.append(Family("counter", counter.name, counter.documentation, values={"": counter.value}))
        for labeled in (self.bad_points, self.quarantined, self.storage_write_failures):
            out.append(Family("counter", labeled.name, labeled.documentation, labeled.label, labeled.values()))
        for gauge in (self.models, self.checkpoint_age, self.degraded_models):
            out.append(Family("gauge", gauge.name, gauge.documentation, values={"": gauge.value}))
        h = self.step_seconds
        cumulative, total, _ = h.snapshot()
        out.append(Family("histogram", h.name, h.documentation, buckets=cumulative, total=total))
        return out

    def serve(self, address: str) -> None:
        """Serve this process's metrics (see serve_metrics)."""
        serve_metrics(address, lambda: [({}, self.snapshot())])


CLUSTER_HOSTS = ("influxhtm_udf_cluster_hosts", "Model hosts the cluster front sends to (alive as far as it knows)")


def cluster_sources(front: UdfMetrics, alive: int, hosts: dict[str, Snapshot]) -> list[Source]:
    """A cluster front's metrics: what the front counts (the points it exchanged with Kapacitor, the tasks
    it re-enabled) and its live hosts, unlabelled; then each host's snapshot in `hosts` (its models, bad
    points, checkpoints, step times, storage faults) with the label host."""
    counted_by_front = {c.name for c in (front.points_in, front.points_out, front.tasks_reenabled)}
    own = [f for f in front.snapshot() if f.name in counted_by_front]
    own.append(Family("gauge", *CLUSTER_HOSTS, values={"": float(alive)}))
    out: list[Source] = [({}, own)]
    for name, snapshot in sorted(hosts.items()):
        out.append(({"host": name}, [f for f in snapshot if f.name not in counted_by_front]))
    return out


def serve_metrics(address: str, sources: Callable[[], list[Source]]) -> None:
    """Serve in Prometheus' text format over HTTP on HOST:PORT, in a daemon thread, the snapshots that
    `sources()` gives at each scrape."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"--metrics expects HOST:PORT, got {address!r}")
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(_collector(sources))
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)


def _collector(sources: Callable[[], list[Source]]):
    """A prometheus_client collector: each metric of every source, the source's labels added (one family per
    name; prometheus_client is imported by now)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    kinds: dict[str, type[Union[CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily]]] = {
        "counter": CounterMetricFamily,
        "gauge": GaugeMetricFamily,
        "histogram": HistogramMetricFamily,
    }

    class UdfCollector:
        def collect(self):
            families: dict[str, Union[CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily]] = {}
            for labels, snapshot in sources():
                for f in snapshot:
                    family = families.get(f.name)
                    if family is None:
                        names = [*labels, f.label] if f.label else list(labels)
                        family = families[f.name] = kinds[f.kind](f.name, f.documentation, labels=names)
                    if isinstance(family, HistogramMetricFamily):
                        buckets = [("+Inf" if b == float("inf") else repr(float(b)), float(n)) for b, n in f.buckets]
                        family.add_metric(list(labels.values()), buckets, f.total)
                        continue
                    for value, number in sorted(f.values.items()):
                        family.add_metric([*labels.values(), value] if f.label else list(labels.values()), number)
            yield from families.values()

    return UdfCollector()
