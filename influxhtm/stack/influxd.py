"""Run a private, throwaway InfluxDB 1.x server (``influxd``) inside a temporary directory."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["InfluxServer", "InfluxServerError", "free_port"]


class InfluxServerError(RuntimeError):
    """influxd could not be found, started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxServer:
    """A private ``influxd`` whose config, data, WAL, meta and log all live under ``tmpdir``.

    Usage::

        with InfluxServer(tmp_path) as server:
            client = InfluxDBClient(server.host, server.port)

    HTTP listens on a free 127.0.0.1 port, the RPC (backup) bind on another; usage reporting and the
    ``_internal`` monitor store are off; subscriptions (how InfluxDB feeds Kapacitor) are on.
    ``cq_run_interval`` sets how often continuous queries are checked (short by default so tests can
    watch a CQ run). Stopping sends SIGTERM, then SIGKILL.
    """

    host = "127.0.0.1"

    def __init__(self, tmpdir: str | os.PathLike, *, cq_run_interval: str = "1s",
                 influxd: str | None = None, startup_timeout: float = 30.0,
                 log_level: str = "warn") -> None:
        self.root = Path(tmpdir)
        self.cq_run_interval = cq_run_interval
        self.influxd = influxd or shutil.which("influxd")
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self.port: int | None = None
        self.rpc_port: int | None = None
        self.config_path = self.root / "influxdb.conf"
        self.log_path = self.root / "influxd.log"
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        """Base HTTP URL, e.g. ``http://127.0.0.1:38123``."""
        if self.port is None:
            raise InfluxServerError("server not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _write_config(self) -> None:
        data = self.root / "data"
        cfg = f"""\
reporting-disabled = true
bind-address = {_toml_str(f"{self.host}:{self.rpc_port}")}

[meta]
  dir = {_toml_str(str(self.root / "meta"))}
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = {_toml_str(str(data / "data"))}
  wal-dir = {_toml_str(str(data / "wal"))}
  wal-fsync-delay = "0s"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[subscriber]
  enabled = true

[retention]
  enabled = true
  check-interval = "30m0s"

[http]
  enabled = true
  bind-address = {_toml_str(f"{self.host}:{self.port}")}
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false
  max-body-size = 0

[logging]
  level = {_toml_str(self.log_level)}
  suppress-logo = true

[ifql]
  enabled = false

[continuous_queries]
  enabled = true
  log-enabled = false
  run-interval = {_toml_str(self.cq_run_interval)}
"""
        self.config_path.write_text(cfg)

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=1.0) as resp:
                return resp.status == 204
        except (urllib.error.URLError, OSError):
            return False

    def _launch(self) -> bool:
        """Start influxd once; True when /ping answers, False when it died (e.g. port taken)."""
        self.port = free_port(self.host)
        self.rpc_port = free_port(self.host)
        while self.rpc_port == self.port:
            self.rpc_port = free_port(self.host)
        self._write_config()
        # INFLUXDB_* variables override the config file; keep the server private to this config.
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        self._log = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            [self.influxd, "-config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=str(self.root), env=env, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._close_log()
                self._proc = None
                return False
            if self._ping():
                return True
            time.sleep(0.05)
        self.stop()
        raise InfluxServerError(
            f"influxd did not answer /ping within {self.startup_timeout}s; log: {self.log_path}")

    def start(self) -> "InfluxServer":
        """Start the server and wait until ``/ping`` answers. Returns ``self``."""
        if self.running:
            return self
        if not self.influxd:
            raise InfluxServerError("influxd not found on PATH (run scripts/install-influxdb)")
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a free port can be taken between choosing and binding it
            if self._launch():
                atexit.register(self.stop)
                return self
        tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        raise InfluxServerError(f"influxd failed to start; log tail:\n{tail}")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    print(f"influxd pid {proc.pid} ignored SIGTERM; killing", file=sys.stderr)
                    proc.kill()
                    proc.wait()
            atexit.unregister(self.stop)
        self._close_log()

    def __enter__(self) -> "InfluxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
