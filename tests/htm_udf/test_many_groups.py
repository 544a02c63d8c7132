"""1,000 groups x 200 points through one connection: every point answered exactly once, in order per group.

A real HTM model holds ~9 MB, so the server keeps at most 100 models in memory (--max-resident-models)
and the groups arrive in blocks of 100 (round robin inside a block): every model is created, evicted to
the state dir once, and the snapshot at the end reads all 1,000 back from their metadata.
"""

import collections
import json
import shutil

from tests.udf_protocol.client import init_request, make_point, option, request, snapshot_request

SEC = 10**9
GROUPS = 1000
POINTS = 200
BLOCK = 100


def test_thousand_groups_without_loss(socket_server):
    server = socket_server("--max-resident-models", str(BLOCK), "--log-level", "WARNING")
    c = server.connect()
    assert c.ask(
        init_request(option("field", "usage"), option("min", 0.0), option("max", 100.0), option("predictionSteps", 0))
    ).success
    times = [(1_700_000_000 + 60 * i) * SEC for i in range(POINTS)]
    for first in range(0, GROUPS, BLOCK):
        for i, t in enumerate(times):
            for g in range(first, first + BLOCK):
                host = f"h{g:04d}"
                c.send(
                    request(
                        make_point(
                            t,
                            float((i * 7 + g) % 100),
                            field="usage",
                            group=f"host={host}",
                            tags={"host": host},
                            dims=["host"],
                        )
                    )
                )
    got = c.points(GROUPS * POINTS, timeout=900)
    per_group = collections.defaultdict(list)
    for p in got:
        assert "anomaly_score" in p.fieldsDouble
        per_group[p.tags["host"]].append(p.time)
    assert len(per_group) == GROUPS
    assert all(ts == times for ts in per_group.values())
    manifest = json.loads(c.ask(snapshot_request()).snapshot)
    assert len(manifest["models"]) == GROUPS
    assert {m["records_seen"] for m in manifest["models"]} == {POINTS}
    assert c.sync() == []  # nothing answered twice
    server.stop()
    shutil.rmtree(server.state)  # ~7 GB of checkpoints
