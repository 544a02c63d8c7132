"""The library and the CLI against a real InfluxDB that goes away: stopped and started in the middle of a
backfill, refusing a write for good, or never coming back. Each test runs its own influxd."""

import datetime
import logging
import math
import threading
import time

import pytest
import requests
from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError

from influxhtm.cli import main
from influxhtm.client import InfluxHtmClient
from influxhtm.retry import InfluxPermanentError, InfluxUnavailableError, RetryPolicy, is_transient
from influxhtm.stack.influxd import InfluxServer

UTC = datetime.timezone.utc
START = datetime.datetime(2024, 3, 1, tzinfo=UTC)
OPTIONS = {"min_value": 0.0, "max_value": 130.0, "probation": 200}
DB = "faults"


def series(n):
    return [
        (
            START + datetime.timedelta(minutes=i),
            60 + 25 * math.sin(i / 30) + 10 * math.sin(i / 7) + (40 if i % 997 == 0 else 0),
        )
        for i in range(n)
    ]


@pytest.fixture
def server(tmp_path):
    from tests.conftest import _ensure_influxd

    _ensure_influxd()
    srv = InfluxServer(tmp_path / "influxd")
    srv.start()
    yield srv
    srv.stop()


def make_client(server, tmp_path, **kwargs):
    return InfluxHtmClient(server.host, server.port, database=DB, model_dir=tmp_path / "models", **kwargs)


def scored(model):
    return [(r.time, r.value, r.raw_score, r.anomaly_likelihood, r.anomaly_score) for r in model.get_results()]


def result_count(client, component):
    rows = list(client.query(f"SELECT count(raw_score) FROM cpu_htm WHERE component = '{component}'").get_points())
    return rows[0]["count"] if rows else 0


def scoring_chunk(model, chunk):
    """True once the backfill of `model` is scoring the record after the first `chunk` (that chunk is
    written; the next one is being scored, so its write is the first request to meet the outage)."""

    def when():
        detector = model._detector
        try:
            return detector is not None and detector.records_seen > chunk
        except RuntimeError:  # the engine is busy with a record in the other thread ("already borrowed")
            return False

    return when


class Outage(threading.Thread):
    """Stops the server as soon as `when()` is true, then (unless `down` is None) starts it again `down`
    seconds later on the same port and data."""

    def __init__(self, server, when, down):
        super().__init__(daemon=True)
        self.server, self.when, self.down = server, when, down
        self.stopped = threading.Event()
        self.error = None

    def run(self):
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not self.when():
                time.sleep(0.002)
            self.server.stop()
            self.stopped.set()
            if self.down is not None:
                time.sleep(self.down)
                self.server.start()
        except Exception as exc:  # reported by the test
            self.error = exc


@pytest.mark.stack
def test_backfill_survives_an_influxd_restart_without_missing_or_duplicate_results(server, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="influxhtm.retry")
    n, chunk = 20_000, 5000  # a chunk takes ~0.4 s to score: the outage starts well before its write
    client = make_client(server, tmp_path, create_database=True, retry=RetryPolicy(max_delay=1.0, deadline=60))
    data = series(n)
    for component in ("reference", "restarted"):
        client.get_sensor("cpu", component).write(data)
    reference = client.get_sensor("cpu", "reference").get_model(**OPTIONS)
    assert reference.backfill(chunk_size=chunk, progress=False) == n

    model = client.get_sensor("cpu", "restarted").get_model(**OPTIONS)
    outage = Outage(server, scoring_chunk(model, chunk), down=3.0)
    outage.start()
    assert model.backfill(chunk_size=chunk, progress=False) == n
    outage.join(30)
    assert outage.error is None and outage.stopped.is_set() and server.running
    retries = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # the server went away while the second chunk was scored: its write waited for the restart
    assert retries and f'during write of {chunk} points to database "{DB}"; retry 1 in 0.5 s' in retries[0]
    assert all("unavailable (" in m for m in retries)
    assert any("is back" in r.getMessage() for r in caplog.records)

    # every timestamp once, each with the uninterrupted run's scores; the detector saw each record once
    assert result_count(client, "restarted") == n
    results = scored(model)
    assert [r[0] for r in results] == [t for t, _ in data]
    assert results == scored(reference)
    assert model.records_seen == n and model.metadata.records_seen == n
    assert model.last_time == data[-1][0]


@pytest.mark.stack
def test_permanent_errors_fail_at_once_with_a_clear_message(server, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="influxhtm.retry")
    client = make_client(server, tmp_path, retry_timeout=60)  # database "faults" was never created
    model = client.get_sensor("cpu", "a").get_model(**OPTIONS)
    result = {"time": START, "value": 1.0, "raw_score": 0.5, "anomaly_likelihood": 0.5, "anomaly_score": 0.1}
    began = time.monotonic()
    with pytest.raises(InfluxPermanentError, match='refused write of 1 points to database "faults"') as info:
        model.write(result)
    assert time.monotonic() - began < 5
    assert info.value.code == 404 and "database not found" in str(info.value)
    assert "not retried" in str(info.value)

    # a field type conflict (HTTP 400): not retried either
    client.create_database(DB)
    start_ns = int(START.timestamp()) * 10**9  # types are per shard: the same one as the result
    client.write_lines([f'cpu_htm,component=b,source_field=value raw_score="text" {start_ns}'])
    with pytest.raises(InfluxPermanentError, match="field type conflict") as info:
        model.write(result)
    assert info.value.code == 400
    assert not [r for r in caplog.records if r.name == "influxhtm.retry"]  # no retry was logged

    # the CLI: a clear message and exit status 2, at once
    client.drop_database(DB)
    began = time.monotonic()
    status = main(
        ["backfill", "--port", str(server.port), "--database", DB, "--state-dir", str(tmp_path / "models")]
        + ["--measurement", "cpu", "--min", "0", "--max", "1", "--quiet"]
    )
    assert status == 2 and time.monotonic() - began < 5
    assert "database not found" in capsys.readouterr().err


@pytest.mark.stack
def test_retry_deadline_gives_a_clear_error_and_backfill_then_resumes_exactly(server, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="influxhtm.retry")
    n, chunk = 12_000, 4000
    client = make_client(server, tmp_path, create_database=True, retry=RetryPolicy(initial=0.2, deadline=1.5))
    data = series(n)
    for component in ("reference", "cut"):
        client.get_sensor("cpu", component).write(data)
    reference = client.get_sensor("cpu", "reference").get_model(**OPTIONS)
    reference.backfill(chunk_size=chunk, progress=False)

    # the server goes away while the second chunk is scored and does not come back within the deadline
    model = client.get_sensor("cpu", "cut").get_model(**OPTIONS)
    outage = Outage(server, scoring_chunk(model, chunk), down=None)
    outage.start()
    began = time.monotonic()
    with pytest.raises(InfluxUnavailableError) as info:
        model.backfill(chunk_size=chunk, progress=False)
    outage.join(30)
    assert outage.error is None and outage.stopped.is_set()
    message = str(info.value)
    assert f"InfluxDB at http://127.0.0.1:{server.port} unavailable: gave up on write of {chunk} points" in message
    assert "retry deadline 1.5 s" in message and "last error: connection refused" in message
    assert time.monotonic() - began < 30
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "retry 1 in 0.2 s" in warnings[0] and any("(connection refused)" in m for m in warnings)
    # the checkpoint stayed at the last written chunk; the scored one waits in memory
    detector = model._detector
    assert model.metadata.records_seen == chunk and detector.records_seen == 2 * chunk

    # the CLI says the same, with its own --retry-timeout
    status = main(
        ["backfill", "--port", str(server.port), "--database", DB, "--state-dir", str(tmp_path / "models")]
        + ["--measurement", "cpu", "--component", "cut", "--quiet", "--retry-timeout", "0.5"]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "influxhtm backfill: InfluxDB error:" in err and "gave up on" in err and "retry deadline 0.5 s" in err

    # back up: the same object writes the waiting chunk (not scoring it again) and carries on; the results
    # are the uninterrupted ones
    server.start()
    assert model.backfill(chunk_size=chunk, progress=False) == n - chunk  # the waiting chunk counts
    assert model._detector is detector and detector.records_seen == n
    assert result_count(client, "cut") == n
    assert scored(model) == scored(reference)
    assert model.metadata.records_seen == n


@pytest.mark.stack
def test_restart_keeps_port_and_data(server, tmp_path):
    client = make_client(server, tmp_path, create_database=True)
    client.get_sensor("cpu", "kept").write(series(10))
    port = server.port
    server.restart()
    assert server.port == port and server.running
    assert len(client.get_sensor("cpu", "kept").get_data()) == 10

    # a read while the server is down waits for it (here: started again a second later)
    server.stop()
    restart = threading.Timer(1.0, server.start)
    restart.start()
    began = time.monotonic()
    assert len(client.get_sensor("cpu", "kept").get_data()) == 10
    assert time.monotonic() - began >= 0.9
    restart.join()


def test_retry_policy_schedule_and_validation():
    waits = []
    now = [0.0]

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    policy = RetryPolicy(deadline=40, sleep=sleep, clock=lambda: now[0])
    calls = []

    def refused():
        calls.append(1)
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(InfluxUnavailableError, match=r"gave up on test after \d+ attempts over 40.0 s"):
        policy.call(refused, "test")
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 8.5]  # doubling, cut at the deadline
    assert len(calls) == len(waits) + 1
    assert is_transient(InfluxDBServerError("engine: cache maximum memory size exceeded"))
    assert is_transient(InfluxDBClientError("slow down", 429)) and is_transient(requests.ConnectionError())
    assert not is_transient(InfluxDBClientError("database not found", 404)) and not is_transient(ValueError())

    def missing():
        raise InfluxDBClientError(b'{"error":"database not found: \\"x\\""}', 404)

    waits.clear()
    with pytest.raises(InfluxPermanentError) as info:
        policy.call(missing, "write to x")
    assert str(info.value) == 'InfluxDB refused write to x (permanent, not retried): HTTP 404: database not found: "x"'
    assert info.value.code == 404 and waits == []
    with pytest.raises(ValueError):
        RetryPolicy(initial=0)
    with pytest.raises(ValueError):
        RetryPolicy(deadline=-1)
    with pytest.raises(ValueError, match="not both"):
        InfluxHtmClient(retry=RetryPolicy(), retry_timeout=3)
    assert InfluxHtmClient(retry_timeout=0).retry.deadline == 0
