"""Batch jobs on a Ray cluster: one task per item, spread over the nodes, results as the tasks finish."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def spread(address: str, func: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, str]]:
    """Run `func(item)` as one Ray task per item on the cluster at address ('auto': a local Ray); yields
    (result, id of the node that ran it) in the order the tasks finish. `func` must be importable on every
    node; the tasks see this process's INFLUX* environment variables. A task's error is raised here."""
    try:
        import ray

        from .connect import connect
    except ImportError as exc:
        raise ValueError(f"--cluster needs Ray: pip install 'influxhtm[cluster]' ({exc})") from None
    connect(address)
    try:
        env = {name: value for name, value in os.environ.items() if name.startswith("INFLUX")}
        task = ray.remote(_located).options(scheduling_strategy="SPREAD", runtime_env={"env_vars": env})
        pending = [task.remote(func, item) for item in items]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        ray.shutdown()


def _located(func: Callable[[Any], Any], item: Any) -> tuple[Any, str]:
    import ray

    return func(item), ray.get_runtime_context().get_node_id()
