"""`influxhtm models list|show|delete|export|import` on every model, whoever made it, and quarantined ones."""

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from influxhtm.sensor_model import HtmSensorModel
from influxhtm.store import ModelStore
from influxhtm.store.archive import ArchiveError, export_model, import_model, read_archive
from influxhtm.store.cli import main as models
from tests.store.test_state_fixtures import FakeClient, FakeSensor, as_lists, expected_of, install, udf_continuation

UDF, LIBRARY = "udf-meta1", "library-meta1"


@pytest.fixture
def state(tmp_path):
    """A state dir with an old-format UDF model, an old-format library model and a quarantined model."""
    root = tmp_path / "state"
    store, _ = install(UDF, root)
    install(LIBRARY, root)
    store, other = install("udf-meta2", tmp_path / "other")
    entry = store.quarantine(other["model_id"], "cannot be loaded: checksum mismatch")
    os.makedirs(root / "quarantine")
    os.rename(entry.path, root / "quarantine" / entry.name)
    return str(root)


def run(capsys, *argv):
    code = models(["models", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_shows_udf_library_and_quarantined_models(state, capsys):
    code, out, _ = run(capsys, "--state-dir", state, "list", "--json")
    assert code == 0
    rows = {r["status"] + ":" + (r.get("origin") or ""): r for r in json.loads(out)}
    assert set(rows) == {"ok:udf", "ok:library", "quarantined:udf"}
    udf, library, quarantined = rows["ok:udf"], rows["ok:library"], rows["quarantined:udf"]
    assert (udf["task"], udf["group"], udf["field"], udf["records_seen"]) == ("fixture_task", "host=a", "usage", 24)
    assert (library["measurement"], library["tags"], library["field"]) == ("cpu", {"component": "fixture"}, "value")
    assert quarantined["reason"] == "cannot be loaded: checksum mismatch"
    assert quarantined["model_id"] == expected_of("udf-meta2")["model_id"]
    assert quarantined["id"] != quarantined["model_id"]
    code, table, _ = run(capsys, "--state-dir", state, "list")
    assert code == 0
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["STATUS", "ORIGIN", "SOURCE"] and len(lines) == 4
    assert any(line.startswith("ok") and "library" in line and "component=fixture" in line for line in lines)
    assert any(line.startswith("ok") and "fixture_task/htm2" in line and "host=a" in line for line in lines)
    assert lines[-1].startswith("quarantined") and lines[-1].endswith("(cannot be loaded: checksum mismatch)")


def test_show_a_library_model_and_a_quarantined_one(state, capsys):
    code, out, _ = run(capsys, "--state-dir", state, "show", expected_of(LIBRARY)["model_id"])
    shown = json.loads(out)
    assert code == 0 and shown["origin"] == "library" and shown["detector_options"]["probation"] == 20
    assert shown["checkpoint_bytes"] > 0 and shown["journal_entries"] == 0 and shown["version"] == 2
    (entry,) = ModelStore(state).quarantined()
    code, out, _ = run(capsys, "--state-dir", state, "show", entry.name)
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "quarantined" and shown["reason"].endswith("checksum mismatch")
    assert shown["journal_entries"] == 8 and shown["task"] == "fixture_task"
    assert run(capsys, "--state-dir", state, "show", "nothing")[0] == 1


def test_delete_a_quarantined_entry(state, capsys):
    (entry,) = ModelStore(state).quarantined()
    assert run(capsys, "--state-dir", state, "delete", entry.name)[0] == 0
    assert ModelStore(state).quarantined() == []
    code, _, err = run(capsys, "--state-dir", state, "delete", entry.name)
    assert code == 1 and "no quarantined model" in err


def test_export_then_import_elsewhere_continues_exactly(state, tmp_path, capsys):
    expected = expected_of(UDF)
    archive = str(tmp_path / "model.tar.gz")
    assert run(capsys, "--state-dir", state, "export", expected["model_id"], "-o", archive)[0] == 0
    with tarfile.open(archive) as tar:  # plain tar + gzip, manifest first
        names = tar.getnames()
    assert names[0] == "manifest.json" and "files/checkpoint.bin" in names and "files/journal-1.bin" in names
    target = str(tmp_path / "elsewhere")
    code, out, _ = run(capsys, "--state-dir", target, "import", archive)
    assert code == 0 and expected["model_id"] in out
    src = os.path.join(state, "models", expected["model_id"])
    dst = os.path.join(target, "models", expected["model_id"])
    assert sorted(os.listdir(dst)) == sorted(os.listdir(src))
    for name in os.listdir(src):
        assert Path(os.path.join(dst, name)).read_bytes() == Path(os.path.join(src, name)).read_bytes()
    _, got = udf_continuation(ModelStore(target), expected)
    assert as_lists(got) == expected["continuation_scores"]


def test_import_refuses_to_overwrite_unless_forced_and_then_quarantines(state, tmp_path, capsys):
    model_id = expected_of(LIBRARY)["model_id"]
    archive = str(tmp_path / "library.tar.gz")
    export_model(ModelStore(state), model_id, archive)
    code, _, err = run(capsys, "--state-dir", state, "import", archive)
    assert code == 1 and "already exists" in err and "--force" in err
    code, out, _ = run(capsys, "--state-dir", state, "import", archive, "--force")
    assert code == 0 and "quarantined the existing" in out
    replaced = [q for q in ModelStore(state).quarantined() if q.cause == "replaced"]
    assert [q.model_id for q in replaced] == [model_id]
    model = HtmSensorModel(FakeSensor(FakeClient(ModelStore(state))))
    assert model.records_seen == 24 and model.detector.records_seen == 24


def repack(archive, out, change):
    manifest, files = read_archive(archive)
    change(manifest, files)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode())] + [
            ("files/" + n, d) for n, d in files.items()
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    Path(out).write_bytes(buffer.getvalue())


def flip_checkpoint(manifest, files):
    data = bytearray(files["checkpoint.bin"])
    data[-100] ^= 1
    files["checkpoint.bin"] = bytes(data)


@pytest.mark.parametrize(
    "damage, words",
    [
        ("tampered", "sha256"),
        ("newer", "version 2"),
        ("extra", "not in the manifest"),
        ("not_a_tar", "not an influxhtm model archive"),
        ("truncated", "damaged"),
    ],
)
def test_damaged_or_foreign_archives_are_refused(state, tmp_path, damage, words):
    archive = str(tmp_path / "model.tar.gz")
    export_model(ModelStore(state), expected_of(UDF)["model_id"], archive)
    bad = str(tmp_path / "bad.tar.gz")
    if damage == "tampered":
        repack(archive, bad, flip_checkpoint)
    elif damage == "newer":
        repack(archive, bad, lambda m, f: m.update(version=2))
    elif damage == "extra":
        repack(archive, bad, lambda m, f: f.update({"journal-9.bin": b"x"}))
    elif damage == "not_a_tar":
        Path(bad).write_bytes(b"PK\x03\x04 a zip, not ours")
    else:
        Path(bad).write_bytes(Path(archive).read_bytes()[:-2000])
    target = ModelStore(tmp_path / "target")
    with pytest.raises(ArchiveError, match=words):
        import_model(target, bad)
    assert target.model_ids() == [] and os.listdir(target.models_dir) == []  # nothing half-imported


def test_export_of_a_missing_model_fails_cleanly(state, tmp_path, capsys):
    code, _, err = run(capsys, "--state-dir", state, "export", "no-such-model", "-o", str(tmp_path / "x.tgz"))
    assert code == 1 and "no model" in err and not os.path.exists(tmp_path / "x.tgz")
