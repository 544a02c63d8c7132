"""The DEGRADED persistence state in-process: the retry backoff, the log lines and metrics, and what a
restart says about inputs that were never journaled. (Real faults on a real file system: test_storage_faults.py.)"""

import errno
import logging
import math

from influxhtm.store import ModelStore
from influxhtm.udf import ModelRegistry
from influxhtm.udf import models as models_module
from tests.htm_udf.servers import start_in_process
from tests.udf_protocol.client import make_point, option

SEC = 10**9
OPTIONS = [option("field", "usage"), option("min", 0.0), option("max", 100.0), option("checkpointEvery", 10)]


def series(n, start=0):
    return [((1_700_000_000 + 60 * i) * SEC, 50 + 30 * math.sin(i / 4.0)) for i in range(start, n)]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_backoff_logs_metrics_and_recovery(tmp_path, monkeypatch, caplog):
    store = ModelStore(tmp_path)
    clock = Clock()
    monkeypatch.setattr(models_module.time, "monotonic", clock)
    registry, handler, out = start_in_process(store, OPTIONS)
    data = series(200)
    for t, v in data[:5]:
        handler.point(make_point(t, v, field="usage"))
    broken = True
    attempts = []
    real_append, real_save = store.append_journal, store.save_state

    def append(*args):
        if broken:
            raise OSError(errno.EIO, "Input/output error")
        return real_append(*args)

    def save_state(*args):
        attempts.append(clock.now)
        if broken:
            raise OSError(errno.EIO, "Input/output error")
        return real_save(*args)

    monkeypatch.setattr(store, "append_journal", append)
    monkeypatch.setattr(store, "save_state", save_state)
    caplog.set_level(logging.INFO, logger="influxhtm.udf")
    for t, v in data[5:100]:  # one point per second
        handler.point(make_point(t, v, field="usage"))
        clock.now += 1.0
    assert len(out.points) == 100 and all("anomaly_score" in p.fieldsDouble for p in out.points)
    assert [a - attempts[0] for a in attempts] == [0, 2, 6, 14, 30, 62]  # after 1 s, then 2, 4, 8, 16, 32 s
    assert caplog.text.count("persistence DEGRADED") == 1
    assert registry.metrics.degraded_models.value == 1
    assert registry.metrics.storage_write_failures.values()["EIO"] == 1 + len(attempts)
    broken = False
    clock.now += 64
    handler.point(make_point(*data[100], field="usage"))
    assert registry.metrics.degraded_models.value == 0
    assert "storage works again" in caplog.text and "95 input(s) had not been journaled" in caplog.text
    for t, v in data[101:]:
        handler.point(make_point(t, v, field="usage"))
    model = registry.get(("t", "n", ""), handler.options, dict)
    restarted = ModelRegistry(ModelStore(tmp_path)).get(("t", "n", ""), handler.options, dict)
    assert restarted.detector is not None and model.detector is not None
    assert restarted.detector.save() == model.detector.save()


def test_a_restart_says_how_many_inputs_it_is_behind(tmp_path, caplog):
    store = ModelStore(tmp_path)
    registry, handler, _ = start_in_process(store, OPTIONS)
    for t, v in series(12):
        handler.point(make_point(t, v, field="usage"))
    model = registry.get(("t", "n", ""), handler.options, dict)
    store.update_metadata(model.model_id, records_seen=17)  # as a degraded model notes it, best effort
    with caplog.at_level(logging.WARNING, logger="influxhtm.udf"):
        ModelRegistry(ModelStore(tmp_path)).get(("t", "n", ""), handler.options, dict)
    assert "5 input(s) behind the model before the restart" in caplog.text
