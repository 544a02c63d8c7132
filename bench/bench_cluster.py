"""Cluster mode figures: throughput of `influxhtm udf --cluster` with 1 and 2 model hosts, the time to
recover a lost node's models, and the time until a node that joins gets its share of the models. Runs a
real two-node Ray cluster (head + worker, one CPU each) in a loopback-only namespace (re-executing itself
there), so it needs root. On a 2-core machine it shows correctness and recovery, not speed-up.

    python -m bench.bench_cluster [--groups 20] [--rounds 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from tests.cluster.node_loss import start_udf
from tests.cluster.ray_nodes import RayCluster, free_port, in_namespace, report
from tests.htm_udf.servers import interleaved_stream, scrape_metrics
from tests.udf_protocol.client import UdfClient, init_request, option, request

OPTIONS = [option("field", "usage"), option("min", 0.0), option("max", 110.0)]


def stream(sock: str, points, task: str) -> UdfClient:
    client = UdfClient.connect(sock)
    assert client.ask(init_request(*OPTIONS, task_id=task, node_id="n")).success
    return client


def throughput(workdir: str, cluster: RayCluster, hosts: int, points) -> float:
    workdir = tempfile.mkdtemp(dir=workdir)
    udf, sock, _ = start_udf(
        workdir,
        "--state-dir",
        os.path.join(workdir, f"state{hosts}"),
        "--cluster",
        cluster.address,
        "--cluster-hosts",
        str(hosts),
    )
    client = stream(sock, points, f"bench{hosts}")
    started = time.perf_counter()
    for point in points:
        client.send(request(point))
    answered = len(client.sync(timeout=600))
    elapsed = time.perf_counter() - started
    assert answered == len(points), answered
    client.close_write()
    client.read_until_eof(timeout=120)
    udf.terminate()
    udf.wait(timeout=120)
    return len(points) / elapsed


def recovery(workdir: str, cluster: RayCluster, worker: int, points) -> float:
    """Seconds from kill -9 of the worker node until every point sent before it is answered."""
    workdir = tempfile.mkdtemp(dir=workdir)
    udf, sock, _ = start_udf(workdir, "--state-dir", os.path.join(workdir, "state_loss"), "--cluster", cluster.address)
    client = stream(sock, points, "loss")
    for point in points:
        client.send(request(point))
    time.sleep(0.5)  # runs in flight on both hosts
    cluster.kill_worker(worker)
    killed = time.perf_counter()
    answered = len(client.sync(timeout=600))
    elapsed = time.perf_counter() - killed
    assert answered == len(points), answered
    udf.terminate()
    udf.wait(timeout=120)
    return elapsed


def join(workdir: str, cluster: RayCluster, points) -> tuple[float, int]:
    """(Seconds from `ray start` of a new worker node until the front sends to a host there, models it
    took over) while the stream goes on; the front starts on the head node alone."""
    workdir = tempfile.mkdtemp(dir=workdir)
    port = free_port()
    state = os.path.join(workdir, "state_join")
    udf, sock, _ = start_udf(
        workdir, "--state-dir", state, "--cluster", cluster.address, "--metrics", f"127.0.0.1:{port}"
    )
    client = stream(sock, points, "join")
    half = len(points) // 2
    for point in points[:half]:
        client.send(request(point))
    client.sync(timeout=600)
    started = time.perf_counter()
    cluster.add_worker()
    sent = half
    while scrape_metrics(port).get("influxhtm_udf_cluster_hosts") != 2:
        if sent >= len(points):
            raise RuntimeError("no model host was added on the node that joined")
        for point in points[sent : sent + 10]:
            client.send(request(point))
        sent += 10
        time.sleep(0.05)
    added = time.perf_counter() - started
    for point in points[sent:]:
        client.send(request(point))
    client.sync(timeout=600)
    models = scrape_metrics(port)
    udf.terminate()
    udf.wait(timeout=120)
    handed = sum(v for k, v in models.items() if k.startswith("influxhtm_udf_models{") and 'host="host-1"' in k)
    return added, int(handed)


def scenario(groups: int, rounds: int) -> None:
    workdir = tempfile.mkdtemp(prefix="bench_cluster")
    cluster = RayCluster()
    worker = cluster.add_worker()
    points = interleaved_stream(rounds, tuple(f"h{g}" for g in range(groups)))
    one = throughput(workdir, cluster, 1, points)
    two = throughput(workdir, cluster, 2, points)
    seconds = recovery(workdir, cluster, worker, points)
    added, handed = join(workdir, cluster, points)  # the head node is alone again
    report(
        {
            "points": len(points),
            "groups": groups,
            "hosts_1": one,
            "hosts_2": two,
            "recovery_s": seconds,
            "join_s": added,
            "handed_over": handed,
        }
    )
    cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_namespace:
        scenario(args.groups, args.rounds)
        return
    r = in_namespace(
        "bench.bench_cluster", "--in-namespace", "--groups", str(args.groups), "--rounds", str(args.rounds)
    )
    print(f"cluster mode, {r['points']} points over {r['groups']} groups, 2 Ray nodes of 1 CPU on this machine")
    print(f"  1 model host : {r['hosts_1']:8.0f} points/s")
    print(f"  2 model hosts: {r['hosts_2']:8.0f} points/s")
    print(f"  worker node killed (-9) mid-stream: every point answered {r['recovery_s']:.1f} s after the kill")
    print(
        f"  a worker node joins mid-stream: a model host there {r['join_s']:.1f} s after its `ray start`, "
        f"{r['handed_over']} of {r['groups']} models moved to it"
    )


if __name__ == "__main__":
    sys.exit(main())
