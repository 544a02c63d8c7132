"""Model store: per-model checkpoints, an append-only input journal and metadata in a state directory.

Layout under the root directory::

    <root>/models/<model_id>/checkpoint.bin     versioned, checksummed container around the model blob
    <root>/models/<model_id>/metadata.json      JSON metadata (task, node, group, field, options, ...)
    <root>/models/<model_id>/journal-<G>.bin    inputs accepted after checkpoint generation G (fixed-size records)

Checkpoints and the metadata are replaced atomically (temp file in the same directory, fsync, rename,
fsync of the directory). A checkpoint is taken in two steps so that a model can be saved on another
thread while it goes on learning: `begin_checkpoint` starts journal generation G+1 (the model's state
at that moment is what checkpoint G+1 must hold), `commit_checkpoint` writes checkpoint G+1 and then
deletes the journals before G+1. Recovery is checkpoint generation C followed by journals C, C+1, ...
in order, so a crash at any moment, or a checkpoint that never lands, loses nothing. Each journal
record carries its own CRC32: a record torn by a kill -9 ends the replay (with anything after it).
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import resource
import shutil
import struct
import threading
import zlib
from typing import NamedTuple

from influxhtm.fileio import fsync_dir, write_atomically

__all__ = [
    "ModelStore",
    "StoredModel",
    "JournalEntry",
    "StoreError",
    "ModelNotFoundError",
    "CorruptCheckpointError",
    "model_id_for",
]

CHECKPOINT_MAGIC = b"IHTMCKPT"
CHECKPOINT_VERSION = 1
# magic, version, generation, payload length, sha256 of the payload
_CKPT_HEADER = struct.Struct("<8sIQQ32s")

JOURNAL_MAGIC = b"IHTMJRNL"
JOURNAL_VERSION = 1
# magic, version, generation, crc32 of the preceding bytes
_JRNL_HEADER = struct.Struct("<8sIQI")
# time_ns, value, crc32 of the preceding 16 bytes
_JRNL_RECORD = struct.Struct("<qdI")
_JRNL_BODY = struct.Struct("<qd")

_CHECKPOINT = "checkpoint.bin"
_METADATA = "metadata.json"
_JOURNAL_NAME = re.compile(r"journal-(\d+)\.bin")


def _journal_name(generation: int) -> str:
    return f"journal-{generation}.bin"


class StoreError(Exception):
    """A model's files are missing, unreadable or corrupt."""


class ModelNotFoundError(StoreError, KeyError):
    """No model with that id exists in the store."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class CorruptCheckpointError(StoreError):
    """A checkpoint file fails its magic, version, length or checksum test."""


class JournalEntry(NamedTuple):
    """One accepted input: its time (ns since the epoch) and value."""

    time_ns: int
    value: float


class StoredModel(NamedTuple):
    """What `ModelStore.load` returns: the last checkpoint (None before the first) and the inputs since."""

    blob: bytes | None
    metadata: dict
    journal: list[JournalEntry]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_state_dir() -> str:
    """The state dir shared by the UDF and the library: $INFLUXHTM_STATE_DIR, else
    $XDG_STATE_HOME/influxhtm, else ~/.local/state/influxhtm."""
    if os.environ.get("INFLUXHTM_STATE_DIR"):
        return os.environ["INFLUXHTM_STATE_DIR"]
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "influxhtm")


def model_id_for(*parts: str) -> str:
    """A stable, filesystem-safe id for a tuple of strings such as (task, node, group).

    The id is a readable slug of the parts followed by a hash of their exact values, so different
    tuples never share an id even when their slugs agree.
    """
    if not parts:
        raise ValueError("model_id_for needs at least one part")
    raw = "\x00".join(str(p) for p in parts)
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
    slug = "_".join(_UNSAFE.sub("_", str(p)).strip("_.") or "-" for p in parts)[:80]
    return f"{slug}-{digest}"


def _journal_header(generation: int) -> bytes:
    head = struct.pack("<8sIQ", JOURNAL_MAGIC, JOURNAL_VERSION, generation)
    return head + struct.pack("<I", zlib.crc32(head))


def _encode_record(entry: JournalEntry) -> bytes:
    body = _JRNL_BODY.pack(int(entry.time_ns), float(entry.value))
    return body + struct.pack("<I", zlib.crc32(body))


def _read_journal(path: str) -> tuple[int | None, list[JournalEntry], int, bool]:
    """(generation or None if missing/unreadable, valid entries, byte length of the valid prefix,
    whether the whole file is valid)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, [], 0, False
    if len(data) < _JRNL_HEADER.size:
        return None, [], 0, False
    magic, version, generation, crc = _JRNL_HEADER.unpack_from(data, 0)
    if magic != JOURNAL_MAGIC or version != JOURNAL_VERSION or crc != zlib.crc32(data[: _JRNL_HEADER.size - 4]):
        return None, [], 0, False
    entries = []
    offset = _JRNL_HEADER.size
    while offset + _JRNL_RECORD.size <= len(data):
        time_ns, value, crc = _JRNL_RECORD.unpack_from(data, offset)
        if crc != zlib.crc32(data[offset : offset + _JRNL_BODY.size]):
            break
        entries.append(JournalEntry(time_ns, value))
        offset += _JRNL_RECORD.size
    return generation, entries, offset, offset == len(data)


class _JournalChain(NamedTuple):
    """The journals that follow a checkpoint: their entries in order and where appending goes on."""

    entries: list[JournalEntry]
    last_generation: int | None  # None: no usable journal follows the checkpoint
    last_valid_length: int
    unused: list[str]  # journal files outside the chain (older than the checkpoint, or after a break)


def _journal_chain(directory: str, checkpoint_generation: int) -> _JournalChain:
    """Journals checkpoint_generation, +1, +2, ... while each is intact and the next exists."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        names = []
    files = {}
    for name in names:
        match = _JOURNAL_NAME.fullmatch(name)
        if match:
            files[int(match.group(1))] = os.path.join(directory, name)
    entries: list[JournalEntry] = []
    last, last_length = None, 0
    generation = checkpoint_generation
    while generation in files:
        found, records, length, intact = _read_journal(files[generation])
        if found != generation:
            break
        entries.extend(records)
        last, last_length = generation, length
        if not intact:
            break
        generation += 1
    unused = [path for g, path in files.items() if last is None or not checkpoint_generation <= g <= last]
    return _JournalChain(entries, last, last_length, unused)


class ModelStore:
    """Checkpoints, journals and metadata of many models under one root directory.

    `journal_fsync=False` (default) hands every journal record and metadata update to the OS at once,
    which survives a kill -9 of the process; `journal_fsync=True` also fsyncs them, which survives power
    loss. Checkpoints are always fsynced. At most `max_open_journals` journal files stay open (default:
    half the process's open-file limit, at most 4096).
    Safe to use from several threads; one process should own a root at a time.
    """

    def __init__(self, root: str | os.PathLike, *, journal_fsync: bool = False, max_open_journals: int | None = None):
        self.root = os.fspath(root)
        self.journal_fsync = journal_fsync
        self._models_dir = os.path.join(self.root, "models")
        os.makedirs(self._models_dir, exist_ok=True)
        self._lock = threading.RLock()
        self._journals: collections.OrderedDict[str, object] = collections.OrderedDict()
        if max_open_journals is None:
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            max_open_journals = 4096 if soft == resource.RLIM_INFINITY else min(4096, soft // 2)
        self._max_open = max(1, max_open_journals)
        self._committed: dict[str, int] = {}  # checkpoint generation on disk, per model
        self._current: dict[str, int] = {}  # generation of the journal appended to (chain checked)
        self._commit_locks: dict[str, threading.Lock] = {}  # one checkpoint commit (or load) at a time

    # ---- paths -------------------------------------------------------------------------------
    def _dir(self, model_id: str) -> str:
        if not model_id or "/" in model_id or model_id in (".", "..") or "\x00" in model_id:
            raise ValueError(f"invalid model id {model_id!r}")
        return os.path.join(self._models_dir, model_id)

    def _path(self, model_id: str, name: str) -> str:
        return os.path.join(self._dir(model_id), name)

    # ---- queries -----------------------------------------------------------------------------
    def model_ids(self) -> list[str]:
        """Ids of every model that has metadata or a checkpoint, sorted."""
        try:
            names = os.listdir(self._models_dir)
        except FileNotFoundError:
            return []
        ids = []
        for name in names:
            d = os.path.join(self._models_dir, name)
            if os.path.isfile(os.path.join(d, _METADATA)) or os.path.isfile(os.path.join(d, _CHECKPOINT)):
                ids.append(name)
        return sorted(ids)

    def exists(self, model_id: str) -> bool:
        d = self._dir(model_id)
        return os.path.isfile(os.path.join(d, _METADATA)) or os.path.isfile(os.path.join(d, _CHECKPOINT))

    def metadata(self, model_id: str) -> dict:
        """The model's metadata dict; raises ModelNotFoundError / StoreError."""
        path = self._path(model_id, _METADATA)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            if self.exists(model_id):
                return {}
            raise ModelNotFoundError(f"no model {model_id!r} in {self.root}") from None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise StoreError(f"metadata of model {model_id!r} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise StoreError(f"metadata of model {model_id!r} is not a JSON object")
        return value

    # ---- checkpoint --------------------------------------------------------------------------
    def _read_checkpoint(self, model_id: str) -> tuple[bytes | None, int]:
        """(blob, generation); (None, 0) when there is no checkpoint yet."""
        path = self._path(model_id, _CHECKPOINT)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None, 0
        if len(data) < _CKPT_HEADER.size:
            raise CorruptCheckpointError(f"checkpoint of model {model_id!r} is truncated ({len(data)} bytes)")
        magic, version, generation, length, digest = _CKPT_HEADER.unpack_from(data, 0)
        if magic != CHECKPOINT_MAGIC:
            raise CorruptCheckpointError(f"checkpoint of model {model_id!r} has a bad magic number")
        if version != CHECKPOINT_VERSION:
            raise CorruptCheckpointError(
                f"checkpoint of model {model_id!r} has format version {version}, expected {CHECKPOINT_VERSION}"
            )
        payload = data[_CKPT_HEADER.size :]
        if len(payload) != length:
            raise CorruptCheckpointError(
                f"checkpoint of model {model_id!r} holds {len(payload)} bytes, header says {length}"
            )
        if hashlib.sha256(payload).digest() != digest:
            raise CorruptCheckpointError(f"checkpoint of model {model_id!r} fails its sha256 checksum")
        return payload, generation

    def _checkpoint_generation(self, model_id: str) -> int:
        generation = self._committed.get(model_id)
        if generation is None:
            try:
                with open(self._path(model_id, _CHECKPOINT), "rb") as f:
                    head = f.read(_CKPT_HEADER.size)
            except FileNotFoundError:
                head = b""
            generation = _CKPT_HEADER.unpack(head)[2] if len(head) == _CKPT_HEADER.size else 0
            self._committed[model_id] = generation
        return generation

    def save_checkpoint(self, model_id: str, blob: bytes, metadata: dict) -> None:
        """Atomically replace the model's checkpoint and metadata; the journal restarts empty.

        The caller must have applied every journaled input to the model the blob comes from.
        """
        self.commit_checkpoint(model_id, self.begin_checkpoint(model_id), blob, metadata)

    def begin_checkpoint(self, model_id: str) -> int:
        """Start the next journal generation and return it: the model's state now (every input
        journaled so far applied, none after) is what `commit_checkpoint` of that generation must get."""
        with self._lock:
            generation = self._current_generation(model_id) + 1
            self._close_journal(model_id)
            path = self._path(model_id, _journal_name(generation))
            write_atomically(path, _journal_header(generation), durable=self.journal_fsync)
            self._current[model_id] = generation
            return generation

    def commit_checkpoint(self, model_id: str, generation: int, blob: bytes, metadata: dict) -> bool:
        """Write checkpoint `generation` (from `begin_checkpoint`) and the metadata, then drop the journals
        it makes redundant. Safe on any thread; appends go on meanwhile. False (nothing written) if a
        newer checkpoint is already on disk."""
        blob = bytes(blob)
        header = _CKPT_HEADER.pack(
            CHECKPOINT_MAGIC, CHECKPOINT_VERSION, generation, len(blob), hashlib.sha256(blob).digest()
        )
        meta_bytes = _dump_json(metadata)
        with self._commit_lock(model_id):
            with self._lock:
                if generation <= self._checkpoint_generation(model_id):
                    return False
            d = self._dir(model_id)
            write_atomically(os.path.join(d, _CHECKPOINT), header + blob)
            write_atomically(os.path.join(d, _METADATA), meta_bytes)
            with self._lock:
                self._committed[model_id] = generation
            for name in os.listdir(d):
                match = _JOURNAL_NAME.fullmatch(name)
                if match and int(match.group(1)) < generation:
                    os.unlink(os.path.join(d, name))
            return True

    def _commit_lock(self, model_id: str) -> threading.Lock:
        with self._lock:
            return self._commit_locks.setdefault(model_id, threading.Lock())

    def load(self, model_id: str) -> StoredModel:
        """Checkpoint blob, metadata and the valid journal entries that follow the checkpoint."""
        with self._commit_lock(model_id), self._lock:
            if not self.exists(model_id):
                raise ModelNotFoundError(f"no model {model_id!r} in {self.root}")
            self._close_journal(model_id)
            self._current.pop(model_id, None)
            blob, generation = self._read_checkpoint(model_id)
            self._committed[model_id] = generation
            metadata = self.metadata(model_id)
            chain = _journal_chain(self._dir(model_id), generation)
            return StoredModel(blob, metadata, chain.entries)

    # ---- journal -----------------------------------------------------------------------------
    def _close_journal(self, model_id: str) -> None:
        f = self._journals.pop(model_id, None)
        if f is not None:
            f.close()

    def _current_generation(self, model_id: str) -> int:
        """The generation appends go to; on first use, the journal chain on disk is checked and tidied:
        a torn tail is cut and journals outside the chain are removed, so new records extend what
        `load` replays."""
        generation = self._current.get(model_id)
        if generation is not None:
            return generation
        d = self._dir(model_id)
        os.makedirs(d, exist_ok=True)
        checkpoint = self._checkpoint_generation(model_id)
        chain = _journal_chain(d, checkpoint)
        for path in chain.unused:
            os.unlink(path)
        if chain.last_generation is None:
            generation = checkpoint
            write_atomically(os.path.join(d, _journal_name(generation)), _journal_header(generation),
                             durable=self.journal_fsync)
        else:
            generation = chain.last_generation
            with open(os.path.join(d, _journal_name(generation)), "r+b") as f:
                f.truncate(chain.last_valid_length)  # drop a torn tail so new records stay aligned
        self._current[model_id] = generation
        return generation

    def _open_journal(self, model_id: str):
        f = self._journals.get(model_id)
        if f is not None:
            self._journals.move_to_end(model_id)
            return f
        generation = self._current_generation(model_id)
        f = open(self._path(model_id, _journal_name(generation)), "ab", buffering=0)  # one write() per record
        self._journals[model_id] = f
        while len(self._journals) > self._max_open:
            _, old = self._journals.popitem(last=False)
            old.close()
        return f

    def append_journal(self, model_id: str, *entries: JournalEntry) -> None:
        """Append accepted inputs (in one write); they reach the OS (and the disk when journal_fsync)
        before return."""
        record = b"".join(_encode_record(entry) for entry in entries)
        with self._lock:
            f = self._open_journal(model_id)
            if f.write(record) != len(record):
                raise OSError(f"short write to the journal of model {model_id!r} (disk full?)")
            if self.journal_fsync:
                os.fsync(f.fileno())

    # ---- metadata and deletion ---------------------------------------------------------------
    def update_metadata(self, model_id: str, **fields) -> None:
        """Merge fields into the model's metadata (atomically); creates the model's entry if new."""
        with self._lock:
            d = self._dir(model_id)
            os.makedirs(d, exist_ok=True)
            try:
                current = self.metadata(model_id)
            except ModelNotFoundError:
                current = {}
            current.update(fields)
            write_atomically(os.path.join(d, _METADATA), _dump_json(current), durable=self.journal_fsync)

    def delete(self, model_id: str) -> None:
        """Remove the model's files; raises ModelNotFoundError if it does not exist."""
        with self._commit_lock(model_id), self._lock:
            d = self._dir(model_id)
            self._close_journal(model_id)
            self._committed.pop(model_id, None)
            self._current.pop(model_id, None)
            if not os.path.isdir(d):
                raise ModelNotFoundError(f"no model {model_id!r} in {self.root}")
            shutil.rmtree(d)
            fsync_dir(self._models_dir)

    def close(self) -> None:
        """Close open journal files (appending again reopens them)."""
        with self._lock:
            while self._journals:
                _, f = self._journals.popitem()
                f.close()


def _dump_json(value: dict) -> bytes:
    if not isinstance(value, dict):
        raise TypeError("metadata must be a dict")
    return json.dumps(value, sort_keys=True, indent=1).encode("utf-8")
