"""A real multi-node Ray cluster on this machine for the cluster tests and the bench.

Only inside a private network namespace holding nothing but loopback, where Ray binds 127.0.0.1
(`in_namespace` re-runs a module there; never start Ray outside one). The namespace has its own pid
namespace too, so every Ray process dies with the scenario's process. Node health checks are shortened so
a killed node is declared dead in about 1.5 s instead of 15 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAY = os.path.join(os.path.dirname(sys.executable), "ray")
HEALTH_CHECKS = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "300",
    "RAY_health_check_timeout_ms": "300",
    "RAY_health_check_failure_threshold": "4",
}


def in_namespace(module: str, *args: str, timeout: float = 600) -> dict:
    """Run `python -m module args` in fresh network (loopback only) and pid namespaces; its JSON result
    (the last stdout line). Its stderr goes to ours."""
    command = f"ip link set lo up && exec {sys.executable} -m {module} " + " ".join(args)
    proc = subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", command],
        cwd=REPO,
        stdout=subprocess.PIPE,
        timeout=timeout,
        text=True,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed with exit code {proc.returncode}: {proc.stdout[-2000:]}")
    return json.loads(lines[-1])


def report(result: dict) -> None:
    """A scenario's result for in_namespace."""
    print(json.dumps(result), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayCluster:
    """A head node and worker nodes started with `ray start`, each with its own CPUs."""

    def __init__(self, cpus_per_node: int = 1):
        assert _only_loopback(), "Ray must run in a loopback-only network namespace"
        self.cpus = cpus_per_node
        self.temp_dir = tempfile.mkdtemp(prefix="rayt")  # short: Ray's socket paths live under it
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = dict(os.environ, **HEALTH_CHECKS, RAY_USAGE_STATS_ENABLED="0")
        self.workers: list[int] = []  # node manager ports of the worker nodes
        self._ray("--head", "--port", str(self.port), "--temp-dir", self.temp_dir, "--include-dashboard", "false")

    def _ray(self, *args: str) -> None:
        subprocess.run(
            [RAY, "start", "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus), *args],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def add_worker(self) -> int:
        """Start a worker node; its node manager port names it."""
        port = free_port()
        self._ray("--address", self.address, "--node-manager-port", str(port))
        self.workers.append(port)
        return port

    def kill_worker(self, port: int) -> list[int]:
        """kill -9 the worker node's raylet and every process under it (its actors); the pids killed."""
        raylet = next(pid for pid, cmd in _processes() if "raylet" in cmd and f"--node_manager_port={port}" in cmd)
        doomed = [pid for pid, _ in _processes() if _descends(pid, raylet)] + [raylet]
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.workers.remove(port)
        return doomed

    def host_pids(self, port: int) -> list[int]:
        """The model hosts (Ray actor processes) living on the worker node of port."""
        raylet = next(pid for pid, cmd in _processes() if "raylet" in cmd and f"--node_manager_port={port}" in cmd)
        return [pid for pid, cmd in _processes() if cmd.startswith("ray::ModelHost") and _descends(pid, raylet)]

    def close(self) -> None:
        """The pid namespace ends every Ray process with the scenario; only the temp dir is ours to remove."""
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _only_loopback() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _processes() -> list[tuple[int, str]]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    found.append((int(name), f.read().replace(b"\0", b" ").decode(errors="replace")))
            except OSError:
                pass
    return found


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        pid = _parent(pid)
        if pid == ancestor:
            return True
    return False
