"""The node-loss scenario: `influxhtm udf --cluster` on a head and a worker node, several groups streamed,
the worker node killed (-9, its model host and raylet) mid-stream; outputs compared with a single-process
run. Run in a loopback-only namespace by test_cluster_node_loss.py (see ray_nodes.in_namespace)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from influxhtm.kapacitor_udf import udf_pb2
from influxhtm.store import ModelStore, model_id_for
from tests.cluster.ray_nodes import REPO, RayCluster, report
from tests.htm_udf.servers import interleaved_stream, start_in_process
from tests.udf_protocol.client import UdfClient, init_request, option, request, restore_request, snapshot_request

HOSTS = ("a", "b", "c", "d", "e", "f")
ROUNDS = 400
OPTIONS = [option("field", "usage"), option("warmup", 50), option("checkpointEvery", 60)]
TASK, NODE = "t", "n"


def output_key(point: udf_pb2.Point) -> tuple:
    """Everything Kapacitor receives of an output point."""
    return (
        point.time,
        point.name,
        point.group,
        sorted(point.tags.items()),
        sorted(point.fieldsDouble.items()),
        sorted(point.fieldsInt.items()),
        sorted(point.fieldsString.items()),
    )


def by_group(points) -> dict[str, list]:
    groups: dict[str, list] = {}
    for point in points:
        groups.setdefault(point.group, []).append(output_key(point))
    return groups


def first_difference(got: list, expected: list) -> str:
    """Where two output sequences part (for the report)."""
    index = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    where = f"{len(got)} vs {len(expected)} outputs, first difference at {index}"
    return f"{where}: {got[index : index + 1]} vs {expected[index : index + 1]}"


def single_process(points, state_dir: str) -> dict[str, list]:
    """The outputs of a local UDF handler fed the same points."""
    registry, handler, out = start_in_process(ModelStore(state_dir), OPTIONS)
    handler.task, handler.node = TASK, NODE
    for start in range(0, len(points), 16):
        handler.point_run(points[start : start + 16])
    registry.close()
    return by_group(out.points)


def open_task(sock: str) -> UdfClient:
    """A connection to the UDF at `sock` with the scenarios' task initialised (as Kapacitor opens one)."""
    client = UdfClient.connect(sock)
    assert client.ask(init_request(*OPTIONS, task_id=TASK, node_id=NODE)).success
    return client


def start_udf(workdir: str, *args: str) -> tuple[subprocess.Popen, str, str]:
    """`python -m influxhtm.udf --cluster ...` on a socket; (process, socket path, log path)."""
    sock, log = os.path.join(workdir, "udf.sock"), os.path.join(workdir, "udf.log")
    proc = subprocess.Popen(
        [sys.executable, "-m", "influxhtm.udf", "--socket", sock, *args],
        cwd=REPO,
        stderr=open(log, "w"),
    )
    deadline = time.monotonic() + 120
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"UDF front did not start: {open(log).read()[-3000:]}")
        time.sleep(0.1)
    return proc, sock, log


def stop_udf(udf: subprocess.Popen, log: str) -> str:
    """Terminate the front; its log (the tail copied to stderr)."""
    udf.terminate()
    udf.wait(timeout=120)
    text = open(log).read()
    sys.stderr.write(text[-4000:])
    return text


def continuity(points, outputs, manifest: dict, state: str, workdir: str) -> dict:
    """How a cluster run's outputs, models and snapshot compare with a single-process run of the points."""
    store = ModelStore(state)
    records = {g: store.metadata(model_id_for(TASK, NODE, g)).records_seen for g in (f"host={h}" for h in HOSTS)}
    expected = single_process(points, os.path.join(workdir, "local"))
    got = by_group(outputs)
    return {
        "identical": got == expected,
        "outputs": len(outputs),
        "expected_outputs": sum(len(v) for v in expected.values()),
        "differences": {
            g: first_difference(got.get(g, []), expected[g]) for g in expected if got.get(g) != expected[g]
        },
        "records_seen": records,
        "manifest_records": {m["group"]: m["records_seen"] for m in manifest["models"]},
    }


def main(workdir: str) -> None:
    started = time.monotonic()
    cluster = RayCluster()
    worker = cluster.add_worker()
    state = os.path.join(workdir, "state")
    udf, sock, log = start_udf(workdir, "--state-dir", state, "--cluster", cluster.address)
    ready = time.monotonic()
    points = interleaved_stream(ROUNDS, HOSTS)
    client = open_task(sock)
    half = len(points) // 2
    for point in points[:half]:
        client.send(request(point))
    outputs = client.points(300, timeout=120)  # the stream is well under way ...
    doomed_hosts = cluster.host_pids(worker)
    killed = cluster.kill_worker(worker)  # ... and runs are in flight when the node dies
    killed_at = time.monotonic()
    for point in points[half:]:
        client.send(request(point))
    outputs += [response.point for response in client.sync(timeout=300)]
    recovered = time.monotonic()
    manifest = json.loads(client.ask(snapshot_request()).snapshot)
    client.close_write()
    client.read_until_eof(timeout=60)
    again = open_task(sock)  # Kapacitor restoring the task from its snapshot
    restored = again.ask(restore_request(json.dumps(manifest).encode())).success
    again.close_write()
    again.read_until_eof(timeout=60)
    udf_log = stop_udf(udf, log)
    report(
        {
            **continuity(points, outputs, manifest, state, workdir),
            "restored": restored,
            "hosts_killed": len(doomed_hosts),
            "processes_killed": len(killed),
            "host_declared_dead": "is dead" in udf_log,
            "answered_from_replay": "answered from the replayed journal" in udf_log,
            "startup_s": round(ready - started, 1),
            "kill_to_all_answered_s": round(recovered - killed_at, 1),
            "udf_exit": udf.returncode,
        }
    )
    cluster.close()


if __name__ == "__main__":
    main(sys.argv[1])
