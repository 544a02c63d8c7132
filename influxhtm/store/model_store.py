"""`ModelStore`: per-model checkpoints, an append-only input journal, metadata, and the quarantine.

Layout under the root directory::

    <root>/models/<model_id>/checkpoint.bin     versioned, checksummed container around the engine's blob
    <root>/models/<model_id>/metadata.json      the model's ModelMetadata record (metadata.py)
    <root>/models/<model_id>/journal-<G>.bin    inputs accepted after checkpoint generation G (fixed-size records)
    <root>/quarantine/<model_id>-<UTC time>/    a model that could not be loaded: its files plus reason.json

Checkpoints and the metadata are replaced atomically (temp file in the same directory, fsync, rename,
fsync of the directory). A checkpoint is taken in two steps so that a model can be saved on another
thread while it goes on learning: `begin_checkpoint` starts journal generation G+1 (the model's state
at that moment is what checkpoint G+1 must hold), `commit_checkpoint` writes checkpoint G+1 and then
deletes the journals before G+1. Recovery is checkpoint generation C followed by journals C, C+1, ...
in order, so a crash at any moment, or a checkpoint that never lands, loses nothing. Each journal
record carries its own CRC32: a record torn by a kill -9 ends the replay (with anything after it).

Every container and journal version ever written is read (`_CHECKPOINT_READERS`, `_JOURNAL_VERSIONS`); a
file of a version this code does not know raises `UnsupportedFormatError` instead of being skipped, so a
model written by a newer release is quarantined, never overwritten. A model that cannot be loaded is moved
to the quarantine whole (`quarantine`), never deleted.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import errno
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import struct
import threading
import zlib
from collections.abc import Sequence
from typing import BinaryIO, NamedTuple

from influxhtm.fileio import fsync_dir, write_atomically

from .metadata import MetadataError, ModelMetadata, utc_now

__all__ = [
    "CHECKPOINT_VERSION",
    "JOURNAL_VERSION",
    "CorruptCheckpointError",
    "JournalEntry",
    "ModelNotFoundError",
    "ModelStore",
    "QuarantinedModel",
    "ShortWriteError",
    "StoreError",
    "StoredModel",
    "UnsupportedFormatError",
    "default_state_dir",
    "model_id_for",
]

log = logging.getLogger("influxhtm.store")

CHECKPOINT_MAGIC = b"IHTMCKPT"
#: container version written; every version in _CHECKPOINT_READERS is read
CHECKPOINT_VERSION = 1
# magic, version, generation, payload length, sha256 of the payload
_CKPT_HEADER = struct.Struct("<8sIQQ32s")
_CKPT_PREFIX = struct.Struct("<8sI")  # magic and version: the part every container version shares

JOURNAL_MAGIC = b"IHTMJRNL"
#: journal version written; every version in _JOURNAL_VERSIONS is read
JOURNAL_VERSION = 1
_JOURNAL_VERSIONS = (1,)
# magic, version, generation, crc32 of the preceding bytes
_JRNL_HEADER = struct.Struct("<8sIQI")
# time_ns, value, crc32 of the preceding 16 bytes
_JRNL_RECORD = struct.Struct("<qdI")
_JRNL_BODY = struct.Struct("<qd")

ENGINE_BLOB_MAGIC = b"IHTM"  # the engine's own state header starts with this and a u16 version

CHECKPOINT_FILE = "checkpoint.bin"
METADATA_FILE = "metadata.json"
OWNER_FILE = "owner"  # the fencing token of the store that writes the model (cluster mode)
REASON_FILE = "reason.json"
JOURNAL_NAME = re.compile(r"journal-(\d+)\.bin")
QUARANTINE_FORMAT = "influxhtm-quarantine"


def journal_name(generation: int) -> str:
    return f"journal-{generation}.bin"


class StoreError(Exception):
    """A model's files are missing, unreadable or corrupt."""


class ModelNotFoundError(StoreError, KeyError):
    """No model with that id exists in the store."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class FencedError(StoreError):
    """The model is owned by another store now (its owner file names another token): this one may not
    write it any more."""


class CorruptCheckpointError(StoreError):
    """A checkpoint file fails its magic, version, length or checksum test."""


class UnsupportedFormatError(CorruptCheckpointError):
    """A checkpoint or journal of a format version this code does not read (written by a newer release)."""


class ShortWriteError(OSError):
    """A write that the OS accepted only in part (a full disk can do that); errno is None."""


class JournalEntry(NamedTuple):
    """One accepted input: its time (ns since the epoch) and value."""

    time_ns: int
    value: float


class StoredModel(NamedTuple):
    """What `ModelStore.load` returns: the last checkpoint (None before the first) and the inputs since."""

    blob: bytes | None
    metadata: ModelMetadata
    journal: list[JournalEntry]


class QuarantinedModel(NamedTuple):
    """A model moved aside by `ModelStore.quarantine`; `name` is its directory under <root>/quarantine."""

    name: str
    model_id: str
    reason: str
    cause: str
    time: str
    path: str


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


# ---- checkpoint container ----------------------------------------------------------------------
def encode_checkpoint(generation: int, blob: bytes) -> bytes:
    """Checkpoint container (current version) around an engine blob."""
    header = _CKPT_HEADER.pack(
        CHECKPOINT_MAGIC, CHECKPOINT_VERSION, generation, len(blob), hashlib.sha256(blob).digest()
    )
    return header + blob


def _read_checkpoint_v1(data: bytes, what: str) -> tuple[bytes, int]:
    if len(data) < _CKPT_HEADER.size:
        raise CorruptCheckpointError(f"checkpoint of {what} is truncated ({len(data)} bytes)")
    _, _, generation, length, digest = _CKPT_HEADER.unpack_from(data, 0)
    payload = data[_CKPT_HEADER.size :]
    if len(payload) != length:
        raise CorruptCheckpointError(f"checkpoint of {what} holds {len(payload)} bytes, header says {length}")
    if hashlib.sha256(payload).digest() != digest:
        raise CorruptCheckpointError(f"checkpoint of {what} fails its sha256 checksum")
    return payload, generation


# container version -> reader(data, description) -> (engine blob, generation)
_CHECKPOINT_READERS = {1: _read_checkpoint_v1}


def decode_checkpoint(data: bytes, what: str = "a model") -> tuple[bytes, int]:
    """(engine blob, generation) from checkpoint container bytes of any version ever written."""
    if len(data) < _CKPT_PREFIX.size:
        raise CorruptCheckpointError(f"checkpoint of {what} is truncated ({len(data)} bytes)")
    magic, version = _CKPT_PREFIX.unpack_from(data, 0)
    if magic != CHECKPOINT_MAGIC:
        raise CorruptCheckpointError(f"checkpoint of {what} has a bad magic number")
    reader = _CHECKPOINT_READERS.get(version)
    if reader is None:
        raise UnsupportedFormatError(
            f"checkpoint of {what} has container version {version}; this release reads "
            f"{', '.join(map(str, sorted(_CHECKPOINT_READERS)))} (written by a newer release?)"
        )
    return reader(data, what)


def engine_blob_version(blob: bytes) -> int | None:
    """The format version in an engine state blob's header (engine/src/state.rs), or None."""
    if len(blob) >= 6 and blob[:4] == ENGINE_BLOB_MAGIC:
        return int.from_bytes(blob[4:6], "little")
    return None


# ---- journal -----------------------------------------------------------------------------------
def journal_header(generation: int) -> bytes:
    head = struct.pack("<8sIQ", JOURNAL_MAGIC, JOURNAL_VERSION, generation)
    return head + struct.pack("<I", zlib.crc32(head))


def encode_record(entry: JournalEntry) -> bytes:
    body = _JRNL_BODY.pack(int(entry.time_ns), float(entry.value))
    return body + struct.pack("<I", zlib.crc32(body))


def read_journal(path: str) -> tuple[int | None, list[JournalEntry], int, bool]:
    """(generation or None if missing/unreadable, valid entries, byte length of the valid prefix,
    whether the whole file is valid). A journal of an unknown version raises UnsupportedFormatError."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None, [], 0, False
    return parse_journal(data, path)


def parse_journal(data: bytes, what: str = "journal") -> tuple[int | None, list[JournalEntry], int, bool]:
    """`read_journal` of bytes already read."""
    if len(data) < _JRNL_HEADER.size:
        return None, [], 0, False
    magic, version, generation, crc = _JRNL_HEADER.unpack_from(data, 0)
    if magic != JOURNAL_MAGIC or crc != zlib.crc32(data[: _JRNL_HEADER.size - 4]):
        return None, [], 0, False
    if version not in _JOURNAL_VERSIONS:
        raise UnsupportedFormatError(
            f"{what} has journal version {version}; this release reads "
            f"{', '.join(map(str, _JOURNAL_VERSIONS))} (written by a newer release?)"
        )
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
    torn: str | None = None  # the journal whose tail (or header) was cut or damaged, if any
    torn_bytes: int = 0  # how many bytes of it were not used


def _journal_files(directory: str) -> dict[int, str]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        names = []
    files = {}
    for name in names:
        match = JOURNAL_NAME.fullmatch(name)
        if match:
            files[int(match.group(1))] = os.path.join(directory, name)
    return files


def journal_chain(directory: str, checkpoint_generation: int) -> _JournalChain:
    """Journals checkpoint_generation, +1, +2, ... while each is intact and the next exists."""
    files = _journal_files(directory)
    entries: list[JournalEntry] = []
    last, last_length = None, 0
    torn, torn_bytes = None, 0
    generation = checkpoint_generation
    while generation in files:
        found, records, length, intact = read_journal(files[generation])
        if found != generation:
            torn, torn_bytes = files[generation], _size(files[generation])
            break
        entries.extend(records)
        last, last_length = generation, length
        if not intact:
            torn, torn_bytes = files[generation], _size(files[generation]) - length
            break
        generation += 1
    unused = [path for g, path in files.items() if last is None or not checkpoint_generation <= g <= last]
    return _JournalChain(entries, last, last_length, unused, torn, torn_bytes)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _dump_json(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, indent=1).encode("utf-8")


def _as_record(metadata: ModelMetadata | dict) -> ModelMetadata:
    if isinstance(metadata, ModelMetadata):
        return metadata
    if isinstance(metadata, dict):
        return ModelMetadata.from_json(metadata)  # a caller still handing over an old-style dict
    raise TypeError(f"metadata must be a ModelMetadata (or a dict), got {type(metadata).__name__}")


def _utc_stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


class ModelStore:
    """Checkpoints, journals and metadata of many models under one root directory.

    `journal_fsync=False` (default) hands every journal record and metadata update to the OS at once,
    which survives a kill -9 of the process; `journal_fsync=True` also fsyncs them, which survives power
    loss. Checkpoints are always fsynced. At most `max_open_journals` journal files stay open (default:
    half the process's open-file limit, at most 4096).
    Safe to use from several threads; one process should own a root at a time, unless each has an `owner`
    token (the model hosts of the cluster mode, on one shared root): a model is then written only by the
    store that last loaded or created it. Loading a model (or writing a new one) puts the store's token in
    the model's owner file; every write first checks it and raises FencedError if another store has taken
    the model over since (a host cut off by a network partition and replaced: its late writes are refused).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        journal_fsync: bool = False,
        max_open_journals: int | None = None,
        owner: str | None = None,
    ):
        self.root = os.fspath(root)
        self.owner = owner
        self._owned: set[str] = set()  # models whose owner file this store wrote
        self._lost: set[str] = set()  # ... and found taken over since: written again only after a load
        self.journal_fsync = journal_fsync
        self.models_dir = os.path.join(self.root, "models")
        self.quarantine_dir = os.path.join(self.root, "quarantine")
        os.makedirs(self.models_dir, exist_ok=True)
        self._lock = threading.RLock()
        self._journals: collections.OrderedDict[str, BinaryIO] = collections.OrderedDict()
        if max_open_journals is None:
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            max_open_journals = 4096 if soft == resource.RLIM_INFINITY else min(4096, soft // 2)
        self._max_open = max(1, max_open_journals)
        self._committed: dict[str, int] = {}  # checkpoint generation on disk, per model
        self._current: dict[str, int] = {}  # generation of the journal appended to (chain checked)
        self._commit_locks: dict[str, threading.RLock] = {}  # one checkpoint commit (or load) at a time

    # ---- paths -------------------------------------------------------------------------------
    def model_dir(self, model_id: str) -> str:
        """The directory of a model id (ids starting with '.' are reserved for temporary directories)."""
        if not model_id or "/" in model_id or model_id.startswith(".") or "\x00" in model_id:
            raise ValueError(f"invalid model id {model_id!r}")
        return os.path.join(self.models_dir, model_id)

    def _path(self, model_id: str, name: str) -> str:
        return os.path.join(self.model_dir(model_id), name)

    # ---- fencing (stores with an owner token) --------------------------------------------------
    def _claim(self, model_id: str) -> None:
        """Make this store the model's writer (a store without a token writes unchecked)."""
        if self.owner is not None:
            os.makedirs(self.model_dir(model_id), exist_ok=True)
            write_atomically(self._path(model_id, OWNER_FILE), self.owner.encode(), durable=self.journal_fsync)
            self._owned.add(model_id)
            self._lost.discard(model_id)

    def _check_owner(self, model_id: str) -> None:
        """Raise FencedError if another store has taken the model over since this one loaded or created it;
        claim a model new to this store, or one whose owner file is gone with its directory (a storage
        fault: nobody else has it)."""
        if self.owner is None:
            return
        if model_id in self._lost:
            raise FencedError(f"model {model_id!r} is written by another model host now")
        current = None
        if model_id in self._owned:
            with contextlib.suppress(FileNotFoundError):
                current = _read(self._path(model_id, OWNER_FILE)).decode(errors="replace")
        if current is None:
            self._claim(model_id)
        elif current != self.owner:
            self._owned.discard(model_id)
            self._lost.add(model_id)
            self._forget(model_id)
            raise FencedError(f"model {model_id!r} is written by another model host now")

    # ---- queries -----------------------------------------------------------------------------
    def model_ids(self) -> list[str]:
        """Ids of every model that has metadata or a checkpoint, sorted (quarantined ones are not models)."""
        try:
            names = os.listdir(self.models_dir)
        except FileNotFoundError:
            return []
        ids = []
        for name in names:
            if name.startswith("."):
                continue
            d = os.path.join(self.models_dir, name)
            if os.path.isfile(os.path.join(d, METADATA_FILE)) or os.path.isfile(os.path.join(d, CHECKPOINT_FILE)):
                ids.append(name)
        return sorted(ids)

    def exists(self, model_id: str) -> bool:
        d = self.model_dir(model_id)
        return os.path.isfile(os.path.join(d, METADATA_FILE)) or os.path.isfile(os.path.join(d, CHECKPOINT_FILE))

    def metadata(self, model_id: str) -> ModelMetadata:
        """The model's metadata record (any stored version, converted); raises ModelNotFoundError / StoreError."""
        path = self._path(model_id, METADATA_FILE)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            if self.exists(model_id):
                return ModelMetadata(created="")
            raise ModelNotFoundError(f"no model {model_id!r} in {self.root}") from None
        return parse_metadata(raw, f"model {model_id!r}")

    # ---- checkpoint --------------------------------------------------------------------------
    def _read_checkpoint(self, model_id: str) -> tuple[bytes | None, int]:
        """(blob, generation); (None, 0) when there is no checkpoint yet."""
        try:
            with open(self._path(model_id, CHECKPOINT_FILE), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None, 0
        return decode_checkpoint(data, f"model {model_id!r}")

    def _checkpoint_generation(self, model_id: str) -> int:
        generation = self._committed.get(model_id)
        if generation is None:
            try:
                with open(self._path(model_id, CHECKPOINT_FILE), "rb") as f:
                    head = f.read(_CKPT_HEADER.size)
            except FileNotFoundError:
                head = b""
            generation = 0
            if len(head) == _CKPT_HEADER.size and _CKPT_PREFIX.unpack_from(head)[1] in _CHECKPOINT_READERS:
                generation = _CKPT_HEADER.unpack(head)[2]
            self._committed[model_id] = generation
        return generation

    def save_checkpoint(self, model_id: str, blob: bytes, metadata: ModelMetadata | dict) -> None:
        """Atomically replace the model's checkpoint and metadata; the journal restarts empty.

        The caller must have applied every journaled input to the model the blob comes from.
        """
        self.commit_checkpoint(model_id, self.begin_checkpoint(model_id), blob, metadata)

    def begin_checkpoint(self, model_id: str) -> int:
        """Start the next journal generation and return it: the model's state now (every input
        journaled so far applied, none after) is what `commit_checkpoint` of that generation must get."""
        with self._lock:
            self._check_owner(model_id)
            generation = self._current_generation(model_id) + 1
            self._close_journal(model_id)
            path = self._path(model_id, journal_name(generation))
            write_atomically(path, journal_header(generation), durable=self.journal_fsync)
            self._current[model_id] = generation
            return generation

    def commit_checkpoint(self, model_id: str, generation: int, blob: bytes, metadata: ModelMetadata | dict) -> bool:
        """Write checkpoint `generation` (from `begin_checkpoint`) and the metadata, then drop the journals
        it makes redundant. Safe on any thread; appends go on meanwhile. False (nothing written) if a
        newer checkpoint is already on disk."""
        blob = bytes(blob)
        state_format = {"checkpoint": CHECKPOINT_VERSION, "journal": JOURNAL_VERSION}
        engine = engine_blob_version(blob)
        if engine is not None:
            state_format["engine"] = engine
        record = _as_record(metadata).replace(updated=utc_now(), state_format=state_format)
        meta_bytes = _dump_json(record.to_json())
        with self._commit_lock(model_id):
            with self._lock:
                self._check_owner(model_id)
                if generation <= self._checkpoint_generation(model_id):
                    return False
            d = self.model_dir(model_id)
            write_atomically(os.path.join(d, CHECKPOINT_FILE), encode_checkpoint(generation, blob))
            write_atomically(os.path.join(d, METADATA_FILE), meta_bytes)
            with self._lock:
                self._committed[model_id] = generation
            for name in os.listdir(d):
                match = JOURNAL_NAME.fullmatch(name)
                if match and int(match.group(1)) < generation:
                    os.unlink(os.path.join(d, name))
            return True

    def save_state(
        self, model_id: str, blob: bytes | None, metadata: ModelMetadata | dict, journal: Sequence[JournalEntry] = ()
    ) -> int:
        """Write a model's whole state afresh, as after a storage fault: its directory is made again if it
        is gone, then checkpoint `blob` with a generation newer than any on disk or in use (the journals
        before it are deleted; the next append starts a fresh journal), or, for a model without a
        checkpoint yet (`blob` None: a warm-up), journal 0 holding `journal`. Returns the generation."""
        with self._commit_lock(model_id):
            with self._lock:
                self._check_owner(model_id)
                self._close_journal(model_id)
                current = self._current.pop(model_id, None)
                d = self.model_dir(model_id)
                os.makedirs(d, exist_ok=True)
                on_disk = _journal_files(d)
                committed = self._committed.pop(model_id, None)
                generation = max([0, current or 0, committed or 0, *on_disk, _checkpoint_generation_on_disk(d)]) + 1
            if blob is None:
                data = journal_header(0) + b"".join(encode_record(entry) for entry in journal)
                write_atomically(os.path.join(d, journal_name(0)), data)
                self.write_metadata(model_id, metadata)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(d, CHECKPOINT_FILE))
                for g, path in _journal_files(d).items():
                    if g != 0:
                        os.unlink(path)
                with self._lock:
                    self._committed[model_id] = 0
                return 0
            if not self.commit_checkpoint(model_id, generation, blob, metadata):
                raise StoreError(f"model {model_id!r}: a newer checkpoint appeared while its state was saved")
            return generation

    def _commit_lock(self, model_id: str) -> threading.RLock:
        with self._lock:
            return self._commit_locks.setdefault(model_id, threading.RLock())

    def load(self, model_id: str) -> StoredModel:
        """Checkpoint blob, metadata and the valid journal entries that follow the checkpoint.

        Raises ModelNotFoundError, CorruptCheckpointError (UnsupportedFormatError for a newer format) or
        StoreError (unreadable metadata); the caller then quarantines the model (`quarantine`)."""
        with self._commit_lock(model_id), self._lock:
            if not self.exists(model_id):
                raise ModelNotFoundError(f"no model {model_id!r} in {self.root}")
            self._close_journal(model_id)
            self._current.pop(model_id, None)
            self._committed.pop(model_id, None)
            self._claim(model_id)
            blob, generation = self._read_checkpoint(model_id)
            metadata = self.metadata(model_id)
            chain = journal_chain(self.model_dir(model_id), generation)
            if chain.torn is not None and chain.torn_bytes:
                log.warning(
                    "model %s: %s ends in %d byte(s) that are not whole, valid records (a crash or a short "
                    "write); dropped them, keeping the %d input(s) before",
                    model_id,
                    os.path.basename(chain.torn),
                    chain.torn_bytes,
                    len(chain.entries),
                )
            self._committed[model_id] = generation
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
        d = self.model_dir(model_id)
        os.makedirs(d, exist_ok=True)
        checkpoint = self._checkpoint_generation(model_id)
        chain = journal_chain(d, checkpoint)
        for path in chain.unused:
            os.unlink(path)
        if chain.last_generation is None:
            generation = checkpoint
            write_atomically(
                os.path.join(d, journal_name(generation)), journal_header(generation), durable=self.journal_fsync
            )
        else:
            generation = chain.last_generation
            with open(os.path.join(d, journal_name(generation)), "r+b") as f:
                f.truncate(chain.last_valid_length)  # drop a torn tail so new records stay aligned
        self._current[model_id] = generation
        return generation

    def _open_journal(self, model_id: str):
        f = self._journals.get(model_id)
        if f is not None:
            self._journals.move_to_end(model_id)
            return f
        generation = self._current_generation(model_id)
        # one write() per record; kept open in the LRU cache of journals
        f = open(self._path(model_id, journal_name(generation)), "ab", buffering=0)
        self._journals[model_id] = f
        while len(self._journals) > self._max_open:
            _, old = self._journals.popitem(last=False)
            old.close()
        return f

    def append_journal(self, model_id: str, *entries: JournalEntry) -> None:
        """Append accepted inputs (in one write); they reach the OS (and the disk when journal_fsync)
        before return."""
        record = b"".join(encode_record(entry) for entry in entries)
        with self._lock:
            self._check_owner(model_id)
            try:
                f = self._open_journal(model_id)
                written = f.write(record)
                if written != len(record):
                    raise ShortWriteError(
                        f"short write to the journal of model {model_id!r}: {written} of {len(record)} bytes"
                    )
                if self.journal_fsync:
                    os.fsync(f.fileno())
                if os.fstat(f.fileno()).st_nlink == 0:  # the file (or its directory) was removed meanwhile
                    raise FileNotFoundError(
                        errno.ENOENT, f"the journal of model {model_id!r} was removed from {self.models_dir}"
                    )
            except BaseException:
                # reopen on the next append: the chain is checked again and a torn tail cut
                self._close_journal(model_id)
                self._current.pop(model_id, None)
                raise

    # ---- metadata and deletion ---------------------------------------------------------------
    def write_metadata(self, model_id: str, metadata: ModelMetadata | dict) -> None:
        """Replace the model's metadata (atomically); creates the model's entry if new."""
        record = _as_record(metadata).replace(updated=utc_now())
        with self._lock:
            self._check_owner(model_id)
            d = self.model_dir(model_id)
            os.makedirs(d, exist_ok=True)
            write_atomically(os.path.join(d, METADATA_FILE), _dump_json(record.to_json()), durable=self.journal_fsync)

    def update_metadata(self, model_id: str, **fields) -> ModelMetadata:
        """Change some fields of the model's metadata record (atomically; a new model gets a new record);
        returns the record written. Unknown field names raise TypeError."""
        with self._lock:
            try:
                current = self.metadata(model_id)
            except ModelNotFoundError:
                current = ModelMetadata()
            record = current.replace(**fields)
            self.write_metadata(model_id, record)
            return record

    def delete(self, model_id: str) -> None:
        """Remove the model's files; raises ModelNotFoundError if it does not exist."""
        with self._commit_lock(model_id), self._lock:
            d = self.model_dir(model_id)
            self._forget(model_id)
            if not os.path.isdir(d):
                raise ModelNotFoundError(f"no model {model_id!r} in {self.root}")
            shutil.rmtree(d)
            fsync_dir(self.models_dir)

    def _forget(self, model_id: str) -> None:
        self._close_journal(model_id)
        self._committed.pop(model_id, None)
        self._current.pop(model_id, None)

    # ---- quarantine --------------------------------------------------------------------------
    def quarantine(self, model_id: str, reason: str, *, cause: str = "unloadable") -> QuarantinedModel:
        """Move the model's directory (checkpoint, journals, metadata) to <root>/quarantine/<model_id>-<UTC
        time>/ with a reason.json beside them; the model id is free for a new model afterwards.

        `cause` is a short machine-readable word: "unloadable" (corrupt, unreadable or a newer format, or
        the engine refused the state), "options_changed" (the task now shapes its model differently),
        "replaced" (an import with --force)."""
        with self._commit_lock(model_id), self._lock:
            d = self.model_dir(model_id)
            self._forget(model_id)
            if not os.path.isdir(d):
                raise ModelNotFoundError(f"no model {model_id!r} in {self.root}")
            os.makedirs(self.quarantine_dir, exist_ok=True)
            when = utc_now()
            base = f"{model_id}-{_utc_stamp()}"
            name, n = base, 1
            while os.path.exists(os.path.join(self.quarantine_dir, name)):
                n += 1
                name = f"{base}-{n}"
            info = {
                "format": QUARANTINE_FORMAT,
                "version": 1,
                "model_id": model_id,
                "reason": reason,
                "cause": cause,
                "time": when,
            }
            write_atomically(os.path.join(d, REASON_FILE), _dump_json(info))
            target = os.path.join(self.quarantine_dir, name)
            os.rename(d, target)
            fsync_dir(self.models_dir)
            fsync_dir(self.quarantine_dir)
            return QuarantinedModel(name, model_id, reason, cause, when, target)

    def quarantined(self) -> list[QuarantinedModel]:
        """Every quarantined model, oldest first."""
        try:
            names = os.listdir(self.quarantine_dir)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            path = os.path.join(self.quarantine_dir, name)
            if name.startswith(".") or not os.path.isdir(path):
                continue
            found.append(self._quarantined(name, path))
        return sorted(found, key=lambda q: (q.time, q.name))

    def _quarantined(self, name: str, path: str) -> QuarantinedModel:
        try:
            with open(os.path.join(path, REASON_FILE), "rb") as f:
                info = json.loads(f.read())
            if not isinstance(info, dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            info = {"reason": "unknown (reason.json missing or unreadable)"}
        model_id = str(info.get("model_id") or name)
        return QuarantinedModel(
            name, model_id, str(info.get("reason", "")), str(info.get("cause", "")), str(info.get("time", "")), path
        )

    def quarantined_entry(self, name: str) -> QuarantinedModel:
        """One quarantined model by its directory name; raises ModelNotFoundError."""
        if not name or "/" in name or name.startswith("."):
            raise ModelNotFoundError(f"no quarantined model {name!r} in {self.root}")
        path = os.path.join(self.quarantine_dir, name)
        if not os.path.isdir(path):
            raise ModelNotFoundError(f"no quarantined model {name!r} in {self.root}")
        return self._quarantined(name, path)

    def delete_quarantined(self, name: str) -> None:
        """Remove one quarantined model for good (only ever on request: `influxhtm models delete`)."""
        entry = self.quarantined_entry(name)
        shutil.rmtree(entry.path)
        fsync_dir(self.quarantine_dir)

    # ---- whole-model files (export / import) -------------------------------------------------
    def read_files(self, model_id: str, attempts: int = 5) -> dict[str, bytes]:
        """A consistent copy of the model's files: checkpoint (if any), metadata and the journals from the
        checkpoint's generation on. Retries when another process commits a checkpoint meanwhile."""
        with self._commit_lock(model_id), self._lock:
            if not self.exists(model_id):
                raise ModelNotFoundError(f"no model {model_id!r} in {self.root}")
            d = self.model_dir(model_id)
            for _ in range(attempts):
                try:
                    files = {}
                    generation = 0
                    try:
                        files[CHECKPOINT_FILE] = _read(os.path.join(d, CHECKPOINT_FILE))
                        _, generation = decode_checkpoint(files[CHECKPOINT_FILE], f"model {model_id!r}")
                    except FileNotFoundError:
                        files.pop(CHECKPOINT_FILE, None)
                    for g, path in sorted(_journal_files(d).items()):
                        if g >= generation:
                            files[os.path.basename(path)] = _read(path)
                    with contextlib.suppress(FileNotFoundError):
                        files[METADATA_FILE] = _read(os.path.join(d, METADATA_FILE))
                    if _checkpoint_generation_on_disk(d) == generation:
                        return files
                except FileNotFoundError:  # a journal removed by a commit in another process: again
                    pass
            raise StoreError(f"model {model_id!r} kept changing while being read; stop its task and retry")

    def install_files(
        self, model_id: str, files: dict[str, bytes], *, replace: bool = False, reason: str = "replaced"
    ) -> QuarantinedModel | None:
        """Put a model's files (as `read_files` gives them) in place as model `model_id`, atomically. An
        existing model raises StoreError unless `replace`, which quarantines it first (returned)."""
        for name in files:
            if name not in (CHECKPOINT_FILE, METADATA_FILE) and not JOURNAL_NAME.fullmatch(name):
                raise StoreError(f"not a model file name: {name!r}")
        target = self.model_dir(model_id)
        tmp = os.path.join(self.models_dir, f".import-{os.getpid()}-{threading.get_ident()}-{_utc_stamp()}")
        os.makedirs(tmp)
        try:
            for name, data in files.items():
                write_atomically(os.path.join(tmp, name), data)
            with self._commit_lock(model_id), self._lock:
                replaced = None
                if os.path.exists(target):
                    if not replace:
                        raise StoreError(
                            f"model {model_id!r} already exists in {self.root} (use --force to "
                            "replace it; the current one is then quarantined)"
                        )
                    replaced = self.quarantine(model_id, reason, cause="replaced")
                self._forget(model_id)
                os.rename(tmp, target)
                fsync_dir(self.models_dir)
                return replaced
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp)

    def close(self) -> None:
        """Close open journal files (appending again reopens them)."""
        with self._lock:
            while self._journals:
                _, f = self._journals.popitem()
                f.close()


def parse_metadata(raw: bytes, what: str = "a model") -> ModelMetadata:
    """A metadata.json's bytes as a record; StoreError when it is not a readable record."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise StoreError(f"metadata of {what} is not valid JSON: {exc}") from None
    try:
        return ModelMetadata.from_json(value)
    except MetadataError as exc:
        raise StoreError(f"metadata of {what}: {exc}") from None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _checkpoint_generation_on_disk(directory: str) -> int:
    try:
        with open(os.path.join(directory, CHECKPOINT_FILE), "rb") as f:
            head = f.read(_CKPT_HEADER.size)
    except FileNotFoundError:
        return 0
    return _CKPT_HEADER.unpack(head)[2] if len(head) == _CKPT_HEADER.size else -1
