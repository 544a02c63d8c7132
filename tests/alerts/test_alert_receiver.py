"""influxhtm.alerts: the receiver keeps every well-formed alert and refuses the rest without stopping."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pytest

from influxhtm.alerts import AlertEvent, AlertReceiver, read_alert_log

EVENT = {
    "id": "htm:cpu_htm:host=a,source_field=usage_idle",
    "message": "CRITICAL cpu_htm [host=a,source_field=usage_idle] anomaly_score=0.912 value=3",
    "time": "2026-03-02T10:15:00Z",
    "duration": 0,
    "level": "CRITICAL",
    "previousLevel": "OK",
    "data": {"series": [{"name": "cpu_htm", "tags": {"host": "a", "source_field": "usage_idle"}}]},
}


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_keeps_logs_and_writes_out_each_alert(tmp_path):
    out = tmp_path / "received.log"
    with AlertReceiver("127.0.0.1:0", out=out) as receiver:
        assert post(receiver.url, json.dumps(EVENT).encode()) == 204
        assert post(receiver.url, json.dumps({**EVENT, "level": "OK"}).encode()) == 204
        events = receiver.events
    assert [e.level for e in events] == ["CRITICAL", "OK"]
    assert events[0].time == dt.datetime(2026, 3, 2, 10, 15)
    assert events[0].tags == {"host": "a", "source_field": "usage_idle"}
    assert events[0].previous_level == "OK"
    assert read_alert_log(out) == events


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", json.dumps({"level": "CRITICAL"}).encode(), b""])
def test_refuses_what_is_not_an_alert_and_keeps_serving(body):
    with AlertReceiver("127.0.0.1:0") as receiver:
        assert post(receiver.url, body) == 400
        assert post(receiver.url, json.dumps(EVENT).encode()) == 204
        assert len(receiver.events) == 1


def test_event_times_with_offsets_become_utc():
    event = AlertEvent.from_json({**EVENT, "time": "2026-03-02T11:15:00+01:00"})
    assert event.time == dt.datetime(2026, 3, 2, 10, 15)


def test_listen_must_be_host_and_port():
    with pytest.raises(ValueError, match="HOST:PORT"):
        AlertReceiver("9095")
