"""Shared test fixtures: a real, private InfluxDB 1.x server for the whole test session, and a library client
on a database of a test's own."""

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from influxhtm import InfluxHtmClient
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


def database_name(nodeid: str) -> str:
    """A database name unique to one test: its readable tail, plus a hash of the whole test id."""
    readable = re.sub(r"[^A-Za-z0-9]", "_", nodeid.rpartition("::")[2])[:40]
    return f"{readable}_{hashlib.sha1(nodeid.encode()).hexdigest()[:8]}"


@pytest.fixture
def client(influxdb_server, tmp_path, request):
    """An InfluxHtmClient on a fresh database of this test's own; its models live in tmp_path / "models"."""
    name = database_name(request.node.nodeid)
    c = InfluxHtmClient(
        host=influxdb_server.host,
        port=influxdb_server.port,
        database=name,
        create_database=True,
        model_dir=tmp_path / "models",
    )
    yield c
    c.drop_database(name)


# Fixtures whose tests need a real server; such tests get the `stack` marker, so `-m "not stack"` skips
# them without anyone having to remember to mark them.
STACK_FIXTURES = {"influxdb_server", "kapacitord_path"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)
