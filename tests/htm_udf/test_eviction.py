"""Models evicted to the state dir (--max-resident-models) come back exactly: outputs equal an unlimited run."""

import math

from influxhtm.store import ModelStore
from tests.htm_udf.servers import start_in_process
from tests.udf_protocol.client import make_point, option

SEC = 10**9


def run(tmp_path, name, max_resident, options):
    registry, handler, out = start_in_process(ModelStore(tmp_path / name), options, max_resident=max_resident)
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
    _, expected = run(tmp_path, "unlimited", None, options)
    registry, got = run(tmp_path, "two", 2, options)
    assert len(registry) <= 2
    assert got == expected


def test_eviction_during_warmup_keeps_the_buffer(tmp_path):
    options = [option("field", "usage"), option("warmup", 10)]
    _, expected = run(tmp_path, "unlimited", None, options)
    _, got = run(tmp_path, "one", 1, options)
    assert sorted(got) == sorted(expected)
    for g in range(3):
        assert [x for x in got if x[1] == str(g)] == [x for x in expected if x[1] == str(g)]
