"""ModelMetadata: one typed, versioned record for every model; old formats convert, unknown fields survive."""

import json
from pathlib import Path

import pytest

from influxhtm.store import METADATA_VERSION, MetadataError, ModelMetadata, ModelStore, StoreError

OLD_UDF = {
    "task": "cpu_alert",
    "node": "htm2",
    "group": "host=a",
    "database": "telegraf",
    "retention_policy": "autogen",
    "measurement": "cpu",
    "field": "usage",
    "tags": {"host": "a"},
    "template": {"name": "cpu", "tags": {"host": "a"}},
    "options": {"field": "usage", "min": 0.0},
    "model_params": {"field": "usage", "min": 0.0},
    "created": "2026-11-28T00:00:00+00:00",
    "records_seen": 7,
    "last_time": 123,
    "warming_up": False,
}
OLD_LIBRARY = {
    "source": "library",
    "task": None,
    "node": None,
    "group": None,
    "database": "db",
    "retention_policy": None,
    "measurement": "cpu",
    "field": "value",
    "tags": {"component": "x"},
    "tag_key": "component",
    "component": "x",
    "result_measurement": "cpu_htm",
    "options": {"probation": 100},
    "created": "2026-11-28T00:00:00+00:00",
    "records_seen": 13,
    "last_time_ns": None,
}


def test_round_trip_through_json():
    record = ModelMetadata(
        origin="udf",
        task="t",
        node="n",
        group="",
        source_field="v",
        records_seen=3,
        last_time_ns=10**18,
        tags={"host": "a"},
        detector_options={"min_value": 0.0},
    )
    doc = json.loads(json.dumps(record.to_json()))
    assert doc["format"] == "influxhtm-model-metadata" and doc["version"] == METADATA_VERSION
    assert ModelMetadata.from_json(doc) == record


def test_udf_metadata_of_version_1_converts():
    record = ModelMetadata.from_json(OLD_UDF)
    assert record.origin == "udf"
    assert (record.task, record.node, record.group) == ("cpu_alert", "htm2", "host=a")
    assert record.source_field == "usage" and record.udf_options == {"field": "usage", "min": 0.0}
    assert record.last_time_ns == 123 and record.records_seen == 7 and record.template["name"] == "cpu"
    assert record.created == "2026-11-28T00:00:00+00:00" and record.extra == {}


def test_library_metadata_of_version_1_converts():
    record = ModelMetadata.from_json(OLD_LIBRARY)
    assert record.origin == "library" and record.task is None and record.group is None
    assert record.source_field == "value" and record.detector_options == {"probation": 100}
    assert (record.tag_key, record.component, record.result_measurement) == ("component", "x", "cpu_htm")
    assert record.retention_policy is None and record.records_seen == 13 and record.extra == {}


def test_fields_of_a_newer_version_are_kept_and_written_back(tmp_path):
    doc = ModelMetadata(task="t").to_json()
    doc.update(version=METADATA_VERSION + 1, detector="ensemble", shard={"host": "b"}, origin="cluster")
    record = ModelMetadata.from_json(doc)
    assert record.task == "t" and record.extra == {"detector": "ensemble", "shard": {"host": "b"}}
    assert record.origin == "cluster"
    store = ModelStore(tmp_path)
    store.write_metadata("m", record)
    store.update_metadata("m", records_seen=5)
    written = json.loads(Path(tmp_path / "models" / "m" / "metadata.json").read_text())
    assert written["detector"] == "ensemble" and written["shard"] == {"host": "b"} and written["records_seen"] == 5


def test_an_old_created_is_not_replaced_by_now():
    assert ModelMetadata.from_json({"task": "t"}).created == ""
    assert ModelMetadata().created.endswith("+00:00")


@pytest.mark.parametrize(
    "doc, words",
    [
        ([], "not an object"),
        ({"format": "influxhtm-model-metadata", "version": 2, "records_seen": "7"}, "records_seen"),
        ({"format": "influxhtm-model-metadata", "version": 2, "warming_up": 1}, "warming_up"),
        ({"format": "influxhtm-model-metadata", "version": 2, "records_seen": True}, "records_seen"),
        ({"format": "influxhtm-model-metadata", "version": 2, "origin": None}, "origin"),
        ({"format": "influxhtm-model-metadata", "version": 1}, "version"),
    ],
)
def test_ill_typed_metadata_is_refused(doc, words):
    with pytest.raises(MetadataError, match=words):
        ModelMetadata.from_json(doc)


def test_store_reports_bad_metadata_as_a_store_error(tmp_path):
    store = ModelStore(tmp_path)
    store.write_metadata("m", ModelMetadata())
    Path(tmp_path / "models" / "m" / "metadata.json").write_text('{"records_seen": "x"}')
    with pytest.raises(StoreError, match="records_seen"):
        store.metadata("m")


def test_store_accepts_an_old_style_dict(tmp_path):
    store = ModelStore(tmp_path)
    store.save_checkpoint("m", b"blob", OLD_UDF)
    assert store.metadata("m").task == "cpu_alert" and store.metadata("m").udf_options["min"] == 0.0


def test_engine_state_version_is_recorded(tmp_path):
    store = ModelStore(tmp_path)
    store.save_checkpoint("m", b"IHTM\x02\x00" + bytes(30), ModelMetadata())
    assert store.metadata("m").state_format == {"checkpoint": 1, "journal": 1, "engine": 2}
