"""Library results in a real InfluxDB carry boolean `learning` and integer `records_seen`; results written
before those fields existed read back with None; the library's `timezone` option is kept with the model."""

import datetime
import math

import pytest

from influxhtm.htm import AnomalyDetector
from influxhtm.influxql import line, quote_ident, to_ns
from influxhtm.schema import LEARNING, RECORDS_SEEN, result_fields

UTC = datetime.timezone.utc
START = datetime.datetime(2024, 3, 30, 12, 0, tzinfo=UTC)  # Europe/Berlin springs forward the next night
N = 60
PROBATION = 20
OPTIONS = {"min_value": 0.0, "max_value": 100.0, "probation": PROBATION}


def series(n=N):
    return [(START + datetime.timedelta(minutes=10 * i), 50 + 30 * math.sin(i / 6)) for i in range(n)]


def field_types(client, measurement) -> dict:
    rows = client.query(f"SHOW FIELD KEYS FROM {quote_ident(measurement)}").get_points()
    return {row["fieldKey"]: row["fieldType"] for row in rows}


def test_backfilled_results_have_typed_learning_and_records_seen(client):
    sensor = client.get_sensor("cpu", "a")
    sensor.write(series())
    model = sensor.get_model(**OPTIONS)
    assert model.backfill(chunk_size=25, progress=False) == N
    types = field_types(client, "cpu_htm")
    assert types[LEARNING] == "boolean" and types[RECORDS_SEEN] == "integer"
    assert types["anomaly_score"] == "float"
    results = model.get_results()
    assert [r.records_seen for r in results] == list(range(1, N + 1))
    assert [r.learning for r in results] == [True] * PROBATION + [False] * (N - PROBATION)
    assert all(type(r.learning) is bool and type(r.records_seen) is int for r in results)
    # aggregations: the boolean joins where InfluxDB can aggregate it, else it is None
    last = model.get_results(aggregation={"method": "last"})
    assert (last[0].learning, last[0].records_seen) == (False, N)
    mean = model.get_results(aggregation={"method": "max"})
    assert mean[0].learning is None and mean[0].records_seen == N


def test_written_scores_keep_the_fields_and_old_results_read_as_none(client):
    sensor = client.get_sensor("cpu", "w")
    model = sensor.get_model(**OPTIONS)
    detector = AnomalyDetector(0.0, 100.0, probation=2)
    points = series(3)
    for t, v in points:
        model.write(detector.handle(t, v), timestamp=t, value=v)
    # a result point as versions before the fields wrote it
    old = START - datetime.timedelta(minutes=10)
    client.write_lines([line("cpu_htm", model.result_tags, result_fields(1.0, 0.5, 0.5, 0.1), to_ns(old))])
    results = model.get_results()
    assert [(r.learning, r.records_seen) for r in results] == [(None, None), (True, 1), (True, 2), (False, 3)]
    assert field_types(client, "cpu_htm")[RECORDS_SEEN] == "integer"


def test_line_protocol_types():
    fields = result_fields(1.0, 0.5, 0.25, 0.125, None, True, 123)
    assert line("m", {}, fields, 5, integers=(RECORDS_SEEN,)) == (
        "m value=1.0,raw_score=0.5,anomaly_likelihood=0.25,anomaly_score=0.125,learning=true,records_seen=123i 5"
    )
    assert line("m", {}, {"learning": False, "n": 3}, 5) == "m learning=false,n=3.0 5"
    with pytest.raises(ValueError):
        result_fields(1.0, 0.5, learning="yes")
    with pytest.raises(ValueError):
        result_fields(1.0, 0.5, records_seen=1.5)


def test_timezone_option_is_kept_with_the_model_and_used(client):
    sensor = client.get_sensor("cpu", "berlin")
    sensor.write(series(200))
    model = sensor.get_model(timezone="Europe/Berlin", **OPTIONS)
    model.backfill(progress=False)
    again = client.get_sensor("cpu", "berlin").get_model()
    assert again.metadata.detector_options["timezone"] == "Europe/Berlin"
    assert again.detector.timezone == "Europe/Berlin"
    reference = AnomalyDetector(timezone="Europe/Berlin", **OPTIONS)
    expected = [reference.handle(t, v).anomaly_score for t, v in series(200)]
    assert [r.anomaly_score for r in again.get_results()] == expected
    utc = AnomalyDetector(**OPTIONS)
    assert expected != [utc.handle(t, v).anomaly_score for t, v in series(200)]


def test_unknown_timezone_is_refused_at_once(client):
    with pytest.raises(ValueError, match="Mars/Base"):
        client.get_sensor("cpu", "mars").get_model(timezone="Mars/Base", **OPTIONS)
