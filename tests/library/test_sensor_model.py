"""HtmSensorModel: metadata in the model store, result writes, resumable backfill."""

import datetime
import json
import logging
import math
from pathlib import Path

import pytest

from influxhtm.htm import AnomalyDetector, ModelFactory, anomaly_params
from influxhtm.results import HtmModelResults
from influxhtm.store import ModelStore
from influxhtm.store.cli import main as models_cli

UTC = datetime.timezone.utc
START = datetime.datetime(2024, 2, 1, tzinfo=UTC)
N = 1200


def series(n=N):
    return [
        (START + datetime.timedelta(minutes=5 * i), 50 + 20 * math.sin(i / 12) + (40 if i in (700, 1000) else 0))
        for i in range(n)
    ]


@pytest.fixture
def client(client):
    """The library tests' client, with the series of three sensors written."""
    for component in ("once", "resumed", "crashed"):
        client.get_sensor("cpu", component).write(series())
    return client


def _scores(results):
    return [(r.time, r.value, r.raw_score, r.anomaly_likelihood, r.anomaly_score) for r in results]


def test_backfill_resumes_to_the_same_results(client, capsys):
    options = {"min_value": 0.0, "max_value": 120.0, "probation": 100}
    once = client.get_sensor("cpu", "once").get_model(**options)
    assert once.backfill(chunk_size=400) == N
    assert "backfill cpu" in capsys.readouterr().err  # progress bar on stderr
    reference = once.get_results()
    assert len(reference) == N and reference[0].time == START
    assert [r.value for r in reference] == [v for _, v in series()]

    resumed = client.get_sensor("cpu", "resumed").get_model(**options)
    assert resumed.backfill(until=START + datetime.timedelta(minutes=5 * 499), chunk_size=300, progress=False) == 500
    assert resumed.records_seen == 500
    # a fresh object (as in a new process) picks up from the store
    again = client.get_sensor("cpu", "resumed").get_model()
    assert again.last_time == START + datetime.timedelta(minutes=5 * 499)
    assert again.backfill(since=START, progress=False) == N - 500  # `since` before the resume point is skipped
    assert _scores(again.get_results()) == _scores(reference)
    assert again.backfill(progress=False) == 0  # up to date: nothing to do
    assert again.records_seen == N


def test_backfill_after_a_crash_continues_exactly(client, monkeypatch):
    options = {"min_value": 0.0, "max_value": 120.0, "probation": 100}
    reference = client.get_sensor("cpu", "once").get_model(**options)
    reference.backfill(chunk_size=250, progress=False)

    crashed = client.get_sensor("cpu", "crashed").get_model(**options)
    real_write = client.write_lines
    calls = {"n": 0}

    def failing_write(lines, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("network went away")
        return real_write(lines, **kwargs)

    monkeypatch.setattr(client, "write_lines", failing_write)
    with pytest.raises(ConnectionError):
        crashed.backfill(chunk_size=250, progress=False)
    monkeypatch.setattr(client, "write_lines", real_write)
    assert crashed.metadata.records_seen == 500  # two chunks were checkpointed

    # the same object carries on (its detector, ahead of the checkpoint, is reloaded from the store)
    assert crashed.backfill(chunk_size=250, progress=False) == N - 500
    assert _scores(crashed.get_results()) == _scores(reference.get_results())
    assert crashed.records_seen == N


def test_model_metadata_is_kept_in_the_shared_store(client, tmp_path, capsys):
    sensor = client.get_sensor("cpu", "once")
    model = sensor.get_model(probation=100)
    model.backfill(until=START + datetime.timedelta(hours=1), progress=False)
    store = ModelStore(tmp_path / "models")  # what the UDF's `models` commands see
    assert model.model_id in store.model_ids()
    meta = store.metadata(model.model_id)  # the one metadata record, as for the UDF's models
    assert meta.origin == "library" and meta.task is None
    assert meta.database == client.database and meta.measurement == "cpu"
    assert meta.tags == {"component": "once"} and meta.source_field == "value"
    assert meta.result_measurement == "cpu_htm"
    assert meta.detector_options["probation"] == 100
    low, high = min(v for _, v in series()), max(v for _, v in series())
    assert (meta.detector_options["min_value"], meta.detector_options["max_value"]) == (low, high)  # from the data
    assert meta.records_seen == 13 and meta.last_time_ns is not None and meta.state_format["checkpoint"] == 1
    assert datetime.datetime.fromisoformat(meta.created).tzinfo is not None
    # `influxhtm models` manages it like any other model
    assert models_cli(["models", "--state-dir", str(tmp_path / "models"), "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["id"], row["origin"], row["measurement"], row["records_seen"]) == (model.model_id, "library", "cpu", 13)
    (listed,) = client.list_models()
    assert listed.model_id == model.model_id and listed.sensor == sensor and listed.records_seen == 13
    model.delete(drop_results=True)
    assert model.model_id not in store.model_ids()
    assert model.get_results() == []


def test_results_schema_and_write_of_detector_scores(client):
    sensor = client.get_sensor("cpu", "once")
    model = sensor.get_model()
    detector = AnomalyDetector(0.0, 120.0, prediction_steps=1)
    written = []
    for t, v in series(20):
        scores = detector.handle(t, v)
        model.write(scores, timestamp=t, value=v)
        written.append((t, v, scores))
    results = model.get_results()
    assert all(isinstance(r, HtmModelResults) for r in results)
    for r, (t, v, s) in zip(results, written):
        assert (r.time, r.value, r.raw_score, r.anomaly_likelihood, r.anomaly_score) == (
            t,
            v,
            s.raw_score,
            s.anomaly_likelihood,
            s.anomaly_score,
        )
        assert r.prediction == (None if s.prediction is None else pytest.approx(s.prediction))
    series_keys = [row["key"] for row in client.query('SHOW SERIES FROM "cpu_htm"').get_points()]
    assert series_keys == ["cpu_htm,component=once,source_field=value"]
    types = {row["fieldKey"]: row["fieldType"] for row in client.query('SHOW FIELD KEYS FROM "cpu_htm"').get_points()}
    assert types.pop("learning") == "boolean" and types.pop("records_seen") == "integer"
    assert set(types.values()) == {"float"}
    assert {"value", "raw_score", "anomaly_likelihood", "anomaly_score"} <= set(types)
    with pytest.raises(ValueError, match="timestamp"):
        model.write(detector.handle(START, 1.0))


def test_write_of_opf_results_with_likelihood(client):
    model_opf = ModelFactory.create(anomaly_params(0.0, 120.0))
    model_opf.enableInference({"predictedField": "value"})
    model_opf.enableLikelihood()
    htm_model = client.get_sensor("cpu", "once").get_model()
    batch = [model_opf.run({"timestamp": t, "value": v}) for t, v in series(5)]
    assert htm_model.write(batch) == 5  # a list is written in one batch
    results = htm_model.get_results()
    assert [r.anomaly_likelihood for r in results] == [0.5] * 5  # NuPIC's probation value
    assert results[0].anomaly_score == pytest.approx(0.0301029996658834)
    assert results[0].raw_score == 1.0


def test_min_max_needed_without_data(client):
    model = client.get_sensor("cpu", "no-such-component").get_model()
    assert model.backfill(progress=False) == 0  # no history: nothing to do
    with pytest.raises(ValueError, match="min_value"):
        _ = model.detector
    with pytest.raises(ValueError, match="unknown model options"):
        client.get_sensor("cpu", "once").get_model(minimum=3)


def test_an_unloadable_checkpoint_is_quarantined_and_backfill_starts_over(client, tmp_path, caplog):
    options = {"min_value": 0.0, "max_value": 120.0, "probation": 100}
    reference = client.get_sensor("cpu", "once").get_model(**options)
    reference.backfill(chunk_size=400, progress=False)
    model = client.get_sensor("cpu", "crashed").get_model(**options)
    model.backfill(until=START + datetime.timedelta(minutes=5 * 299), progress=False)
    path = Path(client.model_store.root, "models", model.model_id, "checkpoint.bin")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # a damaged checkpoint (fails its sha256)
    path.write_bytes(bytes(data))

    again = client.get_sensor("cpu", "crashed").get_model()  # as in a new process
    with caplog.at_level(logging.WARNING, logger="influxhtm"):
        assert again.backfill(progress=False) == N  # a new model, from the first record, same options
    assert any("starting a new model" in r.message for r in caplog.records)
    (entry,) = client.model_store.quarantined()
    assert entry.model_id == model.model_id and "sha256" in entry.reason
    assert Path(entry.path, "checkpoint.bin").read_bytes() == bytes(data)
    assert _scores(again.get_results()) == _scores(reference.get_results())


def test_ensemble_detector_option_is_kept_with_the_model_and_used(client):
    """`get_model(detector="ensemble")`: backfilled results are the ensemble's, and a model reopened from the
    store is still an ensemble."""
    import datetime
    import math

    from influxhtm.htm import AnomalyDetector

    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    data = [
        (start + datetime.timedelta(minutes=5 * i), 50 + 30 * math.sin(i / 6) + (40 if i == 300 else 0))
        for i in range(400)
    ]
    options = {"min_value": 0.0, "max_value": 130.0, "probation": 100}
    sensor = client.get_sensor("cpu", "ensemble")
    sensor.write(data)
    sensor.get_model(detector="ensemble", **options).backfill(progress=False)
    again = client.get_sensor("cpu", "ensemble").get_model()
    assert again.detector.detector == "ensemble"
    reference = AnomalyDetector(detector="ensemble", **options)
    assert [r.anomaly_score for r in again.get_results()] == [reference.handle(t, v).anomaly_score for t, v in data]
