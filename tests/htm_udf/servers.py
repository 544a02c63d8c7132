"""Running the HTM UDF agent (influxhtm.udf) for the tests: a socket server, a process UDF, or an in-process
handler whose output a CollectingEmitter keeps."""

import math
import os
import subprocess
import sys
import time
import urllib.request

from influxhtm.kapacitor_udf import udf_pb2
from influxhtm.udf import HtmHandler, ModelRegistry
from tests.udf_protocol.client import UdfClient, make_point

# Children run in the repository root, where `python -m` finds the test modules (tests.*).
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_socket_server(sock_path: str, state_dir: str, *extra: str) -> subprocess.Popen:
    """Start `python -m influxhtm.udf --socket` and wait until its socket exists."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "influxhtm.udf", "--socket", sock_path, "--state-dir", state_dir, *extra],
        cwd=REPO,
    )
    deadline = time.monotonic() + 20
    while not os.path.exists(sock_path):
        if proc.poll() is not None:
            raise RuntimeError(f"UDF server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("UDF server did not create its socket")
        time.sleep(0.05)
    return proc


def spawn_process_udf(state_dir: str, *extra: str) -> UdfClient:
    """Start `python -m influxhtm.udf` as a process UDF (stdin/stdout); the client's .process is the child."""
    return UdfClient.spawn([sys.executable, "-u", "-m", "influxhtm.udf", "--state-dir", state_dir, *extra], cwd=REPO)


class CollectingEmitter:
    """The emitter of an in-process HtmHandler: keeps every point it emits in .points."""

    def __init__(self):
        self.points = []

    def emit_point(self, point):
        self.points.append(point)


def start_in_process(store, options, *, max_resident=None, memory_budget=None):
    """(registry, handler, emitter): an HtmHandler in this process on `store`, initialised with `options`
    as task "t", node "n"."""
    registry = ModelRegistry(store, max_resident=max_resident, memory_budget=memory_budget)
    out = CollectingEmitter()
    handler = HtmHandler(out, registry)
    request = udf_pb2.InitRequest(taskID="t", nodeID="n")
    request.options.extend(options)
    assert handler.init(request).success
    return registry, handler, out


def interleaved_stream(n_rounds: int, hosts: tuple) -> list:
    """Points of one group per host, interleaved, one per minute per group; a jump every 41st round."""
    out = []
    for i in range(n_rounds):
        for k, host in enumerate(hosts):
            t = (1_700_000_000 + 60 * i) * 10**9
            v = 50.0 + 30.0 * math.sin(i / (5.0 + k)) + (25.0 if i % 41 == 40 else 0.0)
            out.append(make_point(t, v, field="usage", group=f"host={host}", tags={"host": host}, dims=["host"]))
    return out


def scores(points) -> list:
    """What a continuation must reproduce bit for bit: time, group and every field of each output point."""
    return [(p.time, p.tags["host"], sorted(p.fieldsDouble.items())) for p in points]


def metrics_text(port: int) -> str:
    """The Prometheus text of a server's --metrics endpoint (retried for up to 10 s while it starts)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def parse_metrics(text: str) -> dict:
    """Prometheus text as {sample name with labels: value}."""
    return {
        name: float(value)
        for name, _, value in (line.rpartition(" ") for line in text.splitlines() if line and not line.startswith("#"))
    }


def scrape_metrics(port: int) -> dict:
    """A server's metrics as {sample name with labels: value}."""
    return parse_metrics(metrics_text(port))
