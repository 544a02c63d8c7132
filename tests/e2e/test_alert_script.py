"""tickscripts/htm_alert.tick in a real kapacitord: no alert while learning, one per incident, POSTed.

Result points (the schema's fields) are written straight into Kapacitor, so each case controls its
scores exactly; the alerts arrive at an `influxhtm.alerts.AlertReceiver` and in the log handler's file.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from influxhtm.alerts import AlertReceiver, read_alert_log
from influxhtm.schema import ANOMALY_SCORE, LEARNING, PREDICTION, RECORDS_SEEN, VALUE

from .helpers import DB, RP, TICKSCRIPTS, epoch_ns

START = dt.datetime(2026, 3, 2)
STEP = dt.timedelta(minutes=5)
QUIET_MINUTES = 60.0


def result_line(measurement: str, host: str, i: int, score: float, learning: bool, prediction: float | None) -> str:
    fields = [f"{VALUE}={10.0 + i}", f"{ANOMALY_SCORE}={score}", f"{LEARNING}={str(learning).lower()}"]
    fields.append(f"{RECORDS_SEEN}={i + 1}i")
    if prediction is not None:
        fields.append(f"{PREDICTION}={prediction}")
    return f"{measurement},host={host},source_field=value {','.join(fields)} {epoch_ns(START + i * STEP)}"


@pytest.fixture
def alert_task(kapacitor, tmp_path, request):
    """The alert script as a task on its own measurement; yields (measurement, receiver, alert log)."""
    measurement = f"alerts_{request.node.name[5:30]}_htm"
    task_id = f"e2e_{measurement}"
    alert_log = tmp_path / "alerts.log"
    with AlertReceiver("127.0.0.1:0") as receiver:
        kapacitor.define_task(
            task_id,
            (TICKSCRIPTS / "htm_alert.tick").read_text(),
            dbrps=[(DB, RP)],
            vars={
                "database": DB,
                "retention_policy": RP,
                "htm_measurement": measurement,
                "alert_log": str(alert_log),
                "alert_url": receiver.url,
                "quiet": QUIET_MINUTES,
            },
        )
        yield measurement, receiver, alert_log
        kapacitor.delete_task(task_id)


def feed(kapacitor, measurement: str, scores: list[float], learning_until: int, *, host: str = "a") -> None:
    """One result point per score, 5 minutes apart; points before `learning_until` are learning."""
    kapacitor.write(
        [result_line(measurement, host, i, s, i < learning_until, 0.5 * i) for i, s in enumerate(scores)], db=DB, rp=RP
    )


def wait_events(receiver: AlertReceiver, alert_log, count: int, timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (len(receiver.events) < count or len(read_alert_log(alert_log)) < count):
        time.sleep(0.1)
    time.sleep(0.5)  # anything beyond `count` would have arrived by now
    return receiver.events


def test_no_alert_while_learning_then_one_per_incident(alert_task, kapacitor):
    measurement, receiver, alert_log = alert_task
    scores = [0.9] * 5 + [0.1] * 15  # high while learning (points 0-9): no alert
    scores += [0.7, 0.2, 0.8, 0.6, 0.1, 0.9] + [0.1] * 5  # incident 1: crosses 0.5 often, calm < 60 min between
    scores += [0.1] * 10  # calm for over an hour: incident 1 ends with one OK
    scores += [0.95, 0.97] + [0.1] * 3  # incident 2
    feed(kapacitor, measurement, scores, learning_until=10)
    # a last point far later closes incident 2 (the calm time is measured in the series' own time)
    kapacitor.write([result_line(measurement, "a", len(scores) + 100, 0.0, False, None)], db=DB, rp=RP)

    events = wait_events(receiver, alert_log, 4)
    assert [e.level for e in events] == ["CRITICAL", "OK", "CRITICAL", "OK"], [e.message for e in events]
    first, _, second, _ = events
    assert first.time == START + 20 * STEP  # the first high score after learning, not the learning ones
    assert second.time == START + 41 * STEP
    assert [e.message for e in read_alert_log(alert_log)] == [e.message for e in events]


def test_message_names_series_score_value_and_prediction(alert_task, kapacitor):
    measurement, receiver, alert_log = alert_task
    feed(kapacitor, measurement, [0.1] * 3 + [0.75], learning_until=0, host="db-7")

    (event,) = wait_events(receiver, alert_log, 1)
    assert event.critical
    assert event.tags == {"host": "db-7", "source_field": "value"}
    assert "host=db-7" in event.message and "source_field=value" in event.message
    assert "anomaly_score=0.750" in event.message
    assert "value=13" in event.message and "prediction=1.5" in event.message


def test_a_point_without_prediction_still_alerts(alert_task, kapacitor):
    measurement, receiver, alert_log = alert_task
    kapacitor.write([result_line(measurement, "a", 0, 0.8, False, None)], db=DB, rp=RP)

    (event,) = wait_events(receiver, alert_log, 1)
    assert event.critical and "prediction" not in event.message
