"""Shared test fixtures: a real, private InfluxDB 1.x server for the whole test session."""

import shutil
import subprocess
from pathlib import Path

import pytest

from influxhtm.stack.influxd import InfluxServer

REPO_ROOT = Path(__file__).resolve().parent.parent


def _ensure_influxd() -> None:
    if shutil.which("influxd") is None:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "install-influxdb")], check=True)


@pytest.fixture(scope="session")
def influxdb_server(tmp_path_factory):
    """A running ``influxd`` on a free 127.0.0.1 port (``.host``, ``.port``, ``.url``); CQs run every 1 s."""
    _ensure_influxd()
    with InfluxServer(tmp_path_factory.mktemp("influxd")) as server:
        yield server
