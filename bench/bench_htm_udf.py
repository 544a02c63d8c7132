"""Throughput of the HTM UDF: points/s through a real socket server vs the engine's own rate, and the
journal's cost per point.

    python bench/bench_htm_udf.py [--points 2000]

Prints: the engine alone (1 model; 8 models on 2 threads), the agent with 1 group on 1 connection and
8 groups on 2 connections (models created before timing; journal and checkpoints every 1000 points
included), the ratio agent/engine, and the journal append cost (flush, fsync).
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from influxhtm.htm import AnomalyDetector
from influxhtm.store import JournalEntry, ModelStore
from udf.kapacitor_udf import udf_pb2

SEC = 10**9
T0 = 1_700_000_000
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def value_at(i: int, g: int) -> float:
    return 50.0 + 40.0 * math.sin((i + 3 * g) / 9.0)


def frame(msg) -> bytes:
    data = msg.SerializeToString()
    n, head = len(data), bytearray()
    while n > 0x7F:
        head.append((n & 0x7F) | 0x80)
        n >>= 7
    head.append(n)
    return bytes(head) + data


def read_frame(f) -> bytes:
    n = shift = 0
    while True:
        b = f.read(1)
        if not b:
            raise EOFError("UDF closed the connection")
        n |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            return f.read(n)


def engine_rate(n: int, models: int, threads: int) -> tuple[float, float]:
    """(points/s, CPU seconds per point) of AnomalyDetector.handle alone, `models` models on `threads` threads."""
    dets = [AnomalyDetector(0.0, 100.0, prediction_steps=1) for _ in range(models)]
    per_thread = [dets[t::threads] for t in range(threads)]

    def work(ds):
        for i in range(n):
            ts = EPOCH + datetime.timedelta(seconds=T0 + 60 * i)
            for g, d in enumerate(ds):
                d.handle(ts, value_at(i, g))

    start, cpu = time.perf_counter(), time.process_time()
    ts = [threading.Thread(target=work, args=(ds,)) for ds in per_thread]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return n * models / (time.perf_counter() - start), (time.process_time() - cpu) / (n * models)


def drive(sock_path: str, task: str, groups: list[str], n: int, results: list, barrier: threading.Barrier):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    r, w = s.makefile("rb"), s.makefile("wb")
    req = udf_pb2.Request()
    req.init.taskID, req.init.nodeID = task, "htm2"
    for name, typ, attr, val in (("field", 3, "stringValue", "v"), ("min", 2, "doubleValue", 0.0),
                                 ("max", 2, "doubleValue", 100.0)):
        opt = req.init.options.add(name=name)
        ov = opt.values.add(type=typ)
        setattr(ov, attr, val)
    w.write(frame(req))
    w.flush()
    resp = udf_pb2.Response()
    resp.ParseFromString(read_frame(r))
    assert resp.init.success, resp.init.error
    # one untimed point per group first: model creation (~0.1 s each) is not throughput
    for g, group in enumerate(groups):
        req = udf_pb2.Request()
        p = req.point
        p.time, p.name, p.group = (T0 - 60) * SEC, "m", group
        p.fieldsDouble["v"] = value_at(0, g)
        w.write(frame(req))
    w.flush()
    for _ in groups:
        resp = udf_pb2.Response()
        resp.ParseFromString(read_frame(r))
    frames = []
    for i in range(n):
        for g, group in enumerate(groups):
            req = udf_pb2.Request()
            p = req.point
            p.time, p.name, p.group = (T0 + 60 * i) * SEC, "m", group
            p.tags["g"] = group
            p.fieldsDouble["v"] = value_at(i, g)
            frames.append(frame(req))
    total = len(frames)
    got = [0]

    def reader():
        while got[0] < total:
            resp = udf_pb2.Response()
            resp.ParseFromString(read_frame(r))
            if resp.WhichOneof("message") == "point":
                got[0] += 1

    rt = threading.Thread(target=reader)
    barrier.wait()
    start = time.perf_counter()
    rt.start()
    for f in frames:
        w.write(f)
    w.flush()
    rt.join()
    results.append((total, time.perf_counter() - start))
    s.shutdown(socket.SHUT_WR)
    s.close()


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:  # fields after the command name: utime is #14, stime #15
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def agent_rate(n: int, connections: int, groups_per_conn: int, extra_args=()) -> tuple[float, float]:
    """(points/s, server CPU seconds per point) through a socket server."""
    tmp = tempfile.mkdtemp(prefix="bench-udf-")
    sock = os.path.join(tmp, "htm.sock")
    proc = subprocess.Popen([sys.executable, "-m", "udf.htm_udf", "--socket", sock, "--state-dir",
                             os.path.join(tmp, "state"), "--log-level", "WARNING", *extra_args])
    try:
        while not os.path.exists(sock):
            if proc.poll() is not None:
                raise RuntimeError("UDF server failed to start")
            time.sleep(0.05)
        results: list = []
        barrier = threading.Barrier(connections + 1)
        threads = [threading.Thread(target=drive, args=(sock, f"task{c}", [f"g{c}_{k}" for k in range(groups_per_conn)],
                                                        n, results, barrier)) for c in range(connections)]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=2000, help="points per group (default 2000)")
    args = ap.parse_args()
    n = args.points
    print(f"influxhtm UDF benchmark, {n} points per group, {os.cpu_count()} CPUs")
    e1, e1_cpu = engine_rate(n, 1, 1)
    e8, e8_cpu = engine_rate(n // 4, 8, 2)
    print(f"engine alone, 1 model:                 {e1:7.0f} points/s   {e1_cpu * 1e3:.3f} ms CPU/point")
    print(f"engine alone, 8 models on 2 threads:   {e8:7.0f} points/s   {e8_cpu * 1e3:.3f} ms CPU/point")
    a1, a1_cpu = agent_rate(n, 1, 1)
    print(f"agent, 1 group, 1 connection:          {a1:7.0f} points/s   {a1_cpu * 1e3:.3f} ms CPU/point in the "
          f"server  (rate {100 * a1 / e1:.0f} %, CPU efficiency {100 * e1_cpu / a1_cpu:.0f} % of the engine)")
    a8, a8_cpu = agent_rate(n // 4, 2, 4)
    print(f"agent, 8 groups over 2 connections:    {a8:7.0f} points/s   {a8_cpu * 1e3:.3f} ms CPU/point in the "
          f"server  (rate {100 * a8 / e8:.0f} % of engine 8 on 2 threads, {a8 / a1:.2f}x the 1-connection rate)")
    j = journal_cost(5000, fsync=False)
    jf = journal_cost(300, fsync=True)
    print(f"journal append (flush to OS):          {j * 1e6:9.1f} us/point  ({100 * j * e1:.1f} % of one engine step)")
    print(f"journal append (--journal-fsync):      {jf * 1e6:9.1f} us/point  ({100 * jf * e1:.1f} % of one engine step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
