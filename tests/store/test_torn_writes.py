"""Torn writes are harmless: a journal or checkpoint cut at any byte is detected on load, the torn tail is
dropped with a warning and everything before it is kept; writing a model's whole state afresh after a
storage fault (`ModelStore.save_state`) gives a consistent model even when its directory was removed."""

import logging
import os
import shutil

import pytest

from influxhtm.store import CorruptCheckpointError, JournalEntry, ModelMetadata, ModelStore, ShortWriteError
from influxhtm.store.model_store import _CKPT_HEADER, _JRNL_HEADER, _JRNL_RECORD, CHECKPOINT_FILE

RECORD = _JRNL_RECORD.size
MID = "m1"


def entries(n, start=0):
    return [JournalEntry(1_700_000_000_000_000_000 + i * 60_000_000_000, float(i) + 0.5) for i in range(start, n)]


def journal_path(store, generation=0):
    return os.path.join(store.model_dir(MID), f"journal-{generation}.bin")


@pytest.mark.parametrize("with_checkpoint", [False, True])
def test_a_journal_cut_at_every_byte_of_its_last_records_keeps_every_whole_record(tmp_path, caplog, with_checkpoint):
    src = ModelStore(tmp_path / "src")
    src.write_metadata(MID, ModelMetadata(records_seen=0))
    generation = 0
    if with_checkpoint:
        src.save_checkpoint(MID, b"IHTM\x02\x00blob", ModelMetadata(records_seen=0))
        generation = 1
    src.append_journal(MID, *entries(5))
    src.close()
    whole = open(journal_path(src, generation), "rb").read()
    assert len(whole) == _JRNL_HEADER.size + 5 * RECORD
    checkpoint = os.path.join(src.model_dir(MID), CHECKPOINT_FILE)
    for cut in range(len(whole) - 3 * RECORD, len(whole) + 1):  # every byte of the last three records
        root = tmp_path / f"cut{cut}"
        os.makedirs(root / "models" / MID)
        shutil.copy(os.path.join(src.model_dir(MID), "metadata.json"), root / "models" / MID)
        if with_checkpoint:
            shutil.copy(checkpoint, root / "models" / MID)
        with open(root / "models" / MID / f"journal-{generation}.bin", "wb") as f:
            f.write(whole[:cut])
        store = ModelStore(root)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="influxhtm.store"):
            loaded = store.load(MID)
        kept = (cut - _JRNL_HEADER.size) // RECORD
        assert loaded.journal == entries(kept), cut
        torn = (cut - _JRNL_HEADER.size) % RECORD
        assert ("dropped them" in caplog.text) == (torn != 0), cut
        # appending goes on right after the last whole record, and it all loads again
        store.append_journal(MID, *entries(kept + 2, kept))
        assert ModelStore(root).load(MID).journal == entries(kept + 2), cut


def test_a_journal_cut_inside_its_header_loads_as_empty_and_is_replaced(tmp_path):
    store = ModelStore(tmp_path)
    store.write_metadata(MID, ModelMetadata())
    store.append_journal(MID, *entries(3))
    store.close()
    whole = open(journal_path(store), "rb").read()
    for cut in range(_JRNL_HEADER.size):
        with open(journal_path(store), "wb") as f:
            f.write(whole[:cut])
        fresh = ModelStore(tmp_path)
        assert fresh.load(MID).journal == []
        fresh.append_journal(MID, *entries(1))
        assert ModelStore(tmp_path).load(MID).journal == entries(1)
        fresh.close()


def test_a_truncated_checkpoint_is_detected_never_trusted(tmp_path):
    """Checkpoints are replaced by temp file + fsync + rename, so a cut checkpoint.bin only comes from
    damage from outside; it fails its length/sha256 test (the model is then quarantined by its user)."""
    store = ModelStore(tmp_path)
    store.save_checkpoint(MID, b"IHTM\x02\x00" + bytes(range(256)) * 4, ModelMetadata())
    path = os.path.join(store.model_dir(MID), CHECKPOINT_FILE)
    whole = open(path, "rb").read()
    for cut in [*range(0, _CKPT_HEADER.size + 2), len(whole) // 2, len(whole) - 1]:
        with open(path, "wb") as f:
            f.write(whole[:cut])
        with pytest.raises(CorruptCheckpointError):
            ModelStore(tmp_path).load(MID)


def test_save_state_after_the_directory_was_removed(tmp_path):
    store = ModelStore(tmp_path)
    store.save_checkpoint(MID, b"IHTM\x02\x00one", ModelMetadata(records_seen=3))
    store.append_journal(MID, *entries(2))
    shutil.rmtree(tmp_path / "models")
    with pytest.raises(FileNotFoundError):  # the open journal notices that its file is gone
        store.append_journal(MID, *entries(3, 2))
    generation = store.save_state(MID, b"IHTM\x02\x00two", ModelMetadata(records_seen=9))
    assert generation == 2  # newer than every generation used before
    store.append_journal(MID, *entries(1))
    loaded = ModelStore(tmp_path).load(MID)
    assert loaded.blob == b"IHTM\x02\x00two" and loaded.journal == entries(1)
    assert loaded.metadata.records_seen == 9


def test_save_state_of_a_warm_up_rewrites_journal_zero(tmp_path):
    store = ModelStore(tmp_path)
    store.write_metadata(MID, ModelMetadata(warming_up=True))
    store.append_journal(MID, *entries(2))
    with open(journal_path(store), "ab") as f:
        f.write(b"torn")
    assert store.save_state(MID, None, ModelMetadata(warming_up=True), entries(5)) == 0
    store.append_journal(MID, *entries(6, 5))
    loaded = ModelStore(tmp_path).load(MID)
    assert loaded.blob is None and loaded.journal == entries(6)


def test_short_write_error_has_no_errno():
    assert isinstance(ShortWriteError("x"), OSError) and ShortWriteError("x").errno is None
