"""Throughput of the HTM UDF: points/s through a real socket server vs the engine's own rate on the same
work, and the journal's cost per point.

    python -m bench.bench_htm_udf [--points 2000] [--trials 3]   (from the repository root)


Each configuration runs the same series through the engine alone (AnomalyDetector.handle_epoch, one thread per
connection) and through the agent (a socket server, one client thread per connection; models created
before timing; journal and checkpoints every 1000 points included):

    1 group on 1 connection, 8 groups on 1 connection, 8 groups over 2 connections.

This machine's speed drifts by +-20 % from one second to the next, so the runs are interleaved, repeated
`--trials` times, and the medians are printed with the ratio agent/engine and the 2-connection speed-up.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from bench.procstat import cpu_seconds
from influxhtm.htm import AnomalyDetector
from influxhtm.kapacitor_udf import udf_pb2
from influxhtm.store import JournalEntry, ModelStore
from tests.htm_udf.servers import start_socket_server
from tests.udf_protocol.client import UdfClient, encode_request, init_request, option, request

SEC = 10**9
T0 = 1_700_000_000


def value_at(i: int, g: int) -> float:
    return 50.0 + 40.0 * math.sin((i + 3 * g) / 9.0)


def engine_rate(n: int, models: int, threads: int) -> tuple[float, float]:
    """(points/s, CPU seconds per point) of AnomalyDetector.handle_epoch (the engine's fastest entry for one
    point) alone, `models` models on `threads` threads."""
    dets = [AnomalyDetector(0.0, 100.0, prediction_steps=1) for _ in range(models)]
    per_thread = [dets[t::threads] for t in range(threads)]

    def work(ds):
        for i in range(n):
            for g, d in enumerate(ds):
                d.handle_epoch(T0 + 60 * i, value_at(i, g))

    start, cpu = time.perf_counter(), time.process_time()
    ts = [threading.Thread(target=work, args=(ds,)) for ds in per_thread]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return n * models / (time.perf_counter() - start), (time.process_time() - cpu) / (n * models)


def point_request(time_s: int, group: str, value: float, tags=None) -> udf_pb2.Request:
    return request(udf_pb2.Point(time=time_s * SEC, name="m", group=group, tags=tags or {}, fieldsDouble={"v": value}))


def drive(sock_path: str, task: str, groups: list[str], n: int, results: list, barrier: threading.Barrier):
    with UdfClient.connect(sock_path) as client:
        init = client.ask(init_request(option("field", "v"), option("min", 0.0), option("max", 100.0), task_id=task))
        assert init.success, init.error
        # one untimed point per group first: model creation (~0.1 s each) is not throughput
        for g, group in enumerate(groups):
            client.send(point_request(T0 - 60, group, value_at(0, g)))
        client.points(len(groups))
        stream = b"".join(
            encode_request(point_request(T0 + 60 * i, group, value_at(i, g), {"g": group}))
            for i in range(n)
            for g, group in enumerate(groups)
        )
        total = n * len(groups)
        barrier.wait()
        start = time.perf_counter()
        client.send_raw(stream)
        client.points(total)
        results.append((total, time.perf_counter() - start))
        client.close_write()


def agent_rate(n: int, connections: int, groups_per_conn: int, extra_args=()) -> tuple[float, float]:
    """(points/s, server CPU seconds per point) through a socket server."""
    tmp = tempfile.mkdtemp(prefix="bench-udf-")
    sock = os.path.join(tmp, "htm.sock")
    proc = start_socket_server(sock, os.path.join(tmp, "state"), "--log-level", "WARNING", *extra_args)
    try:
        results: list = []
        barrier = threading.Barrier(connections + 1)
        threads = [
            threading.Thread(
                target=drive,
                args=(sock, f"task{c}", [f"g{c}_{k}" for k in range(groups_per_conn)], n, results, barrier),
            )
            for c in range(connections)
        ]
        for t in threads:
            t.start()
        barrier.wait()
        cpu = cpu_seconds(proc.pid)
        for t in threads:
            t.join()
        total = sum(r[0] for r in results)
        return total / max(r[1] for r in results), (cpu_seconds(proc.pid) - cpu) / total
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def journal_cost(n: int, fsync: bool) -> float:
    tmp = tempfile.mkdtemp(prefix="bench-journal-")
    try:
        store = ModelStore(tmp, journal_fsync=fsync)
        store.update_metadata("m")
        start = time.perf_counter()
        for i in range(n):
            store.append_journal("m", JournalEntry(i, float(i)))
        return (time.perf_counter() - start) / n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CONFIGS = (  # (label, connections, groups per connection)
    ("1 group, 1 connection", 1, 1),
    ("8 groups, 1 connection", 1, 8),
    ("8 groups, 2 connections", 2, 4),
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--points",
        type=int,
        default=2000,
        help="points per group with 1 group, a quarter of that with 8 (default 2000)",
    )
    ap.add_argument("--trials", type=int, default=3, help="interleaved repetitions (default 3)")
    args = ap.parse_args()
    print(
        f"influxhtm UDF benchmark, {args.points} points per group (1 group) / {args.points // 4} (8 groups), "
        f"{os.cpu_count()} CPUs, "
        f"median of {args.trials} trials"
    )
    runs = {label: {"engine": [], "agent": [], "cpu": []} for label, _, _ in CONFIGS}
    for _ in range(args.trials):
        for label, connections, groups in CONFIGS:
            n = args.points if groups == 1 else args.points // 4  # points per group
            runs[label]["engine"].append(engine_rate(n, connections * groups, connections)[0])
            rate, cpu = agent_rate(n, connections, groups)
            runs[label]["agent"].append(rate)
            runs[label]["cpu"].append(cpu)
    median = {label: {k: statistics.median(v) for k, v in r.items()} for label, r in runs.items()}
    for label, _, _ in CONFIGS:
        m = median[label]
        print(
            f"{label + ':':26} engine {m['engine']:6.0f} points/s   agent {m['agent']:6.0f} points/s "
            f"({100 * m['agent'] / m['engine']:3.0f} %)   server CPU {m['cpu'] * 1e3:.3f} ms/point"
        )
    one, two = median["8 groups, 1 connection"]["agent"], median["8 groups, 2 connections"]["agent"]
    print(f"2 connections / 1 connection (8 groups): {two / one:.2f}x")
    e1 = median["1 group, 1 connection"]["engine"]
    j = journal_cost(5000, fsync=False)
    jf = journal_cost(300, fsync=True)
    print(f"journal append (flush to OS):      {j * 1e6:7.1f} us/point  ({100 * j * e1:.1f} % of one engine step)")
    print(f"journal append (--journal-fsync):  {jf * 1e6:7.1f} us/point  ({100 * jf * e1:.1f} % of one engine step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
