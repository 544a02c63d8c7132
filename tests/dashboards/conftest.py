"""Fixtures of the dashboard tests: the demo's results in a database of this module's own."""

import hashlib
import re

import pytest

from influxhtm import InfluxHtmClient
from tests.demo_results import load_demo_results


@pytest.fixture(scope="module")
def demo(influxdb_server, tmp_path_factory, request):
    """(client, series): the demo's series and its HTM results loaded into a fresh database, dropped afterwards."""
    nodeid = request.node.nodeid
    name = "dash_" + re.sub(r"\W", "_", nodeid.rpartition("/")[2])[:30] + hashlib.sha1(nodeid.encode()).hexdigest()[:8]
    client = InfluxHtmClient(
        host=influxdb_server.host,
        port=influxdb_server.port,
        database=name,
        create_database=True,
        model_dir=tmp_path_factory.mktemp("dashboard-models"),
    )
    series = load_demo_results(client)
    yield client, series
    client.drop_database(name)
