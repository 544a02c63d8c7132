"""Fixtures of the library tests: a client on a database of the test's own, dropped afterwards."""

import hashlib
import re

import pytest

from influxhtm import InfluxHtmClient


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
