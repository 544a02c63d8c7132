"""The live view's server without a browser: the alert rule, its JSON endpoints, plotly served locally, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from influxhtm.dashboard.alerts import ALERT_THRESHOLD, is_alert
from influxhtm.dashboard.data import ResultSeries
from influxhtm.dashboard.server import parse_listen
from influxhtm.influxql import line
from influxhtm.schema import ANOMALY_SCORE, LEARNING, RECORDS_SEEN, SOURCE_FIELD_TAG, VALUE


def get(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("Content-Type"), response.read()


def get_json(url: str):
    return json.loads(get(url)[2])


def test_alert_rule_is_the_tickscripts():
    assert ALERT_THRESHOLD == 0.5
    assert is_alert(0.5, False) and is_alert(1.0, False)
    assert not is_alert(0.49, False)
    assert not is_alert(1.0, True)  # a learning model never alerts
    assert is_alert(0.7, None)  # results without the field: the score alone
    assert not is_alert(None, False)
    assert is_alert(0.3, False, threshold=0.25)


def test_series_ids_round_trip_and_bad_ones_are_refused():
    series = ResultSeries.of("cpu_htm", {"host": "a b,c", SOURCE_FIELD_TAG: "usage", "dc": ""})
    assert ResultSeries.from_id(series.id) == series
    assert series.title == "cpu_htm · host=a b,c · field usage"
    assert series.source_tags == {"host": "a b,c"} and series.source_measurement == "cpu"
    for bad in ("", "!!", "bm90IGpzb24"):
        with pytest.raises(ValueError):
            ResultSeries.from_id(bad)


def test_listen_addresses():
    assert parse_listen("127.0.0.1:8050") == ("127.0.0.1", 8050)
    assert parse_listen(":0") == ("127.0.0.1", 0)
    for bad in ("8050", "host:", "host:99999"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_cli_import_loads_neither_plotly_nor_influxdb():
    code = (
        "import sys, influxhtm.cli; influxhtm.cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', 'influxdb')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_endpoints(client, dashboard):
    tags = {"host": "x", SOURCE_FIELD_TAG: "v"}
    lines = [
        line("m_htm", tags, {VALUE: float(i), ANOMALY_SCORE: 0.9 if i == 2 else 0.1}, 10**18 + i * 10**9).replace(
            " ", f" {LEARNING}={'true' if i == 0 else 'false'},{RECORDS_SEEN}={i + 1}i,", 1
        )
        for i in range(3)
    ]
    client.write_lines(lines)
    status, content_type, body = get(dashboard)
    assert status == 200 and content_type.startswith("text/html") and b"/static/plotly.min.js" in body
    status, content_type, body = get(dashboard + "static/plotly.min.js")
    assert content_type.startswith("text/javascript") and len(body) > 1_000_000 and b"plotly" in body[:2000].lower()
    for name in ("app.js", "style.css"):
        assert get(dashboard + "static/" + name)[0] == 200

    config = get_json(dashboard + "api/config")
    assert config["database"] == client.database and config["threshold"] == ALERT_THRESHOLD
    (entry,) = get_json(dashboard + "api/series")["series"]
    assert entry["measurement"] == "m_htm" and entry["tags"] == {"host": "x"} and entry["source_field"] == "v"
    assert entry["points"] == 3 and entry["records_seen"] == 3 and entry["learning"] is False
    assert entry["last_score"] == 0.9 and entry["alert"] is True

    points = get_json(dashboard + f"api/points?series={entry['id']}")
    assert points["value"] == [0.0, 1.0, 2.0] and points["alert"] == [False, False, True]
    assert points["learning"] == [True, False, False] and points["records_seen"] == [1, 2, 3]
    assert points["prediction"] == [None, None, None] and points["more"] is False
    assert points["time_ms"] == [10**12, 10**12 + 1000, 10**12 + 2000]
    assert points["last_ns"] == str(10**18 + 2 * 10**9)
    later = get_json(dashboard + f"api/points?series={entry['id']}&after={points['last_ns']}")
    assert later["value"] == [] and later["last_ns"] == points["last_ns"]
    assert points["older"] is False
    paged = get_json(dashboard + f"api/points?series={entry['id']}&limit=2")
    assert paged["value"] == [0.0, 1.0] and paged["more"] is True

    for path, code in (("api/points?series=nope", 400), ("api/points", 400), ("nothing", 404)):
        with pytest.raises(urllib.error.HTTPError) as failed:
            get(dashboard + path)
        assert failed.value.code == code and "error" in json.loads(failed.value.read())


def test_the_page_opens_on_the_newest_history_points(client, influxdb_server):
    from influxhtm.dashboard import serve_in_thread

    tags = {SOURCE_FIELD_TAG: "v"}
    lines = [line("m_htm", tags, {VALUE: float(i), ANOMALY_SCORE: 0.1}, 10**18 + i) for i in range(5)]
    client.write_lines(lines)
    url, stop = serve_in_thread(influxdb_server.url, client.database, history=2)
    try:
        (entry,) = get_json(url + "api/series")["series"]
        first = get_json(url + f"api/points?series={entry['id']}")
        assert first["value"] == [3.0, 4.0] and first["older"] is True and first["more"] is False
        again = get_json(url + f"api/points?series={entry['id']}&after={10**18 + 2}")
        assert again["value"] == [3.0, 4.0] and again["older"] is False
    finally:
        stop()


def test_influxdb_down_is_a_502_with_the_reason():
    from influxhtm.dashboard import serve_in_thread

    url, stop = serve_in_thread("http://127.0.0.1:9", "nowhere", retry_timeout=0)
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            get(url + "api/series")
        assert failed.value.code == 502 and "unavailable" in json.loads(failed.value.read())["error"]
        assert get(url)[0] == 200  # the page itself still loads (and says InfluxDB is unreachable)
    finally:
        stop()


def test_cli_serves_the_view(influxdb_server, client):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "influxhtm.cli",
            "dashboard",
            "--influx-url",
            influxdb_server.url,
            "--database",
            client.database,
            "--listen",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("influxhtm dashboard: http://127.0.0.1:"), first
        url = first.split()[2]
        assert get_json(url + "api/series") == {"series": []}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
