"""Checkpoints: save at record k, load, continue → identical to the uninterrupted detector; corrupt
or foreign blobs are refused with a clear error."""

import struct

import pytest

from influxhtm import _engine
from influxhtm.detect import read_series
from influxhtm.htm import AnomalyDetector, AnomalyLikelihood, CorruptState, ModelFactory, anomaly_params
from tests.engine.golden import NAB_DATA


@pytest.fixture(scope="module")
def series():
    s = read_series(str(NAB_DATA / "realKnownCause" / "nyc_taxi.csv"))
    return s.times[:2500], s.values[:2500]


@pytest.mark.parametrize("tm", ["backtracking", "tm"])
def test_save_load_continues_exactly(series, tm):
    times, values = series
    lo, hi = min(values), max(values)
    uninterrupted = AnomalyDetector(lo, hi, probation=300, tm=tm, prediction_steps=1)
    expected = [uninterrupted.handle(t, v) for t, v in zip(times, values)]
    split = 1234
    first = AnomalyDetector(lo, hi, probation=300, tm=tm, prediction_steps=1)
    for t, v in zip(times[:split], values[:split]):
        first.handle(t, v)
    restored = AnomalyDetector.load(first.save())
    assert restored.records_seen == split
    assert restored.settings == first.settings
    resumed = [restored.handle(t, v) for t, v in zip(times[split:], values[split:])]
    assert resumed == expected[split:]


def test_corrupt_state_is_rejected(series):
    times, values = series
    detector = AnomalyDetector(0, 100)
    for t, v in zip(times[:10], values[:10]):
        detector.handle(t, v)
    blob = bytearray(detector.save())
    blob[-5] ^= 0xFF
    with pytest.raises(CorruptState, match="checksum"):
        AnomalyDetector.load(bytes(blob))
    with pytest.raises(CorruptState, match="truncated"):
        AnomalyDetector.load(bytes(blob[:-100]))
    with pytest.raises(CorruptState, match="magic"):
        AnomalyDetector.load(b"not a model at all, just some bytes")
    model = ModelFactory.create(anomaly_params(0, 100))
    with pytest.raises(CorruptState, match="kind"):
        AnomalyDetector.load(model.save())
    with pytest.raises(CorruptState, match="kind"):
        AnomalyLikelihood.load(model.save())
    with pytest.raises(ValueError, match="checksum"):  # callers of the old binding caught ValueError
        AnomalyDetector.load(bytes(blob))


def test_a_state_from_a_newer_engine_is_refused_as_corrupt_state():
    blob = bytearray(AnomalyDetector(0, 100).save())
    blob[4:6] = struct.pack("<H", _engine.STATE_FORMAT_VERSION + 1)
    with pytest.raises(CorruptState, match="newer"):
        AnomalyDetector.load(bytes(blob))
    with pytest.raises(CorruptState, match="newer"):
        ModelFactory.loadFromCheckpoint(bytes(blob))


def test_opf_model_checkpoint_round_trip(tmp_path, series):
    times, values = series
    params = anomaly_params(min(values), max(values), prediction_steps=1)
    model = ModelFactory.create(params)
    model.enableInference({"predictedField": "value"})
    model.enableLikelihood(learningPeriod=100, estimationSamples=100)
    for t, v in zip(times[:500], values[:500]):
        model.run({"timestamp": t, "value": v})
    path = tmp_path / "model.htm"
    model.save(str(path))
    loaded = ModelFactory.loadFromCheckpoint(str(path))
    for t, v in zip(times[500:700], values[500:700]):
        a = model.run({"timestamp": t, "value": v})
        b = loaded.run({"timestamp": t, "value": v})
        assert a.inferences == b.inferences
        assert a.predictionNumber == b.predictionNumber
