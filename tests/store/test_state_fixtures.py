"""Upgrades lose nothing: every stored state ever written (tests/fixtures/state/, see its README) still
loads and continues exactly like a model that was never saved; what cannot be loaded is quarantined."""

import glob
import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import pytest

from influxhtm.htm import AnomalyDetector
from influxhtm.influxql import from_ns
from influxhtm.sensor_model import HtmSensorModel
from influxhtm.store import ModelStore
from influxhtm.udf.models import ModelRegistry
from influxhtm.udf.options import HtmOptions

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "state")
NAMES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(FIXTURES, "*", "expected.json")))
# Fixtures that load but do not go on exactly, and why (README.md, "Checkpoints that load but continue
# differently"); test_diverging_fixture_keeps_its_anomaly_scores checks what does still hold for them.
DIVERGING = {
    "udf-rel1": "the classifier's weights were learned with the softmax of the first release (before commit "
    "1fb2798): its predictions differ, its anomaly scores do not",
}
EXACT = [n for n in NAMES if n not in DIVERGING]


def expected_of(name):
    with open(os.path.join(FIXTURES, name, "expected.json")) as f:
        return json.load(f)


def install(name, root):
    """A store at root holding the fixture's model directory as written by the release that made it."""
    expected = expected_of(name)
    store = ModelStore(root)
    shutil.copytree(os.path.join(FIXTURES, name, "model"), os.path.join(root, "models", expected["model_id"]))
    return store, expected


def as_lists(scores):
    return [[s.raw_score, s.anomaly_likelihood, s.anomaly_score, s.prediction] for s in scores]


class FakeClient:
    result_suffix = "_htm"

    def __init__(self, store):
        self.model_store = store


class FakeSensor:
    """The sensor the library fixtures were made for (make_fixtures.py); no InfluxDB needed to load them."""

    database, retention_policy, measurement = "telegraf", None, "cpu"
    tag_key, component, field = "component", "fixture", "value"

    def __init__(self, client):
        self.client = client
        self.tags = {"component": "fixture"}


def udf_continuation(store, expected):
    """Open the stored model as the UDF does and feed it the inputs after the saved ones."""
    meta = store.metadata(expected["model_id"])
    registry = ModelRegistry(store)
    model = registry.get((meta.task, meta.node, meta.group), HtmOptions(**expected["options"]), dict)
    rest = expected["inputs"][expected["saved_inputs"] :]
    with model.lock:
        answers = model.accept([(t, v, None) for t, v in rest])
    registry.checkpointer.close()
    return registry, [s.scores for answer in answers for s in answer][-len(rest) :]


def never_saved(expected, tmp_path):
    """Scores of the continuation inputs from a model that saw every input without a save."""
    inputs, saved = expected["inputs"], expected["saved_inputs"]
    if expected["origin"] == "library":
        detector = AnomalyDetector(**expected["options"])
        return [detector.handle(from_ns(t), v) for t, v in inputs][saved:]
    registry = ModelRegistry(ModelStore(tmp_path / "never_saved"))
    model = registry.get(("t", "n", "g"), HtmOptions(**expected["options"]), dict)
    with model.lock:
        answers = model.accept([(t, v, None) for t, v in inputs])
    registry.checkpointer.close()
    return [s.scores for answer in answers for s in answer][saved:]


def test_every_format_has_a_fixture():
    assert {"udf-meta1", "udf-warmup-meta1", "library-meta1", "udf-meta2", "library-meta2"} <= set(NAMES)
    assert {"udf-rel1", "library-rel1"} <= set(NAMES) and set(DIVERGING) <= set(NAMES)


@pytest.mark.parametrize("name", EXACT)
def test_fixture_loads_and_continues_exactly(name, tmp_path):
    store, expected = install(name, tmp_path / "state")
    meta = store.metadata(expected["model_id"])
    assert meta.origin == expected["origin"]
    assert meta.database == "telegraf" and meta.measurement == "cpu"
    if expected["origin"] == "udf":
        assert (meta.task, meta.node, meta.group) == ("fixture_task", "htm2", "host=a")
        assert meta.source_field == "usage" and meta.tags == {"host": "a"}
        registry, got = udf_continuation(store, expected)
        assert registry.metrics.quarantined.values() == {"unloadable": 0, "options_changed": 0}
    else:
        assert meta.source_field == "value" and meta.component == "fixture"
        assert meta.detector_options == expected["options"] and meta.result_measurement == "cpu_htm"
        model = HtmSensorModel(FakeSensor(FakeClient(store)))
        assert model.records_seen == expected["saved_inputs"]
        assert model.last_time == from_ns(expected["inputs"][expected["saved_inputs"] - 1][0])
        got = [model.detector.handle(from_ns(t), v) for t, v in expected["inputs"][expected["saved_inputs"] :]]
    assert store.quarantined() == []
    assert as_lists(got) == expected["continuation_scores"]  # what the release that wrote it computed
    assert as_lists(got) == as_lists(never_saved(expected, tmp_path))  # and what a model never saved gives


@pytest.mark.parametrize("name", [n for n in EXACT if "warmup" not in n])
def test_fixture_survives_a_save_by_this_release(name, tmp_path):
    """Loaded, saved again in the current formats, loaded again: still the same continuation."""
    store, expected = install(name, tmp_path / "state")
    stored = store.load(expected["model_id"])
    detector = AnomalyDetector.load(stored.blob)
    for entry in stored.journal:
        detector.handle(from_ns(entry.time_ns), entry.value)
    store.save_checkpoint(expected["model_id"], detector.save(), stored.metadata)
    again = ModelStore(tmp_path / "state").load(expected["model_id"])
    assert again.metadata.state_format["checkpoint"] == 1 and again.journal == []
    written = Path(store.root, "models", expected["model_id"], "metadata.json").read_text()
    assert json.loads(written)["version"] == 2
    detector = AnomalyDetector.load(again.blob)
    got = [detector.handle(from_ns(t), v) for t, v in expected["inputs"][expected["saved_inputs"] :]]
    assert as_lists(got) == expected["continuation_scores"]


def anomaly_scores(rows):
    """raw score, likelihood and anomaly score of each row, without the prediction"""
    return [row[:3] for row in rows]


@pytest.mark.parametrize("name", sorted(DIVERGING))
def test_diverging_fixture_keeps_its_anomaly_scores(name, tmp_path):
    """It loads (nothing quarantined) and its anomaly scores go on exactly, saved again or not."""
    store, expected = install(name, tmp_path / "state")
    assert expected["origin"] == "udf"
    registry, got = udf_continuation(store, expected)
    assert registry.metrics.quarantined.values() == {"unloadable": 0, "options_changed": 0}
    assert store.quarantined() == []
    want = anomaly_scores(expected["continuation_scores"])
    assert anomaly_scores(as_lists(got)) == want
    assert anomaly_scores(as_lists(never_saved(expected, tmp_path))) == want
    resaved, _ = install(name, tmp_path / "resaved")
    stored = resaved.load(expected["model_id"])
    detector = AnomalyDetector.load(stored.blob)
    for entry in stored.journal:
        detector.handle(from_ns(entry.time_ns), entry.value)
    resaved.save_checkpoint(expected["model_id"], detector.save(), stored.metadata)
    detector = AnomalyDetector.load(ModelStore(tmp_path / "resaved").load(expected["model_id"]).blob)
    got = [detector.handle(from_ns(t), v) for t, v in expected["inputs"][expected["saved_inputs"] :]]
    assert anomaly_scores(as_lists(got)) == want


# ---- what cannot be loaded is quarantined, never deleted ------------------------------------------
def rewrite_checkpoint(path, *, engine_version=None, container_version=None, flip=False):
    data = bytearray(Path(path).read_bytes())
    header = struct.Struct("<8sIQQ32s")
    magic, version, generation, length, digest = header.unpack_from(data, 0)
    blob = bytearray(data[header.size :])
    if engine_version is not None:  # the engine's own header: b"IHTM", u16 version (engine/src/state.rs)
        blob[4:6] = struct.pack("<H", engine_version)
        digest = hashlib.sha256(blob).digest()  # a valid container: the engine is what refuses
    if container_version is not None:
        version = container_version
    if flip:
        blob[len(blob) // 2] ^= 0x40
    Path(path).write_bytes(header.pack(magic, version, generation, length, digest) + bytes(blob))


DAMAGE = {
    "engine_v1": ({"engine_version": 1}, "version 1"),
    "engine_newer": ({"engine_version": 999}, "version 999"),
    "container_newer": ({"container_version": 7}, "container version 7"),
    "checksum": ({"flip": True}, "sha256"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_udf_quarantines_an_unloadable_checkpoint_and_starts_anew(damage, tmp_path, caplog):
    store, expected = install("udf-meta2", tmp_path / "state")
    model_dir = os.path.join(store.root, "models", expected["model_id"])
    before = sorted(os.listdir(model_dir))
    kwargs, words = DAMAGE[damage]
    rewrite_checkpoint(os.path.join(model_dir, "checkpoint.bin"), **kwargs)
    damaged = Path(os.path.join(model_dir, "checkpoint.bin")).read_bytes()
    registry = ModelRegistry(store)
    meta = store.metadata(expected["model_id"])
    with caplog.at_level("WARNING", logger="influxhtm.udf"):
        model = registry.get((meta.task, meta.node, meta.group), HtmOptions(**expected["options"]), dict)
    assert model.records_seen == 0 and model.detector is not None  # a new model (range given: no warm-up)
    assert registry.metrics.quarantined.values()["unloadable"] == 1
    assert any("moved to" in r.message and "starting a new model" in r.message for r in caplog.records)
    (entry,) = store.quarantined()
    assert entry.model_id == expected["model_id"] and entry.cause == "unloadable" and words in entry.reason
    assert sorted(os.listdir(entry.path)) == sorted([*before, "reason.json"])  # everything kept
    assert Path(os.path.join(entry.path, "checkpoint.bin")).read_bytes() == damaged
    assert json.loads(Path(os.path.join(entry.path, "reason.json")).read_text())["reason"] == entry.reason
    registry.close()
    assert store.metadata(expected["model_id"]).records_seen == 0  # the new model took the id


def test_udf_quarantines_a_model_made_with_other_options(tmp_path):
    store, expected = install("udf-meta1", tmp_path / "state")
    registry = ModelRegistry(store)
    options = HtmOptions(**dict(expected["options"], max=500.0))
    registry.get(("fixture_task", "htm2", "host=a"), options, dict)
    (entry,) = store.quarantined()
    assert entry.cause == "options_changed" and "500.0" in entry.reason
    assert registry.metrics.quarantined.values() == {"unloadable": 0, "options_changed": 1}
    registry.close()


def test_a_journal_of_a_newer_version_is_quarantined_not_deleted(tmp_path):
    store, expected = install("udf-meta2", tmp_path / "state")
    model_dir = os.path.join(store.root, "models", expected["model_id"])
    (journal,) = [n for n in os.listdir(model_dir) if n.startswith("journal-")]
    data = bytearray(Path(os.path.join(model_dir, journal)).read_bytes())
    data[8:12] = struct.pack("<I", 2)
    import zlib

    data[20:24] = struct.pack("<I", zlib.crc32(bytes(data[:20])))  # a well-formed header of version 2
    Path(os.path.join(model_dir, journal)).write_bytes(bytes(data))
    registry = ModelRegistry(store)
    registry.get(("fixture_task", "htm2", "host=a"), HtmOptions(**expected["options"]), dict)
    (entry,) = store.quarantined()
    assert "journal version 2" in entry.reason
    assert Path(os.path.join(entry.path, journal)).read_bytes() == bytes(data)
    registry.close()


def test_library_quarantines_an_unloadable_checkpoint_and_starts_anew(tmp_path, caplog):
    store, expected = install("library-meta1", tmp_path / "state")
    model_dir = os.path.join(store.root, "models", expected["model_id"])
    rewrite_checkpoint(os.path.join(model_dir, "checkpoint.bin"), engine_version=1)
    model = HtmSensorModel(FakeSensor(FakeClient(store)))
    with caplog.at_level("WARNING", logger="influxhtm"):
        detector = model.detector
    assert detector.records_seen == 0 and model.records_seen == 0 and model.last_time is None
    assert detector.settings["min_value"] == 0.0 and detector.settings["probation"] == 20  # the stored options
    (entry,) = store.quarantined()
    assert "version 1" in entry.reason and sorted(os.listdir(entry.path)) == [
        "checkpoint.bin",
        "journal-1.bin",
        "metadata.json",
        "reason.json",
    ]
    assert any("starting a new model" in r.message for r in caplog.records)


def test_library_quarantines_unreadable_metadata(tmp_path):
    store, expected = install("library-meta2", tmp_path / "state")
    path = os.path.join(store.root, "models", expected["model_id"], "metadata.json")
    Path(path).write_text('{"format": "influxhtm-model-metadata", "version": 2, "records_seen": "many"}')
    model = HtmSensorModel(FakeSensor(FakeClient(store)), min_value=0.0, max_value=100.0)
    assert model.records_seen == 0  # quarantined, new model with this object's options
    assert store.metadata(expected["model_id"]).detector_options == {"min_value": 0.0, "max_value": 100.0}
    (entry,) = store.quarantined()
    assert "records_seen" in entry.reason
