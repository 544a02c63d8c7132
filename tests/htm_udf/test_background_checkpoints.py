"""Checkpoints written in the background while the stream goes on: what lands on disk, and what a failed
or never-finished checkpoint costs (nothing: the journals keep every input)."""

import math
import threading

from influxhtm.store import ModelStore
from influxhtm.udf import ModelRegistry
from tests.htm_udf.servers import start_in_process
from tests.udf_protocol.client import make_point, option

SEC = 10**9
OPTIONS = [option("field", "usage"), option("min", 0.0), option("max", 100.0), option("checkpointEvery", 10)]


def series(n):
    return [((1_700_000_000 + 60 * i) * SEC, 50 + 30 * math.sin(i / 4.0)) for i in range(n)]


def restarted(tmp_path, handler) -> bytes:
    """The state of the model a restarted server builds from the state dir (checkpoint + journal)."""
    registry = ModelRegistry(ModelStore(tmp_path))
    return registry.get(("t", "n", ""), handler.options, dict).detector.save()


def test_background_checkpoints_plus_journal_always_rebuild_the_live_model(tmp_path):
    store = ModelStore(tmp_path)
    registry, handler, _ = start_in_process(store, OPTIONS)
    data = series(45)
    for t, v in data:
        handler.point(make_point(t, v, field="usage"))
    registry.checkpointer.close()  # wait for the queued background checkpoints
    model = registry.get(("t", "n", ""), handler.options, dict)
    stored = ModelStore(tmp_path).load(model.model_id)
    assert stored.blob is not None and len(stored.journal) < len(data)  # checkpoints landed mid-stream
    assert restarted(tmp_path, handler) == model.detector.save()


def test_a_failed_background_checkpoint_loses_nothing_and_the_stream_goes_on(tmp_path, monkeypatch):
    """Fault injection (a full disk cannot be produced here without root-only tricks): the commit raises."""
    store = ModelStore(tmp_path)
    failing = threading.Event()
    failing.set()
    real_commit = store.commit_checkpoint

    def commit(*args):
        if failing.is_set():
            raise OSError(28, "No space left on device")
        return real_commit(*args)

    monkeypatch.setattr(store, "commit_checkpoint", commit)
    registry, handler, out = start_in_process(store, OPTIONS)
    data = series(60)
    for t, v in data[:30]:
        handler.point(make_point(t, v, field="usage"))
    registry.checkpointer.close()
    assert len(out.points) == 30  # every point answered although every checkpoint failed
    model = registry.get(("t", "n", ""), handler.options, dict)
    stored = ModelStore(tmp_path).load(model.model_id)
    assert stored.blob is None and len(stored.journal) == 30  # no checkpoint: the journals hold every input
    assert restarted(tmp_path, handler) == model.detector.save()

    failing.clear()  # the disk has room again: the next checkpoint that falls due lands
    registry.checkpointer = type(registry.checkpointer)(store, on_written=registry.metrics.checkpoints.inc)
    for t, v in data[30:]:
        handler.point(make_point(t, v, field="usage"))
    registry.checkpointer.close()
    stored = ModelStore(tmp_path).load(model.model_id)
    assert stored.blob is not None and len(stored.journal) < 30
    assert restarted(tmp_path, handler) == model.detector.save()
