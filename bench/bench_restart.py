"""Restart cost of the HTM UDF with many models on disk.

    python -m bench.bench_restart [--models 1000] [--journal 20]  (from the repository root)

Writes `--models` checkpointed models (a real detector after 100 points, plus `--journal` journaled
inputs each) into a state dir, then measures: server start until the socket accepts, a task's
Init + Restore of a manifest naming every model (preloads as many as fit in memory), and the first
point of every group answered (the rest, or all without a Restore, load on their first point).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from influxhtm.htm import AnomalyDetector
from influxhtm.kapacitor_udf import udf_pb2
from influxhtm.schema import ANOMALY_SCORE
from influxhtm.store import JournalEntry, ModelStore, model_id_for
from influxhtm.udf.options import parse_options
from tests.udf_protocol.client import UdfClient, encode_request, init_request, option, request, restore_request

SEC = 10**9
T0 = 1_700_000_000
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def htm_init_request(task: str) -> udf_pb2.Request:
    return init_request(option("field", "v"), option("min", 0.0), option("max", 100.0), task_id=task)


def populate(state: str, task: str, models: int, journal: int) -> tuple[list[str], int]:
    """Write `models` models sharing one real checkpoint; returns their groups and the blob size."""
    options = parse_options(htm_init_request(task).init.options)
    det = AnomalyDetector(0.0, 100.0, prediction_steps=options.predictionSteps)
    for i in range(100):
        det.handle(EPOCH + datetime.timedelta(seconds=T0 + 60 * i), float(i % 50))
    blob = det.save()
    store = ModelStore(state)
    groups = []
    for g in range(models):
        group = f"host=h{g:05d}"
        template = {
            "name": "m",
            "database": "",
            "retention_policy": "",
            "group": group,
            "dimensions": ["host"],
            "by_name": False,
            "tags": {"host": f"h{g:05d}"},
        }
        mid = model_id_for(task, "htm2", group)
        store.save_checkpoint(
            mid,
            blob,
            {
                "task": task,
                "node": "htm2",
                "group": group,
                "template": template,
                "tags": template["tags"],
                "field": "v",
                "options": options.to_json(),
                "model_params": options.model_params(),
                "records_seen": 100,
                "last_time": (T0 + 60 * 99) * SEC,
            },
        )
        for k in range(journal):
            store.append_journal(mid, JournalEntry((T0 + 60 * (100 + k)) * SEC, float(k % 50)))
        groups.append(group)
    store.close()
    return groups, len(blob)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--journal", type=int, default=20, help="journaled inputs per model (replayed on load)")
    ap.add_argument(
        "--max-resident-models",
        type=int,
        default=250,
        help="server's in-memory model limit (a model holds ~9 MB; default 250)",
    )
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-restart-")
    state, sock = os.path.join(tmp, "state"), os.path.join(tmp, "htm.sock")
    task = "bench"
    try:
        t = time.perf_counter()
        groups, blob_size = populate(state, task, args.models, args.journal)
        print(
            f"{args.models} models written in {time.perf_counter() - t:.1f} s "
            f"(checkpoint {blob_size / 1024:.0f} KiB each, {args.journal} journaled inputs each)"
        )
        for preload in (True, False):
            start = time.perf_counter()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "influxhtm.udf",
                    "--socket",
                    sock,
                    "--state-dir",
                    state,
                    "--log-level",
                    "WARNING",
                    "--max-resident-models",
                    str(args.max_resident_models),
                ]
            )
            try:
                client = UdfClient.connect(sock, timeout=60)
                ready = time.perf_counter() - start
                assert client.ask(htm_init_request(task)).success
                restored = 0.0
                if preload:
                    manifest = {
                        "format": "influxhtm-udf-snapshot",
                        "version": 1,
                        "task": task,
                        "node": "htm2",
                        "models": [{"id": model_id_for(task, "htm2", g), "group": g} for g in groups],
                    }
                    t = time.perf_counter()
                    assert client.ask(restore_request(json.dumps(manifest).encode()), timeout=600).success
                    restored = time.perf_counter() - t
                t = time.perf_counter()
                client.send_raw(
                    b"".join(
                        encode_request(
                            request(
                                udf_pb2.Point(
                                    time=(T0 + 60 * (1000 + (not preload))) * SEC,
                                    name="m",
                                    group=g,
                                    fieldsDouble={"v": 42.0},
                                )
                            )
                        )
                        for g in groups
                    )
                )
                for point in client.points(len(groups), timeout=600):
                    assert ANOMALY_SCORE in point.fieldsDouble, "point not scored"
                first = time.perf_counter() - t
                client.close()
            finally:
                proc.terminate()
                proc.wait()
            if preload:
                print(
                    f"with Restore:    socket ready {ready:.2f} s, Restore (preloads up to "
                    f"{min(len(groups), args.max_resident_models)} models) "
                    f"{restored:.2f} s, first point of every group {first:.2f} s"
                )
            else:
                print(
                    f"without Restore: socket ready {ready:.2f} s, first point of every group (lazy load) "
                    f"{first:.2f} s = {1000 * first / len(groups):.1f} ms per model"
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
