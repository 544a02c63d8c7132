"""`.timezone()`: a real UDF server encodes each point's local wall clock, across Europe/Berlin's DST
changes; the zone is stored with the model and used again after a restart (journal replay included)."""

import datetime
import math

from influxhtm.htm import AnomalyDetector
from influxhtm.udf.models import detector_options
from influxhtm.udf.options import HtmOptions
from tests.udf_protocol.client import init_request, make_point, option, request

SEC = 10**9
UTC = datetime.timezone.utc
# 2024-10-27 01:00 UTC: Berlin falls back from 03:00 to 02:00 (the local hour 02:xx comes twice);
# 2024-03-31 01:00 UTC: it springs forward from 02:00 to 03:00. 10-minute points over both.
FALL = int(datetime.datetime(2024, 10, 26, 12, 0, tzinfo=UTC).timestamp())
SPRING = int(datetime.datetime(2024, 3, 30, 12, 0, tzinfo=UTC).timestamp())
TIMES = [SPRING + 600 * i for i in range(144)] + [FALL + 600 * i for i in range(144)]
LO, HI = 0.0, 100.0
BASE_OPTIONS = [option("field", "usage"), option("min", LO), option("max", HI), option("probation", 50)]


def value(i: int) -> float:
    return 50.0 + 30.0 * math.sin(i / 9.0) + (20.0 if i % 40 == 0 else 0.0)


def send_all(client, times, start=0):
    for i, t in enumerate(times, start=start):
        client.send(request(make_point(t * SEC, value(i), field="usage", group="", tags={})))
    return client.points(len(times))


def reference(zone: str, times) -> list:
    options = HtmOptions(field="usage", min=LO, max=HI, probation=50, timezone=zone)
    detector = AnomalyDetector(**detector_options(options, LO, HI))
    return [detector.handle_epoch(t, value(i)) for i, t in enumerate(times)]


def fields(points) -> list:
    return [
        (p.fieldsDouble["raw_score"], p.fieldsDouble["anomaly_score"], p.fieldsDouble["prediction"]) for p in points
    ]


def expected_fields(scores) -> list:
    return [(s.raw_score, s.anomaly_score, s.prediction) for s in scores]


def test_zone_is_used_across_dst_and_the_fall_back_hour_is_not_time_going_back(server):
    c = server.connect()
    assert c.ask(init_request(*BASE_OPTIONS, option("timezone", "Europe/Berlin"))).success
    outs = send_all(c, TIMES)
    assert all("anomaly_score" in p.fieldsDouble for p in outs)  # every point scored: none out of order
    assert [p.fieldsInt["records_seen"] for p in outs] == list(range(1, len(TIMES) + 1))
    berlin = expected_fields(reference("Europe/Berlin", TIMES))
    assert fields(outs) == berlin
    assert berlin != expected_fields(reference("UTC", TIMES))  # the zone makes a difference


def test_default_zone_is_utc(server):
    c = server.connect()
    assert c.ask(init_request(*BASE_OPTIONS, task_id="default")).success
    outs = send_all(c, TIMES[:100])
    assert fields(outs) == expected_fields(reference("UTC", TIMES[:100]))


def test_zone_is_stored_and_used_after_a_kill_and_restart(socket_server):
    srv = socket_server()
    opts = [*BASE_OPTIONS, option("timezone", "Europe/Berlin"), option("checkpointEvery", 60)]
    c = srv.connect()
    assert c.ask(init_request(*opts)).success
    split = 200  # after a checkpoint at 180: checkpoint + journal replay, both over the DST changes
    first = send_all(c, TIMES[:split])
    srv.kill9()
    srv.restart()
    c2 = srv.connect()
    assert c2.ask(init_request(*opts)).success
    rest = send_all(c2, TIMES[split:], start=split)
    assert fields(first + rest) == expected_fields(reference("Europe/Berlin", TIMES))


def test_unknown_zone_fails_init_naming_the_option_and_the_zone(server):
    c = server.connect()
    resp = c.ask(init_request(option("field", "usage"), option("timezone", "Mars/Olympus_Mons")))
    assert not resp.success
    assert ".timezone()" in resp.error and "Mars/Olympus_Mons" in resp.error
    good = server.connect()
    assert good.ask(init_request(*BASE_OPTIONS, task_id="good")).success  # the server keeps serving


def test_utc_model_params_match_models_stored_before_the_option():
    assert "timezone" not in HtmOptions(field="x").model_params()
    assert HtmOptions(field="x", timezone="Europe/Berlin").model_params()["timezone"] == "Europe/Berlin"
