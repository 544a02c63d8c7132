"""Run a private, throwaway InfluxDB 1.x server (``influxd``) inside a temporary directory."""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from .process import ManagedProcess, free_port

__all__ = ["InfluxServer", "InfluxServerError", "free_port"]

STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL


class InfluxServerError(RuntimeError):
    """influxd could not be found, started or stopped."""


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
    watch a CQ run). Stopping sends SIGTERM, then SIGKILL. After a stop, :meth:`start` (or
    :meth:`restart`) runs influxd again on the same ports and data, as a server restart would.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        tmpdir: str | os.PathLike,
        *,
        cq_run_interval: str = "1s",
        influxd: str | None = None,
        startup_timeout: float = 30.0,
        log_level: str = "warn",
    ) -> None:
        self.root = Path(tmpdir)
        self.cq_run_interval = cq_run_interval
        self.influxd = influxd or shutil.which("influxd")
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self.port: int | None = None
        self.rpc_port: int | None = None
        self.config_path = self.root / "influxdb.conf"
        self.log_path = self.root / "influxd.log"
        self._proc: ManagedProcess | None = None  # made by start(), once influxd is known

    @property
    def url(self) -> str:
        """Base HTTP URL, e.g. ``http://127.0.0.1:38123``."""
        if self.port is None:
            raise InfluxServerError("server not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

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

    def _launch(self, new_ports: bool = True) -> bool:
        """Start influxd once; True when /ping answers, False when it died (e.g. port taken)."""
        if new_ports:
            self.port = free_port(self.host)
            self.rpc_port = free_port(self.host)
            while self.rpc_port == self.port:
                self.rpc_port = free_port(self.host)
        self._write_config()
        assert self._proc is not None, "start() makes the process before launching it"
        try:
            return self._proc.start(self._ping, self.startup_timeout, interval=0.05)
        except TimeoutError:
            self.stop()
            raise InfluxServerError(
                f"influxd did not answer /ping within {self.startup_timeout}s; log: {self.log_path}"
            ) from None

    def start(self) -> InfluxServer:
        """Start the server and wait until ``/ping`` answers. Returns ``self``.

        The first start chooses free ports; a start after :meth:`stop` keeps them (and the data), so
        clients of the first run reach the restarted server.
        """
        if self.running:
            return self
        restart = self.port is not None
        if not self.influxd:
            raise InfluxServerError("influxd not found on PATH (run scripts/install-influxdb)")
        self.root.mkdir(parents=True, exist_ok=True)
        # INFLUXDB_* variables override the config file; keep the server private to this config.
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        self._proc = ManagedProcess(
            "influxd",
            [self.influxd, "-config", str(self.config_path)],
            self.log_path,
            env=env,
            cwd=self.root,
            stop_timeout=STOP_TIMEOUT,
        )
        for attempt in range(3):  # a free port can be taken between choosing and binding it
            if self._launch(new_ports=not restart):
                return self
            if restart:  # the old ports may still be held for a moment
                time.sleep(0.5 * (attempt + 1))
        raise InfluxServerError(f"influxd failed to start; log tail:\n{self._proc.log_tail()}")

    def restart(self, down: float = 0.0) -> InfluxServer:
        """Stop the server, wait ``down`` seconds, start it again on the same ports and data."""
        self.stop()
        time.sleep(down)
        return self.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds. Idempotent."""
        if self._proc is not None:
            self._proc.stop(timeout)

    def __enter__(self) -> InfluxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
