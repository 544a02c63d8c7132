"""End-to-end fixtures: a real InfluxDB, the influxhtm UDF servers and a real kapacitord, all on loopback.

The session shares one InfluxDB (tests/conftest.py) and one kapacitord (with the stream and batch UDF
servers); tests that restart or kill parts of the stack start their own kapacitord and UDF server
against the same InfluxDB. Each test uses its own measurement names, so they never see each other's
points.
"""

from __future__ import annotations

import pytest
from influxdb import InfluxDBClient

from influxhtm.stack.kapacitord import KapacitorServer, find_kapacitord, kapacitord_version
from influxhtm.stack.udf_server import UdfServerProcess

from .helpers import DB


@pytest.fixture(scope="session")
def kapacitord_path(request):
    """The kapacitord binary; built by scripts/build-kapacitor when it is not there yet (slow once).
    Its version is printed in the test report, so a run says which Kapacitor it drove."""
    path = find_kapacitord(build=True)
    request.config.stash[DRIVEN_KAPACITORD] = f"{kapacitord_version(path)} ({path})"
    return path


DRIVEN_KAPACITORD = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, config):
    """Say which kapacitord the end-to-end tests drove (test output is captured, the summary is not)."""
    if DRIVEN_KAPACITORD in config.stash:
        terminalreporter.write_line(f"end-to-end tests drove kapacitord {config.stash[DRIVEN_KAPACITORD]}")


@pytest.fixture(scope="session")
def influx_client(influxdb_server):
    """A client of the session's InfluxDB (tests/conftest.py) on the e2e database. InfluxDB's subscriber
    service is on there, so Kapacitor sees the *_htm writes that the alert task reads."""
    client = InfluxDBClient(influxdb_server.host, influxdb_server.port, database=DB)
    client.create_database(DB)
    return client


@pytest.fixture(scope="session")
def udf_servers(tmp_path_factory):
    """The stream and the batch `influxhtm udf` socket servers, sharing one state dir."""
    root = tmp_path_factory.mktemp("udf")
    with (
        UdfServerProcess(root / "htm.sock", root / "state", log_path=root / "htm.log") as stream,
        UdfServerProcess(root / "htm_batch.sock", root / "state", batch=True, log_path=root / "htm_batch.log") as batch,
    ):
        yield stream, batch


@pytest.fixture(scope="session")
def kapacitor(tmp_path_factory, kapacitord_path, influxdb_server, influx_client, udf_servers):
    """The session's kapacitord: @htm() and @htm_batch() on the UDF servers, InfluxDB subscriptions on."""
    stream, batch = udf_servers
    with KapacitorServer(
        tmp_path_factory.mktemp("kapacitor"),
        influxdb_server.url,
        subscriptions=True,
        udf_socket=stream.socket_path,
        udf_batch_socket=batch.socket_path,
        kapacitord=kapacitord_path,
    ) as kap:
        yield kap
