#!/usr/bin/env python3
"""End-to-end throughput: points/s through a real kapacitord and the HTM UDF, against a pass-through UDF.

Cases: 1 group in 1 task; 8 groups in 2 tasks (4 groups each). Each runs once with @htm() (the influxhtm
UDF server) and once with @passthrough() (a socket UDF that returns every point unchanged, built on the
same protocol library), so the difference is the HTM work. Points go to Kapacitor's /write endpoint; a
case ends when the tasks' influxDBOut nodes have received every point (InfluxDB's final flush is not
timed). Prints one line per case.

    python -m bench.bench_e2e [--points 1500] [--group-points 400] [--passthrough-factor 10]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DB, RP = "bench", "autogen"


def serve_passthrough(socket_path: str) -> int:
    """The pass-through socket UDF (bench/passthrough.py)."""
    from bench.passthrough import PassThrough
    from influxhtm.kapacitor_udf import UdfServer

    UdfServer(socket_path, PassThrough).serve_forever()
    return 0


PASSTHROUGH_TICK = """
stream
    |from()
        .database('{db}')
        .retentionPolicy('{rp}')
        .measurement('{m}')
        .groupBy('host')
    @passthrough()
    |influxDBOut()
        .database('{db}')
        .retentionPolicy('{rp}')
        .measurement('{m}_out')
"""


def run_case(kap, udf: str, label: str, tasks: int, groups: int, points: int) -> tuple[int, float]:
    """Define `tasks` tasks with `groups` groups each, stream `points` per group; (points, seconds)."""
    from influxhtm.stack import synthetic

    days = max(14, -(-points // 288) + 1)  # 288 five-minute points a day
    series = [synthetic.generate(seed=s, days=days) for s in range(groups)]
    measurements = [f"{label}_{t}" for t in range(tasks)]
    for m in measurements:
        if udf == "htm":
            kap.define_task(
                m,
                (REPO / "tickscripts" / "htm_stream.tick").read_text(),
                dbrps=[(DB, RP)],
                vars={
                    "database": DB,
                    "retention_policy": RP,
                    "measurement": m,
                    "field": "value",
                    "group_by": {"type": "list", "value": [{"type": "string", "value": "host"}]},
                    "output_measurement": f"{m}_out",
                    "min": 0.0,
                    "max": 100.0,
                },
            )
        else:
            kap.define_task(m, PASSTHROUGH_TICK.format(db=DB, rp=RP, m=m), dbrps=[(DB, RP)])
    lines = []
    for i in range(points):
        for m in measurements:
            for g, s in enumerate(series):
                t = s.timestamps[i]
                lines.append(f"{m},host=h{g} value={s.values[i]!r} {int(t.timestamp())}")
    total = len(lines)
    start = time.monotonic()
    for lo in range(0, total, 1000):
        kap.write(lines[lo : lo + 1000], db=DB, rp=RP, precision="s")
    while True:
        done = 0
        for m in measurements:
            stats = kap.task(m)["stats"]["node-stats"]
            done += sum(n.get("collected", 0) for k, n in stats.items() if k.startswith("influxdb_out"))
            error = kap.task_error(m)
            if error:
                raise RuntimeError(f"task {m}: {error}")
        if done >= total:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    for m in measurements:
        kap.delete_task(m)
    return total, elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1500, help="points in the 1-group case (default 1500)")
    parser.add_argument(
        "--group-points", type=int, default=400, help="points per group in the 8-group case (default 400)"
    )
    parser.add_argument(
        "--passthrough-factor",
        type=int,
        default=10,
        help="the pass-through cases stream this many times more points (default 10)",
    )
    parser.add_argument("--serve-passthrough", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_passthrough:
        return serve_passthrough(args.serve_passthrough)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from influxdb import InfluxDBClient

    from influxhtm.stack.influxd import InfluxServer
    from influxhtm.stack.kapacitord import KapacitorServer, find_kapacitord
    from influxhtm.stack.udf_server import UdfServerProcess

    kapacitord = find_kapacitord(build=True)
    with tempfile.TemporaryDirectory(prefix="influxhtm-bench-") as tmp:
        root = Path(tmp)
        passthrough_cmd = [sys.executable, "-m", "bench.bench_e2e", "--serve-passthrough", str(root / "pt.sock")]
        with (
            InfluxServer(root / "influxdb") as influx,
            UdfServerProcess(root / "htm.sock", root / "state") as htm,
            UdfServerProcess(root / "pt.sock", command=passthrough_cmd) as passthrough,
            KapacitorServer(
                root / "kapacitor",
                influx.url,
                udf_socket=htm.socket_path,
                extra_udfs={"passthrough": {"socket_path": str(passthrough.socket_path)}},
                kapacitord=kapacitord,
            ) as kap,
        ):
            InfluxDBClient(influx.host, influx.port).create_database(DB)
            print(f"kapacitord {kapacitord}: points/s end to end (write -> Kapacitor -> UDF -> influxDBOut)")
            for udf, scale in (("passthrough", args.passthrough_factor), ("htm", 1)):
                for label, tasks, groups, points in (("one", 1, 1, args.points), ("many", 2, 4, args.group_points)):
                    total, seconds = run_case(
                        kap, udf, f"{udf}_{label}", tasks=tasks, groups=groups, points=points * scale
                    )
                    print(
                        f"{udf:>11}: {tasks * groups} group(s) in {tasks} task(s): {total:6d} points in "
                        f"{seconds:6.2f} s = {total / seconds:8.0f} points/s"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
