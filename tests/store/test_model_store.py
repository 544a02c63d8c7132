"""Behaviour of influxhtm.store.ModelStore: atomic checkpoints, crash-safe journal, corruption detection."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from influxhtm.store import (
    CorruptCheckpointError,
    JournalEntry,
    ModelNotFoundError,
    ModelStore,
    StoreError,
    model_id_for,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def model_dir(store, mid):
    return os.path.join(store.root, "models", mid)


def test_model_id_is_stable_safe_and_distinct():
    a = model_id_for("task", "htm2", "host=a,region=eu")
    assert a == model_id_for("task", "htm2", "host=a,region=eu")
    assert "/" not in a and "\n" not in a and "," not in a and "=" not in a
    # slugs collide ("a/b" and "a_b" both become "a_b") but the ids do not
    assert model_id_for("t", "n", "a/b") != model_id_for("t", "n", "a_b")
    assert model_id_for("t", "n", "") != model_id_for("t", "n", "x")
    assert model_id_for("t", "n", "cpu\nhost=a") != model_id_for("t", "n", "cpu host=a")
    with pytest.raises(ValueError):
        model_id_for()


def test_roundtrip_checkpoint_metadata_and_journal(tmp_path):
    store = ModelStore(tmp_path / "state")
    mid = model_id_for("t", "n", "g")
    assert not store.exists(mid)
    assert store.model_ids() == []
    store.save_checkpoint(mid, b"\x00blob\xff", {"task": "t", "records_seen": 3})
    store.append_journal(mid, JournalEntry(10, 1.5))
    store.append_journal(mid, JournalEntry(20, -2.25))
    loaded = ModelStore(tmp_path / "state").load(mid)
    assert loaded.blob == b"\x00blob\xff"
    assert loaded.metadata == {"task": "t", "records_seen": 3}
    assert loaded.journal == [JournalEntry(10, 1.5), JournalEntry(20, -2.25)]
    assert store.model_ids() == [mid]


def test_checkpoint_truncates_journal(tmp_path):
    store = ModelStore(tmp_path)
    mid = "m"
    for i in range(5):
        store.append_journal(mid, JournalEntry(i, float(i)))
    store.update_metadata(mid, field="value")
    assert len(store.load(mid).journal) == 5
    store.save_checkpoint(mid, b"state5", {"records_seen": 5})
    assert store.load(mid).journal == []
    store.append_journal(mid, JournalEntry(6, 6.0))
    assert ModelStore(tmp_path).load(mid).journal == [JournalEntry(6, 6.0)]


def test_warmup_journal_without_checkpoint(tmp_path):
    store = ModelStore(tmp_path)
    store.update_metadata("m", task="t")
    store.append_journal("m", JournalEntry(1, 2.0))
    loaded = ModelStore(tmp_path).load("m")
    assert loaded.blob is None
    assert loaded.journal == [JournalEntry(1, 2.0)]


def test_torn_journal_tail_is_ignored_and_later_appends_stay_readable(tmp_path):
    store = ModelStore(tmp_path)
    store.save_checkpoint("m", b"x", {})
    for i in range(3):
        store.append_journal("m", JournalEntry(i, float(i)))
    store.close()
    path = os.path.join(model_dir(store, "m"), "journal.bin")
    with open(path, "ab") as f:
        f.write(b"\x01\x02\x03\x04\x05\x06\x07")  # a record torn after 7 of 20 bytes
    fresh = ModelStore(tmp_path)
    assert fresh.load("m").journal == [JournalEntry(i, float(i)) for i in range(3)]
    fresh.append_journal("m", JournalEntry(3, 3.0))
    assert ModelStore(tmp_path).load("m").journal == [JournalEntry(i, float(i)) for i in range(4)]


def test_corrupt_journal_record_stops_replay(tmp_path):
    store = ModelStore(tmp_path)
    for i in range(4):
        store.append_journal("m", JournalEntry(i, float(i)))
    store.update_metadata("m")
    store.close()
    path = os.path.join(model_dir(store, "m"), "journal.bin")
    data = bytearray(open(path, "rb").read())
    data[-30] ^= 0xFF  # inside the third record
    open(path, "wb").write(bytes(data))
    assert ModelStore(tmp_path).load("m").journal == [JournalEntry(0, 0.0), JournalEntry(1, 1.0)]


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "empty"])
def test_corrupt_checkpoint_raises_store_error(tmp_path, damage):
    store = ModelStore(tmp_path)
    store.save_checkpoint("m", b"model-state" * 100, {"a": 1})
    path = os.path.join(model_dir(store, "m"), "checkpoint.bin")
    data = bytearray(open(path, "rb").read())
    if damage == "flip":
        data[-1] ^= 0x01
    elif damage == "truncate":
        data = data[:-10]
    elif damage == "magic":
        data[0:8] = b"NOTMAGIC"
    else:
        data = bytearray()
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptCheckpointError) as info:
        ModelStore(tmp_path).load("m")
    assert isinstance(info.value, StoreError)
    assert "'m'" in str(info.value)


def test_stale_journal_after_crash_between_checkpoint_and_journal_reset(tmp_path):
    """The journal of the previous generation must not be replayed on top of the newer checkpoint."""
    store = ModelStore(tmp_path)
    store.save_checkpoint("m", b"gen1", {})
    for i in range(3):
        store.append_journal("m", JournalEntry(i, float(i)))
    store.close()
    path = os.path.join(model_dir(store, "m"), "journal.bin")
    old_journal = open(path, "rb").read()
    store.save_checkpoint("m", b"gen2", {})  # includes those 3 inputs
    open(path, "wb").write(old_journal)  # as if the crash came before the journal reset
    loaded = ModelStore(tmp_path).load("m")
    assert loaded.blob == b"gen2"
    assert loaded.journal == []


def test_crash_between_temp_write_and_rename_keeps_old_checkpoint(tmp_path):
    """A process killed (SIGKILL) after writing the temp file but before the rename leaves the old state."""
    root = tmp_path / "state"
    store = ModelStore(root)
    store.save_checkpoint("m", b"old-state", {"v": "old"})
    script = textwrap.dedent(
        f"""
        import os, signal
        from influxhtm import store as s
        real_replace = os.replace
        def die(src, dst):
            if dst.endswith("checkpoint.bin"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)
        s.os.replace = die
        s.ModelStore({str(root)!r}).save_checkpoint("m", b"new-state" * 1000, {{"v": "new"}})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == -signal.SIGKILL
    loaded = ModelStore(root).load("m")
    assert loaded.blob == b"old-state"
    assert loaded.metadata == {"v": "old"}
    # the orphaned temp file does not show up as a model and does not block the next checkpoint
    assert ModelStore(root).model_ids() == ["m"]
    ModelStore(root).save_checkpoint("m", b"newer", {"v": "newer"})
    assert ModelStore(root).load("m").blob == b"newer"


def test_kill9_during_appends_loses_no_acknowledged_record(tmp_path):
    root = tmp_path / "state"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from influxhtm.store import ModelStore, JournalEntry
        st = ModelStore({str(root)!r})
        st.update_metadata("m")
        for i in range(500):
            st.append_journal("m", JournalEntry(i, i * 0.5))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == -signal.SIGKILL
    assert ModelStore(root).load("m").journal == [JournalEntry(i, i * 0.5) for i in range(500)]


def test_metadata_update_delete_and_missing(tmp_path):
    store = ModelStore(tmp_path)
    store.update_metadata("m", task="t", records_seen=1)
    store.update_metadata("m", records_seen=2)
    assert store.metadata("m") == {"task": "t", "records_seen": 2}
    assert json.load(open(os.path.join(model_dir(store, "m"), "metadata.json")))["records_seen"] == 2
    store.delete("m")
    assert not store.exists("m")
    with pytest.raises(ModelNotFoundError):
        store.load("m")
    with pytest.raises(ModelNotFoundError):
        store.metadata("m")
    with pytest.raises(ModelNotFoundError):
        store.delete("m")


def test_invalid_metadata_json_is_a_store_error(tmp_path):
    store = ModelStore(tmp_path)
    store.update_metadata("m", a=1)
    open(os.path.join(model_dir(store, "m"), "metadata.json"), "w").write("{broken")
    with pytest.raises(StoreError):
        store.metadata("m")


def test_rejects_path_like_ids(tmp_path):
    store = ModelStore(tmp_path)
    for bad in ("", "..", "a/b"):
        with pytest.raises(ValueError):
            store.exists(bad)


def test_many_models_beyond_open_file_cache(tmp_path):
    store = ModelStore(tmp_path, max_open_journals=4)
    for round_ in range(3):
        for m in range(10):
            store.append_journal(f"m{m}", JournalEntry(round_, float(m)))
    for m in range(10):
        store.update_metadata(f"m{m}")
    fresh = ModelStore(tmp_path)
    for m in range(10):
        assert fresh.load(f"m{m}").journal == [JournalEntry(r, float(m)) for r in range(3)]


def test_journal_fsync_policy(tmp_path):
    store = ModelStore(tmp_path, journal_fsync=True)
    store.append_journal("m", JournalEntry(1, 1.0))
    store.update_metadata("m")
    assert ModelStore(tmp_path).load("m").journal == [JournalEntry(1, 1.0)]
