"""Throughput of the UDF agent: points/s through a pass-through handler, socket and process mode.

The agent runs in a child process (so the client does not share its GIL); the client sends N typical
stream points (143 bytes framed) from one thread and reads the N echoed points back on another. Besides
the wall-clock rate it prints the agent's CPU time per point, which does not depend on how busy the
machine is.
Run: python -m bench.bench_udf_agent [--points N]  (from the repository root)   (target: >= 50,000 points/s)
"""

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.passthrough import PassThrough
from bench.procstat import cpu_seconds
from influxhtm.kapacitor_udf import UdfServer, encode_frame, run_process, udf_pb2

TARGET = 50_000


def request_stream(count: int) -> bytes:
    point = udf_pb2.Point(
        name="cpu",
        database="telegraf",
        retentionPolicy="autogen",
        group="host=serverA",
        dimensions=["host"],
        tags={"host": "serverA", "region": "eu"},
        fieldsDouble={"usage_user": 12.5, "usage_system": 3.25},
    )
    frames = []
    for index in range(count):
        point.time = 1_600_000_000_000_000_000 + index * 10_000_000_000
        frames.append(encode_frame(udf_pb2.Request(point=point).SerializeToString()))
    return b"".join(frames)


def count_frames(read, expected: int) -> int:
    """Read until `expected` frames have arrived (checking each is a point response); return bytes read."""
    buffer = bytearray()
    frames = 0
    total = 0
    while frames < expected:
        chunk = read()
        if not chunk:
            raise RuntimeError(f"agent closed after {frames} of {expected} responses")
        total += len(chunk)
        buffer += chunk
        pos = 0
        while True:
            length, shift, index = 0, 0, pos
            while index < len(buffer):
                byte = buffer[index]
                length |= (byte & 0x7F) << shift
                shift += 7
                index += 1
                if byte < 0x80:
                    break
            else:
                break
            if len(buffer) - index < length:
                break
            if buffer[index] != 0x8A:  # Response field 17 (point)
                raise RuntimeError("unexpected response from the agent")
            pos = index + length
            frames += 1
        del buffer[:pos]
    return total


def timed_round_trip(write_all, read, count: int, agent_pid: int):
    """(wall seconds, agent CPU seconds) for sending count points and reading them all back."""
    data = request_stream(count)
    cpu_before = cpu_seconds(agent_pid)
    started = time.perf_counter()
    sender = threading.Thread(target=write_all, args=(data,))
    sender.start()
    count_frames(read, count)
    elapsed = time.perf_counter() - started
    sender.join()
    return elapsed, cpu_seconds(agent_pid) - cpu_before


REPO_ROOT = Path(__file__).resolve().parents[1]
SELF_MODULE = ["-m", "bench.bench_udf_agent"]  # run from the repository root, as `make bench` does


def bench_socket(count: int):
    with tempfile.TemporaryDirectory(prefix="udfbench-") as directory:
        path = os.path.join(directory, "bench.sock")
        server = subprocess.Popen([sys.executable, *SELF_MODULE, "--serve-socket", path], cwd=REPO_ROOT)
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            deadline = time.monotonic() + 30
            while True:
                try:
                    sock.connect(path)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            with sock:
                timed_round_trip(sock.sendall, lambda: sock.recv(1 << 16), min(count, 5000), server.pid)  # warm-up
                return timed_round_trip(sock.sendall, lambda: sock.recv(1 << 16), count, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)


def bench_process(count: int):
    agent = subprocess.Popen(
        [sys.executable, *SELF_MODULE, "--serve-process"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    try:
        out_fd = agent.stdout.fileno()

        def read():
            select.select([out_fd], [], [])
            return os.read(out_fd, 1 << 16)

        timed_round_trip(agent.stdin.write, read, min(count, 5000), agent.pid)  # warm-up
        return timed_round_trip(agent.stdin.write, read, count, agent.pid)
    finally:
        agent.stdin.close()
        agent.wait(timeout=30)
        agent.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--serve-socket", help=argparse.SUPPRESS)
    parser.add_argument("--serve-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_socket:
        UdfServer(args.serve_socket, PassThrough).serve_forever()
        return 0
    if args.serve_process:
        return run_process(PassThrough)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for mode, bench in (("socket", bench_socket), ("process", bench_process)):
        wall, cpu = bench(args.points)
        rate = args.points / wall
        verdict = "ok" if rate >= TARGET else f"below the {TARGET:,} target"
        print(
            f"udf agent ({mode}, pass-through): {args.points:,} points round trip: {rate:,.0f} points/s "
            f"[{verdict}]; agent CPU {cpu / args.points * 1e6:.1f} us/point "
            f"(= {args.points / max(cpu, 1e-9):,.0f} points per CPU-second)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
