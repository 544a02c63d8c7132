"""Process CPU and memory accounting shared by the benchmarks (Linux /proc)."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

from influxhtm.htm.allocator import release_free_heap


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:  # fields after the command name: utime is #14, stime #15
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_mb(pid: int | str, key: str) -> float:
    """A /proc/<pid>/status memory line (kB) in MB; NaN if absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def resident_mb() -> float:
    """This process's resident set in MB."""
    return _status_mb("self", "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM) in MB."""
    return _status_mb(pid, "VmHWM")


@dataclass
class ModelMemory:
    """RSS figures of `models_rss` (MB)."""

    fresh: float  # added per model when created
    grown: float  # added per model once fed
    once: float  # taken once by the process when its first model was fed (shared by all models)
    models: list  # the first model and the measured ones (kept alive while measured)


def models_rss(
    create: Callable[[], Any], records: Sequence, step: Callable[[Any, Any], None], models: int, in_turn: bool = False
) -> ModelMemory:
    """RSS per model with `models` models in this process, each given every record of `records` by
    `step(model, record)`: one model after the other, or `in_turn` (each record to every model, as a UDF
    server meets its groups' points). A first model, created and fed before the others, pays the
    process's one-time costs (state every model of a parameter set shares, working buffers shared by the
    models of a thread); the per-model figures are what each further model adds, the ones that size a
    machine for many series. Each reading follows `release_free_heap`, which a process holding models
    calls every 30 s."""

    def trimmed_rss_mb() -> float:
        release_free_heap()
        return resident_mb()

    base = trimmed_rss_mb()
    first = create()
    for record in records:
        step(first, record)
    warm = trimmed_rss_mb()
    measured = [create() for _ in range(models)]
    created = trimmed_rss_mb()
    if in_turn:
        for record in records:
            for model in measured:
                step(model, record)
    else:
        for model in measured:
            for record in records:
                step(model, record)
    grown = (trimmed_rss_mb() - warm) / models
    return ModelMemory((created - warm) / models, grown, warm - base - grown, [first, *measured])
