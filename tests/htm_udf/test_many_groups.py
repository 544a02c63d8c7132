"""1,000 groups x 200 points through one connection: every point answered exactly once, in order per group."""
import collections
import json

from tests.htm_udf.kapacitor_client import make_point, option

SEC = 10**9
GROUPS = 1000
POINTS = 200


def test_thousand_groups_without_loss(server):
    c = server.connect()
    assert c.init([option("field", "usage"), option("min", 0.0), option("max", 100.0),
                   option("predictionSteps", 0)]).success
    for i in range(POINTS):
        t = (1_700_000_000 + 60 * i) * SEC
        for g in range(GROUPS):
            host = f"h{g:04d}"
            c.point(make_point(t, float((i * 7 + g) % 100), field="usage", group=f"host={host}",
                               tags={"host": host}, dims=["host"]))
    got = c.points(GROUPS * POINTS, timeout=600)
    per_group = collections.defaultdict(list)
    for p in got:
        assert "anomaly_score" in p.fieldsDouble
        per_group[p.tags["host"]].append(p.time)
    assert len(per_group) == GROUPS
    expected = [(1_700_000_000 + 60 * i) * SEC for i in range(POINTS)]
    assert all(times == expected for times in per_group.values())
    manifest = json.loads(c.snapshot())
    assert len(manifest["models"]) == GROUPS
    assert {m["records_seen"] for m in manifest["models"]} == {POINTS}
