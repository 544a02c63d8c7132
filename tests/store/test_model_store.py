"""Behaviour of influxhtm.store.ModelStore: atomic checkpoints, crash-safe journal, corruption detection."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from influxhtm.store import (
    CorruptCheckpointError,
    FencedError,
    JournalEntry,
    ModelMetadata,
    ModelNotFoundError,
    ModelStore,
    StoreError,
    model_id_for,
)


def model_dir(store, mid):
    return os.path.join(store.root, "models", mid)


def journal_files(store, mid):
    return sorted(name for name in os.listdir(model_dir(store, mid)) if name.startswith("journal-"))


def only_journal(store, mid):
    """The path of the model's one journal file."""
    names = journal_files(store, mid)
    assert len(names) == 1, names
    return os.path.join(model_dir(store, mid), names[0])


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
    store.save_checkpoint(mid, b"\x00blob\xff", ModelMetadata(task="t", records_seen=3))
    store.append_journal(mid, JournalEntry(10, 1.5))
    store.append_journal(mid, JournalEntry(20, -2.25))
    loaded = ModelStore(tmp_path / "state").load(mid)
    assert loaded.blob == b"\x00blob\xff"
    assert (loaded.metadata.task, loaded.metadata.records_seen) == ("t", 3)
    assert loaded.metadata.state_format == {"checkpoint": 1, "journal": 1}  # not an engine blob: no "engine"
    assert loaded.journal == [JournalEntry(10, 1.5), JournalEntry(20, -2.25)]
    assert store.model_ids() == [mid]


def test_a_store_whose_model_another_store_loaded_may_not_write_it_any_more(tmp_path):
    old, new = ModelStore(tmp_path, owner="old"), ModelStore(tmp_path, owner="new")
    old.save_checkpoint("m", b"state-1", ModelMetadata(records_seen=1))
    old.append_journal("m", JournalEntry(10, 1.0))
    generation = old.begin_checkpoint("m")  # a background checkpoint under way when it is cut off
    assert new.load("m").journal == [JournalEntry(10, 1.0)]
    new.append_journal("m", JournalEntry(20, 2.0))
    for late_write in (
        lambda: old.append_journal("m", JournalEntry(20, 2.0)),
        lambda: old.commit_checkpoint("m", generation, b"state-2", ModelMetadata(records_seen=2)),
        lambda: old.write_metadata("m", ModelMetadata(records_seen=2)),
        lambda: old.save_checkpoint("m", b"state-2", ModelMetadata(records_seen=2)),
    ):
        with pytest.raises(FencedError):
            late_write()
    stored = ModelStore(tmp_path).load("m")
    assert (stored.blob, stored.metadata.records_seen) == (b"state-1", 1)
    assert stored.journal == [JournalEntry(10, 1.0), JournalEntry(20, 2.0)]  # the successor's, once each
    old.load("m")  # loading it again makes it the writer again
    old.append_journal("m", JournalEntry(30, 3.0))
    with pytest.raises(FencedError):
        new.append_journal("m", JournalEntry(30, 3.0))
    shutil.rmtree(model_dir(old, "m"))  # a storage fault takes the model's directory, owner file and all
    old.save_state("m", b"state-3", ModelMetadata(records_seen=3))  # its writer saves it afresh
    assert ModelStore(tmp_path).load("m").blob == b"state-3"


def test_checkpoint_truncates_journal(tmp_path):
    store = ModelStore(tmp_path)
    mid = "m"
    for i in range(5):
        store.append_journal(mid, JournalEntry(i, float(i)))
    store.update_metadata(mid, source_field="value")
    assert len(store.load(mid).journal) == 5
    store.save_checkpoint(mid, b"state5", ModelMetadata(records_seen=5))
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
    store.save_checkpoint("m", b"x", ModelMetadata())
    for i in range(3):
        store.append_journal("m", JournalEntry(i, float(i)))
    store.close()
    path = only_journal(store, "m")
    with Path(path).open("ab") as f:
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
    path = only_journal(store, "m")
    data = bytearray(Path(path).read_bytes())
    data[-30] ^= 0xFF  # inside the third record
    Path(path).write_bytes(bytes(data))
    assert ModelStore(tmp_path).load("m").journal == [JournalEntry(0, 0.0), JournalEntry(1, 1.0)]


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "empty"])
def test_corrupt_checkpoint_raises_store_error(tmp_path, damage):
    store = ModelStore(tmp_path)
    store.save_checkpoint("m", b"model-state" * 100, ModelMetadata())
    path = os.path.join(model_dir(store, "m"), "checkpoint.bin")
    data = bytearray(Path(path).read_bytes())
    if damage == "flip":
        data[-1] ^= 0x01
    elif damage == "truncate":
        data = data[:-10]
    elif damage == "magic":
        data[0:8] = b"NOTMAGIC"
    else:
        data = bytearray()
    Path(path).write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError) as info:
        ModelStore(tmp_path).load("m")
    assert isinstance(info.value, StoreError)
    assert "'m'" in str(info.value)


def test_checkpoint_begun_but_never_committed_loses_nothing(tmp_path):
    """A crash between begin_checkpoint and commit_checkpoint: the old checkpoint plus both journals."""
    store = ModelStore(tmp_path)
    store.save_checkpoint("m", b"gen1", ModelMetadata())
    store.append_journal("m", JournalEntry(1, 1.0))
    store.begin_checkpoint("m")
    store.append_journal("m", JournalEntry(2, 2.0))
    store.begin_checkpoint("m")  # a second one begun while the first is still pending
    store.append_journal("m", JournalEntry(3, 3.0))
    loaded = ModelStore(tmp_path).load("m")
    assert loaded.blob == b"gen1"
    assert loaded.journal == [JournalEntry(t, float(t)) for t in (1, 2, 3)]


def test_commit_keeps_only_the_inputs_after_its_begin(tmp_path):
    store = ModelStore(tmp_path)
    store.append_journal("m", JournalEntry(1, 1.0))
    generation = store.begin_checkpoint("m")
    store.append_journal("m", JournalEntry(2, 2.0))  # goes on while the checkpoint is written
    assert store.commit_checkpoint("m", generation, b"after-1", ModelMetadata(records_seen=1))
    store.append_journal("m", JournalEntry(3, 3.0))
    loaded = ModelStore(tmp_path).load("m")
    assert loaded.blob == b"after-1" and loaded.metadata.records_seen == 1
    assert loaded.journal == [JournalEntry(2, 2.0), JournalEntry(3, 3.0)]
    assert len(journal_files(store, "m")) == 1  # the journal the checkpoint covers is gone


def test_an_older_commit_never_replaces_a_newer_checkpoint(tmp_path):
    store = ModelStore(tmp_path)
    store.append_journal("m", JournalEntry(1, 1.0))
    older = store.begin_checkpoint("m")
    store.append_journal("m", JournalEntry(2, 2.0))
    newer = store.begin_checkpoint("m")
    assert store.commit_checkpoint("m", newer, b"after-2", ModelMetadata())
    assert not store.commit_checkpoint("m", older, b"after-1", ModelMetadata())
    loaded = ModelStore(tmp_path).load("m")
    assert loaded.blob == b"after-2" and loaded.journal == []


def test_crash_between_commit_and_journal_cleanup_replays_nothing_twice(tmp_path):
    """Journals older than the checkpoint that a crash left behind are not replayed, then removed."""
    store = ModelStore(tmp_path)
    store.append_journal("m", JournalEntry(1, 1.0))
    d = model_dir(store, "m")
    leftover = {name: Path(os.path.join(d, name)).read_bytes() for name in journal_files(store, "m")}
    store.save_checkpoint("m", b"after-1", ModelMetadata())
    store.close()
    for name, data in leftover.items():
        Path(os.path.join(d, name)).write_bytes(data)  # as if the crash came before the cleanup
    fresh = ModelStore(tmp_path)
    assert fresh.load("m").journal == []
    fresh.append_journal("m", JournalEntry(2, 2.0))
    assert ModelStore(tmp_path).load("m").journal == [JournalEntry(2, 2.0)]
    assert len(journal_files(fresh, "m")) == 1


def test_damage_in_an_earlier_journal_ends_the_replay_there(tmp_path):
    """Inputs after a lost one would not reproduce the model: replay stops, and appending continues
    right after the last good record."""
    store = ModelStore(tmp_path)
    store.update_metadata("m")
    for t in (1, 2):
        store.append_journal("m", JournalEntry(t, float(t)))
    store.begin_checkpoint("m")
    store.append_journal("m", JournalEntry(3, 3.0))
    store.close()
    first = os.path.join(model_dir(store, "m"), journal_files(store, "m")[0])
    data = bytearray(Path(first).read_bytes())
    data[-5] ^= 0xFF  # inside the second record
    Path(first).write_bytes(bytes(data))
    fresh = ModelStore(tmp_path)
    assert fresh.load("m").journal == [JournalEntry(1, 1.0)]
    fresh.append_journal("m", JournalEntry(4, 4.0))
    assert ModelStore(tmp_path).load("m").journal == [JournalEntry(1, 1.0), JournalEntry(4, 4.0)]


def test_commit_on_another_thread_while_appending(tmp_path):
    """Checkpoints written by a background thread interleave with appends without losing any input."""
    store = ModelStore(tmp_path)
    state = []  # the "model": every input applied so far
    pending = []
    for t in range(200):
        store.append_journal("m", JournalEntry(t, float(t)))
        state.append(t)
        if t % 20 == 19:
            generation = store.begin_checkpoint("m")
            blob = json.dumps(state).encode()
            worker = threading.Thread(target=store.commit_checkpoint, args=("m", generation, blob, ModelMetadata()))
            worker.start()
            pending.append(worker)
    for worker in pending:
        worker.join()
    loaded = ModelStore(tmp_path).load("m")
    assert json.loads(loaded.blob) + [e.time_ns for e in loaded.journal] == list(range(200))


def test_crash_between_temp_write_and_rename_keeps_old_checkpoint(tmp_path):
    """A process killed (SIGKILL) after writing the temp file but before the rename leaves the old state."""
    root = tmp_path / "state"
    store = ModelStore(root)
    store.save_checkpoint("m", b"old-state", ModelMetadata(task="old"))
    script = textwrap.dedent(
        f"""
        import os, signal
        from influxhtm.store import ModelMetadata, ModelStore
        real_replace = os.replace
        def die(src, dst):
            if dst.endswith("checkpoint.bin"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)
        os.replace = die
        ModelStore({str(root)!r}).save_checkpoint("m", b"new-state" * 1000, ModelMetadata(task="new"))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    loaded = ModelStore(root).load("m")
    assert loaded.blob == b"old-state"
    assert loaded.metadata.task == "old"
    # the orphaned temp file does not show up as a model and does not block the next checkpoint
    assert ModelStore(root).model_ids() == ["m"]
    ModelStore(root).save_checkpoint("m", b"newer", ModelMetadata(task="newer"))
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
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    assert ModelStore(root).load("m").journal == [JournalEntry(i, i * 0.5) for i in range(500)]


def test_metadata_update_delete_and_missing(tmp_path):
    store = ModelStore(tmp_path)
    store.update_metadata("m", task="t", records_seen=1)
    store.update_metadata("m", records_seen=2)
    assert (store.metadata("m").task, store.metadata("m").records_seen) == ("t", 2)
    assert json.loads(Path(model_dir(store, "m"), "metadata.json").read_text())["records_seen"] == 2
    with pytest.raises(TypeError):
        store.update_metadata("m", no_such_field=1)
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
    store.update_metadata("m", task="t")
    Path(os.path.join(model_dir(store, "m"), "metadata.json")).write_text("{broken")
    with pytest.raises(StoreError):
        store.metadata("m")


def test_rejects_path_like_ids(tmp_path):
    store = ModelStore(tmp_path)
    for bad in ("", "..", "a/b", ".import-1"):
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
