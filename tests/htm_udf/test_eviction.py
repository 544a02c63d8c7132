"""Models evicted to the state dir (--max-resident-models) come back exactly: outputs equal an unlimited run."""

import math

from influxhtm.store import ModelStore
from tests.htm_udf.servers import start_in_process
from tests.udf_protocol.client import make_point, option

SEC = 10**9


def run(tmp_path, name, options, **limits):
    """Three interleaved groups through an in-process handler with `limits` (max_resident, memory_budget)."""
    registry, handler, out = start_in_process(ModelStore(tmp_path / name), options, **limits)
    for i in range(24):
        for g in range(3):
            v = 50 + 30 * math.sin(i / (3.0 + g))
            handler.point(
                make_point((1_700_000_000 + 60 * i) * SEC, v, field="usage", group=f"g{g}", tags={"g": str(g)})
            )
    handler.close()
    return registry, [(p.time, p.tags["g"], sorted(p.fieldsDouble.items())) for p in out.points]


def test_evicted_models_reload_exactly(tmp_path):
    options = [option("field", "usage"), option("min", 0.0), option("max", 100.0)]
    _, expected = run(tmp_path, "unlimited", options)
    registry, got = run(tmp_path, "two", options, max_resident=2)
    assert len(registry) <= 2
    assert got == expected


def test_eviction_during_warmup_keeps_the_buffer(tmp_path):
    options = [option("field", "usage"), option("warmup", 10)]
    _, expected = run(tmp_path, "unlimited", options)
    _, got = run(tmp_path, "one", options, max_resident=1)
    assert sorted(got) == sorted(expected)
    for g in range(3):
        assert [x for x in got if x[1] == str(g)] == [x for x in expected if x[1] == str(g)]


def test_memory_budget_evicts_and_reloads_exactly(tmp_path):
    """`--memory-budget`: models beyond the budget (by the engine's estimate) go to the state dir and come
    back on their next point; outputs equal an unlimited run."""
    from influxhtm.htm import AnomalyDetector

    options = [option("field", "usage"), option("min", 0.0), option("max", 100.0)]
    one_model = AnomalyDetector(0.0, 100.0, prediction_steps=1).memory_bytes
    assert one_model > 100_000  # the estimate covers the spatial pooler at least
    _, expected = run(tmp_path, "unlimited", options)
    registry, got = run(tmp_path, "budget", options, memory_budget=int(1.5 * one_model))
    assert len(registry) == 1
    assert got == expected
