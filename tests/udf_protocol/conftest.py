import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from .running import RunningServer

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def socket_dir():
    """A short directory for sockets (unix socket paths are limited to ~107 bytes)."""
    path = tempfile.mkdtemp(prefix="udf-", dir="/tmp")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def echo_server(socket_dir):
    running = RunningServer(socket_dir / "echo.sock")
    yield running
    running.stop()


@pytest.fixture
def echo_command():
    """argv of the echo UDF entry point (process mode; add ``--socket PATH`` for a socket server).
    Run it with cwd=REPO_ROOT: `python -m` then finds the test modules in the working directory."""
    return [sys.executable, "-m", "tests.udf_protocol.serve_echo"]
