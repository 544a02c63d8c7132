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


# Fixtures whose tests need a real server; such tests get the `stack` marker, so `-m "not stack"` skips
# them without anyone having to remember to mark them.
STACK_FIXTURES = {"influxdb_server", "kapacitord_path"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)
