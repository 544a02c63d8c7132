"""Many groups through one UDF server (issue: beyond one machine, part 6): G groups x P points, with and
without a memory budget. Prints the server's peak RSS and points/s for each run.

Series come and go as in a fleet: the groups are fed in waves of `--wave` groups, each wave's groups
interleaved point by point for P rounds, then the next wave starts; a finished wave's models sit idle. With
`--memory-budget MB` the server evicts idle models to its state dir (they would reload on their next point).
The budget must hold a wave's models (about 0.8 MB each after 50 points with the UDF's default prediction,
the classifier's rows a good part of it): below that, the models of the running wave evict each other on
every point.

    python -m bench.bench_many_groups [--groups 20000] [--points 50] [--wave 200] [--memory-budget 1536]
                                      [--budget-only]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time

from bench.procstat import peak_rss_mb
from influxhtm.kapacitor_udf import udf_pb2
from tests.htm_udf.servers import start_socket_server
from tests.udf_protocol.client import UdfClient, encode_request, init_request, option, request

SEC = 10**9
T0 = 1_700_000_000


def wave_stream(first: int, count: int, points: int) -> bytes:
    """The requests of groups first..first+count-1, interleaved, `points` rounds of one point per minute."""
    return b"".join(
        encode_request(
            request(
                udf_pb2.Point(
                    time=(T0 + 60 * i) * SEC,
                    name="m",
                    group=f"g{g}",
                    tags={"g": str(g)},
                    fieldsDouble={"v": 50.0 + 40.0 * math.sin((i + 7 * g) / 9.0)},
                )
            )
        )
        for i in range(points)
        for g in range(first, first + count)
    )


def run(groups: int, points: int, wave: int, budget_mb: float) -> None:
    tmp = tempfile.mkdtemp(prefix="bench-groups-")
    sock = os.path.join(tmp, "htm.sock")
    extra = ["--log-level", "WARNING", "--memory-budget", str(budget_mb)]
    proc = start_socket_server(sock, os.path.join(tmp, "state"), *extra)
    try:
        with UdfClient.connect(sock) as client:
            init = client.ask(init_request(option("field", "v"), option("min", 0.0), option("max", 100.0)))
            assert init.success, init.error
            start = time.perf_counter()
            for first in range(0, groups, wave):
                count = min(wave, groups - first)
                client.send_raw(wave_stream(first, count, points))
                client.points(count * points)
            elapsed = time.perf_counter() - start
            client.close_write()
        label = f"budget {budget_mb:g} MB" if budget_mb else "no budget"
        print(
            f"{groups:,} groups x {points} points, waves of {wave}, {label}: {groups * points / elapsed:,.0f} "
            f"points/s (model creation included), server peak RSS {peak_rss_mb(proc.pid):,.0f} MB",
            flush=True,
        )
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, default=20_000)
    ap.add_argument("--points", type=int, default=50, help="points per group")
    ap.add_argument("--wave", type=int, default=200, help="groups fed together")
    ap.add_argument(
        "--memory-budget",
        type=float,
        default=1536.0,
        metavar="MB",
        help="the budgeted run's budget (above a wave's needs)",
    )
    ap.add_argument(
        "--budget-only", action="store_true", help="skip the run without a budget (too big for RAM at 20,000 groups)"
    )
    args = ap.parse_args()
    run(args.groups, args.points, args.wave, args.memory_budget)
    if not args.budget_only:
        run(args.groups, args.points, args.wave, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
