"""A node joins mid-stream: `influxhtm udf --cluster` (one host per node) starts on a head node alone, a
worker node joins while groups stream, the front adds a host there and hands it its share of the models.
Outputs are compared with a single-process run. Run in a loopback-only namespace by
test_cluster_grow.py (see ray_nodes.in_namespace)."""

from __future__ import annotations

import json
import os
import sys
import time

from tests.cluster.metrics_cluster import by_host
from tests.cluster.node_loss import HOSTS, continuity, open_task, start_udf, stop_udf
from tests.cluster.ray_nodes import RayCluster, free_port, report
from tests.htm_udf.servers import interleaved_stream, scrape_metrics
from tests.udf_protocol.client import request, snapshot_request

ROUNDS = 300


def main(workdir: str) -> None:
    cluster = RayCluster()
    port = free_port()
    state = os.path.join(workdir, "state")
    udf, sock, log = start_udf(
        workdir, "--state-dir", state, "--cluster", cluster.address, "--metrics", f"127.0.0.1:{port}"
    )
    points = interleaved_stream(ROUNDS, HOSTS)
    client = open_task(sock)
    sent = len(points) // 3
    for point in points[:sent]:
        client.send(request(point))
    outputs = [response.point for response in client.sync(timeout=120)]
    hosts_before = scrape_metrics(port).get("influxhtm_udf_cluster_hosts")
    cluster.add_worker()
    joined_at = time.monotonic()
    hosts = hosts_before
    while hosts != 2 and sent < 2 * len(points) // 3:  # keep streaming while the node joins
        for point in points[sent : sent + len(HOSTS)]:
            client.send(request(point))
        sent += len(HOSTS)
        time.sleep(0.05)
        hosts = scrape_metrics(port).get("influxhtm_udf_cluster_hosts")
    added_s = time.monotonic() - joined_at
    for point in points[sent:]:
        client.send(request(point))
    outputs += [response.point for response in client.sync(timeout=300)]
    metrics = scrape_metrics(port)
    manifest = json.loads(client.ask(snapshot_request()).snapshot)
    client.close_write()
    client.read_until_eof(timeout=60)
    udf_log = stop_udf(udf, log)
    report(
        {
            **continuity(points, outputs, manifest, state, workdir),
            "hosts_before": hosts_before,
            "hosts_after": metrics.get("influxhtm_udf_cluster_hosts"),
            "models_after": by_host(metrics, "influxhtm_udf_models"),
            "added_mid_stream": len(points) // 3 < sent < len(points),
            "host_added_s": round(added_s, 1),
            "handed_over": "handed over to it" in udf_log,
            "udf_exit": udf.returncode,
        }
    )
    cluster.close()


if __name__ == "__main__":
    main(sys.argv[1])
