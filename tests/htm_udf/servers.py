"""Running the HTM UDF agent (influxhtm.udf) for the tests: a socket server, a process UDF, or an in-process
handler whose output a CollectingEmitter keeps."""

import os
import subprocess
import sys
import time

from tests.udf_protocol.client import UdfClient

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
