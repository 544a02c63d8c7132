"""A server child process whose output goes to a log file: start it and wait until ready, stop, kill, read the log.

The launchers of influxd, kapacitord and the UDF server are built on ManagedProcess.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Callable

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ManagedProcess:
    """`command` as a child in its own session, stdin closed, stdout and stderr appended to `log_path`.

    name: how messages call it. env / cwd: as for subprocess.Popen (None: inherit). stop_timeout: the
    default of stop(), also used when this Python process exits with the child still running (start()
    registers stop() with atexit). start() may be called again once the child has exited.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: str | os.PathLike,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        stop_timeout: float = 10.0,
    ):
        self.name = name
        self.command = [str(arg) for arg in command]
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self._popen: subprocess.Popen | None = None
        self._log_file: BinaryIO | None = None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def pid(self) -> int | None:
        """The pid of the last started child (None before the first start())."""
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        """The exit status of the last started child (None while it runs or before the first start())."""
        return self._popen.poll() if self._popen else None

    def start(self, ready: Callable[[], bool], timeout: float, *, interval: float = 0.1) -> bool:
        """Launch the child and call ready() every `interval` seconds until it returns True.

        Returns True once ready() does, False when the child exits first (see returncode and log_tail()).
        Raises TimeoutError when neither happened within `timeout` seconds; the child is left running
        for the caller to stop() or kill().
        """
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._release()  # the log of an earlier child that exited by itself
        self._log_file = open(self.log_path, "ab")
        self._popen = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
        )
        atexit.register(self.stop)  # never outlive this Python process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                self._release()
                return False
            if ready():
                return True
            time.sleep(interval)
        raise TimeoutError(f"{self.name} was not ready within {timeout}s")

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, then SIGKILL if the child has not exited after `timeout` seconds. Idempotent."""
        if timeout is None:
            timeout = self.stop_timeout
        proc = self._popen
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) did not stop within %ss; killing it", self.name, proc.pid, timeout)
                proc.kill()
                proc.wait()
        self._release()

    def kill(self) -> None:
        """SIGKILL the child (no clean shutdown) and reap it. Idempotent."""
        proc = self._popen
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._release()

    def _release(self) -> None:
        atexit.unregister(self.stop)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the log ("(no log)" when there is none yet)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
