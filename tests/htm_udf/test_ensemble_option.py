"""`.detector('ensemble')`: a real UDF server scores with the ensemble (the library's detector with the same
options gives the same fields), keeps HTM's raw score and likelihood, and continues a killed server's
model exactly (state and journal of the ensemble kind)."""

import math

from influxhtm.htm import AnomalyDetector
from influxhtm.udf.models import detector_options
from influxhtm.udf.options import HtmOptions
from tests.udf_protocol.client import init_request, make_point, option, request

SEC = 10**9
START = 1_700_000_000
LO, HI = 0.0, 100.0
PROBATION = 100
BASE = [option("field", "usage"), option("min", LO), option("max", HI), option("probation", PROBATION)]


def value(i: int) -> float:
    spike = 45.0 if i in (260, 420) else 0.0
    return 40.0 + 20.0 * math.sin(i / 7.0) + spike


def send(client, start: int, count: int):
    for i in range(start, start + count):
        client.send(request(make_point((START + 300 * i) * SEC, value(i), field="usage", group="", tags={})))
    return client.points(count)


def reference(detector: str, count: int) -> list:
    options = HtmOptions(field="usage", min=LO, max=HI, probation=PROBATION, detector=detector)
    model = AnomalyDetector(**detector_options(options, LO, HI))
    return [model.handle_epoch(START + 300 * i, value(i)) for i in range(count)]


def fields(points) -> list:
    return [
        (p.fieldsDouble["raw_score"], p.fieldsDouble["anomaly_likelihood"], p.fieldsDouble["anomaly_score"])
        for p in points
    ]


def test_ensemble_scores_match_the_library_and_keep_htms_raw_score(server):
    c = server.connect()
    assert c.ask(init_request(*BASE, option("detector", "ensemble"))).success
    outs = send(c, 0, 500)
    ensemble = reference("ensemble", 500)
    assert fields(outs) == [(s.raw_score, s.anomaly_likelihood, s.anomaly_score) for s in ensemble]
    numenta = reference("numenta", 500)
    assert [s.raw_score for s in ensemble] == [s.raw_score for s in numenta]
    assert [s.anomaly_score for s in ensemble] != [s.anomaly_score for s in numenta]


def test_ensemble_model_continues_after_a_kill(socket_server):
    srv = socket_server()
    opts = [*BASE, option("detector", "ensemble"), option("checkpointEvery", 120)]
    c = srv.connect()
    assert c.ask(init_request(*opts)).success
    before = send(c, 0, 300)  # checkpoint at 240, journal after it
    srv.kill9()
    srv.restart()
    c = srv.connect()
    assert c.ask(init_request(*opts)).success
    after = send(c, 300, 200)
    expected = reference("ensemble", 500)
    assert fields(before + after) == [(s.raw_score, s.anomaly_likelihood, s.anomaly_score) for s in expected]
