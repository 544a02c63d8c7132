"""Run an `influxhtm udf` socket server as a child process (for the demo, end-to-end tests and benchmarks)."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)


def udf_command(*args: str) -> list[str]:
    """argv that runs `influxhtm <args>` with this interpreter (works installed or from a checkout)."""
    return [sys.executable, "-m", "influxhtm.cli", *args]


class UdfServerProcess:
    """`influxhtm udf --socket SOCKET --state-dir STATE_DIR [--batch]`, started and stopped around a block.

    command: a different argv for a socket UDF server (e.g. a pass-through UDF); it must create
    `socket_path`. The child's stderr goes to `log_path`. start() waits until the socket accepts.
    """

    def __init__(self, socket_path: str | os.PathLike, state_dir: str | os.PathLike | None = None, *,
                 batch: bool = False, log_path: str | os.PathLike | None = None,
                 command: Sequence[str] | None = None, startup_timeout: float = 60.0):
        self.socket_path = Path(socket_path)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        if command is None:
            if self.state_dir is None:
                raise ValueError("state_dir is required for the influxhtm UDF server")
            command = udf_command("udf", "--socket", str(self.socket_path), "--state-dir", str(self.state_dir))
            if batch:
                command.append("--batch")
        self.command = list(command)
        self.log_path = Path(log_path) if log_path else self.socket_path.with_suffix(".log")
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen | None = None
        self._log_file = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "UdfServerProcess":
        if self.running:
            raise RuntimeError("the UDF server is already running")
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")
        self._proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        atexit.register(self.stop)  # never outlive this Python process
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._close_log()
                raise RuntimeError(f"UDF server {self.command} exited with {self._proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if self._accepts():
                log.info("UDF server up on %s (pid %d, log %s)", self.socket_path, self._proc.pid, self.log_path)
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"UDF server did not listen on {self.socket_path} within {self.startup_timeout}s:\n"
                           f"{self.log_tail()}")

    def _accepts(self) -> bool:
        if not self.socket_path.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the server checkpoints its models and exits), SIGKILL after `timeout` seconds."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("UDF server did not stop within %ss; killing it", timeout)
                proc.kill()
                proc.wait()
        self._close_log()

    def kill(self) -> None:
        """SIGKILL: no checkpoint, the journal must carry the state."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        atexit.unregister(self.stop)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def __enter__(self) -> "UdfServerProcess":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
        if exc_type is not None:
            log.error("UDF server log (%s):\n%s", self.log_path, self.log_tail())
