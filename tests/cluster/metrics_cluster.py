"""The cluster front's --metrics: each model host's figures under its own `host` label, gathered at every
scrape, beside the front's own (points exchanged with Kapacitor, live hosts); a host lost to a dead node
leaves the figures. The node dies while idle, and a snapshot right after it still names every model. Run in a
loopback-only namespace by test_cluster_metrics.py (see ray_nodes.in_namespace)."""

from __future__ import annotations

import json
import os
import sys

from tests.cluster.node_loss import start_udf
from tests.cluster.ray_nodes import RayCluster, free_port, report
from tests.htm_udf.servers import interleaved_stream, scrape_metrics
from tests.udf_protocol.client import UdfClient, init_request, make_point, option, request, snapshot_request

GROUPS = ("a", "b", "c", "d", "e", "f")
ROUNDS = 60
OPTIONS = [option("field", "usage"), option("warmup", 20)]


def by_host(metrics: dict, name: str) -> dict[str, float]:
    """{host: value} of a metric without other labels."""
    prefix = name + '{host="'
    return {key[len(prefix) : -2]: value for key, value in metrics.items() if key.startswith(prefix)}


def main(workdir: str) -> None:
    cluster = RayCluster()
    worker = cluster.add_worker()
    port = free_port()
    state = os.path.join(workdir, "state")
    udf, sock, _ = start_udf(
        workdir, "--state-dir", state, "--cluster", cluster.address, "--metrics", f"127.0.0.1:{port}"
    )
    client = UdfClient.connect(sock)
    assert client.ask(init_request(*OPTIONS, task_id="t", node_id="n")).success
    points = interleaved_stream(ROUNDS, GROUPS)
    bad = make_point(points[-1].time + 60 * 10**9, float("nan"), field="usage", group="host=a", tags={"host": "a"})
    for point in [*points, bad]:
        client.send(request(point))
    answered = len(client.sync(timeout=300))
    before = scrape_metrics(port)
    cluster.kill_worker(worker)  # while its host has no run in flight: only a call to it can find it dead
    snapshot = json.loads(client.ask(snapshot_request(), timeout=120).snapshot)
    for point in interleaved_stream(ROUNDS + 5, GROUPS)[len(points) :]:  # 5 more rounds, after the loss
        client.send(request(point))
    answered_after = len(client.sync(timeout=300))
    after = scrape_metrics(port)
    client.close_write()
    client.read_until_eof(timeout=60)
    udf.terminate()
    udf.wait(timeout=120)
    report(
        {
            "sent": len(points) + 1,
            "answered": answered,
            "answered_after": answered_after,
            "hosts_before": before.get("influxhtm_udf_cluster_hosts"),
            "points_in_before": before.get("influxhtm_udf_points_in_total"),
            "points_out_before": before.get("influxhtm_udf_points_out_total"),
            "models_before": by_host(before, "influxhtm_udf_models"),
            "nan_before": sum(
                v for k, v in before.items() if k.startswith("influxhtm_udf_bad_points_total") and 'reason="nan"' in k
            ),
            "steps_before": by_host(before, "influxhtm_udf_step_seconds_count"),
            "reenabled": before.get("influxhtm_udf_tasks_reenabled_total"),
            "snapshot_after_kill": sorted(m["group"] for m in snapshot["models"]),
            "hosts_after": after.get("influxhtm_udf_cluster_hosts"),
            "points_in_after": after.get("influxhtm_udf_points_in_total"),
            "models_after": by_host(after, "influxhtm_udf_models"),
            "udf_exit": udf.returncode,
        }
    )
    cluster.close()


if __name__ == "__main__":
    main(sys.argv[1])
