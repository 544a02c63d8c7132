"""Run an `influxhtm udf` socket server as a child process (for the demo, end-to-end tests and benchmarks)."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from .process import ManagedProcess

log = logging.getLogger(__name__)
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL


def udf_command(*args: str) -> list[str]:
    """argv that runs `influxhtm <args>` with this interpreter (works installed or from a checkout)."""
    return [sys.executable, "-m", "influxhtm.cli", *args]


class UdfServerProcess:
    """`influxhtm udf --socket SOCKET --state-dir STATE_DIR [--batch] [EXTRA_ARGS...]`, started and stopped
    around a block.

    extra_args: more `influxhtm udf` options, e.g. ("--kapacitor-url", url) to re-enable the tasks at start.
    command: a different argv for a socket UDF server (e.g. a pass-through UDF); it must create
    `socket_path`. The child's stderr goes to `log_path`. start() waits until the socket accepts.
    """

    def __init__(
        self,
        socket_path: str | os.PathLike,
        state_dir: str | os.PathLike | None = None,
        *,
        batch: bool = False,
        log_path: str | os.PathLike | None = None,
        command: Sequence[str] | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 60.0,
    ):
        self.socket_path = Path(socket_path)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        if command is None:
            if self.state_dir is None:
                raise ValueError("state_dir is required for the influxhtm UDF server")
            command = udf_command("udf", "--socket", str(self.socket_path), "--state-dir", str(self.state_dir))
            if batch:
                command.append("--batch")
            command.extend(extra_args)
        self.command = list(command)
        self.log_path = Path(log_path) if log_path else self.socket_path.with_suffix(".log")
        self.startup_timeout = startup_timeout
        self._proc = ManagedProcess("UDF server", self.command, self.log_path, stop_timeout=STOP_TIMEOUT)

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.running

    def start(self) -> UdfServerProcess:
        if self.running:
            raise RuntimeError("the UDF server is already running")
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            up = self._proc.start(self._accepts, self.startup_timeout, interval=0.1)
        except TimeoutError:
            self.kill()
            raise RuntimeError(
                f"UDF server did not listen on {self.socket_path} within {self.startup_timeout}s:\n{self.log_tail()}"
            ) from None
        if not up:
            raise RuntimeError(f"UDF server {self.command} exited with {self._proc.returncode}:\n{self.log_tail()}")
        log.info("UDF server up on %s (pid %d, log %s)", self.socket_path, self.pid, self.log_path)
        return self

    def _accepts(self) -> bool:
        if not self.socket_path.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (the server checkpoints its models and exits), SIGKILL after `timeout` seconds."""
        self._proc.stop(timeout)

    def kill(self) -> None:
        """SIGKILL: no checkpoint, the journal must carry the state."""
        self._proc.kill()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the UDF server's log."""
        return self._proc.log_tail(lines)

    def __enter__(self) -> UdfServerProcess:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
        if exc_type is not None:
            log.error("UDF server log (%s):\n%s", self.log_path, self.log_tail())
