"""One model as one file: `export_model` / `import_model` (`influxhtm models export|import`).

The archive is a gzip-compressed tar (no pickle, readable with `tar -tzf`) holding::

    manifest.json          {"format": "influxhtm-model-archive", "version": 1, "model_id", "exported",
                            "origin", "state_format", "files": [{"name", "size", "sha256"}, ...]}
    files/checkpoint.bin   the checkpoint container, as stored (absent before a model's first checkpoint)
    files/journal-<G>.bin  the journals that follow it
    files/metadata.json    the metadata record

Import checks the format and version, that the archive holds exactly the files the manifest lists with their
sizes and sha256 sums, that the checkpoint container and the metadata are readable, and only then puts the
model in place (atomically). Nothing is extracted by path: member names are checked against the names a
model directory may hold.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
import zlib
from typing import NamedTuple

from influxhtm.fileio import write_atomically

from .metadata import utc_now
from .model_store import (
    CHECKPOINT_FILE,
    JOURNAL_NAME,
    METADATA_FILE,
    ModelStore,
    QuarantinedModel,
    StoreError,
    decode_checkpoint,
    parse_journal,
    parse_metadata,
)

__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_VERSION",
    "ArchiveError",
    "Imported",
    "export_model",
    "import_model",
    "read_archive",
]

ARCHIVE_FORMAT = "influxhtm-model-archive"
ARCHIVE_VERSION = 1
_MANIFEST = "manifest.json"
_PREFIX = "files/"
_MAX_MEMBER = 1 << 30  # a model is a few MB; refuse absurd members before reading them


class ArchiveError(StoreError):
    """A file that is not a complete, intact model archive of a version this release reads."""


class Imported(NamedTuple):
    model_id: str
    replaced: QuarantinedModel | None  # the model that was in the way (with --force), now quarantined


def export_model(store: ModelStore, model_id: str, path: str | os.PathLike) -> dict:
    """Write the model's archive to `path` (atomically); returns the manifest."""
    files = store.read_files(model_id)
    record = parse_metadata(files[METADATA_FILE], f"model {model_id!r}") if METADATA_FILE in files else None
    manifest = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "model_id": model_id,
        "exported": utc_now(),
        "origin": record.origin if record else None,
        "state_format": record.state_format if record else {},
        "files": [
            {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(files.items())
        ],
    }
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, _MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"), now)
        for name, data in sorted(files.items()):
            _add(tar, _PREFIX + name, data, now)
    write_atomically(os.fspath(path), buffer.getvalue())
    return manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def read_archive(path: str | os.PathLike) -> tuple[dict, dict[str, bytes]]:
    """(manifest, {file name: bytes}) of an archive, every check of the module docstring passed."""
    where = os.fspath(path)
    try:
        tar = tarfile.open(where, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{where} is not an influxhtm model archive (not a gzip tar: {exc})") from None
    members: dict[str, bytes] = {}
    try:
        with tar:
            for member in tar:
                if not member.isfile():
                    raise ArchiveError(f"{where}: unexpected entry {member.name!r} (not a regular file)")
                if member.name in members:
                    raise ArchiveError(f"{where}: entry {member.name!r} appears twice")
                if member.name != _MANIFEST and not _model_file(member.name):
                    raise ArchiveError(f"{where}: unexpected entry {member.name!r}")
                if member.size > _MAX_MEMBER:
                    raise ArchiveError(f"{where}: entry {member.name!r} is implausibly large ({member.size} bytes)")
                f = tar.extractfile(member)
                members[member.name] = f.read() if f is not None else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"{where} is damaged: {exc}") from None
    if _MANIFEST not in members:
        raise ArchiveError(f"{where} has no manifest.json (not an influxhtm model archive)")
    try:
        manifest = json.loads(members.pop(_MANIFEST))
    except ValueError as exc:
        raise ArchiveError(f"{where}: manifest.json is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(
            f"{where} is not an influxhtm model archive (manifest format "
            f"{manifest.get('format') if isinstance(manifest, dict) else None!r})"
        )
    version = manifest.get("version")
    if version != ARCHIVE_VERSION:
        raise ArchiveError(
            f"{where} is a model archive of version {version!r}; this release reads version "
            f"{ARCHIVE_VERSION} (made by a newer release?)"
        )
    model_id = manifest.get("model_id")
    if (
        not isinstance(model_id, str)
        or not model_id
        or model_id.startswith(".")
        or "/" in model_id
        or "\x00" in model_id
    ):
        raise ArchiveError(f"{where}: manifest names an invalid model id {model_id!r}")
    listed = manifest.get("files")
    if not isinstance(listed, list):
        raise ArchiveError(f"{where}: manifest has no file list")
    files: dict[str, bytes] = {}
    for entry in listed:
        try:
            name, size, digest = entry["name"], entry["size"], entry["sha256"]
        except (TypeError, KeyError):
            raise ArchiveError(f"{where}: malformed manifest file entry {entry!r}") from None
        data = members.pop(_PREFIX + str(name), None)
        if data is None:
            raise ArchiveError(f"{where}: {name!r} is listed in the manifest but missing")
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise ArchiveError(f"{where}: {name!r} fails its size or sha256 check (damaged archive)")
        files[str(name)] = data
    if members:
        raise ArchiveError(f"{where}: entries not in the manifest: {sorted(members)}")
    if METADATA_FILE not in files:
        raise ArchiveError(f"{where} holds no metadata.json")
    what = f"archived model {model_id!r}"
    parse_metadata(files[METADATA_FILE], what)
    generation = 0
    if CHECKPOINT_FILE in files:
        _, generation = decode_checkpoint(files[CHECKPOINT_FILE], what)
    for name, data in files.items():
        match = JOURNAL_NAME.fullmatch(name)
        if match:
            found, _, _, _ = parse_journal(data, f"{name} of {what}")
            if found != int(match.group(1)) or found < generation:
                raise ArchiveError(f"{where}: {name} is not a journal of generation >= {generation}")
    return manifest, files


def _model_file(name: str) -> bool:
    if not name.startswith(_PREFIX):
        return False
    base = name[len(_PREFIX) :]
    return base in (CHECKPOINT_FILE, METADATA_FILE) or JOURNAL_NAME.fullmatch(base) is not None


def import_model(store: ModelStore, path: str | os.PathLike, *, force: bool = False) -> Imported:
    """Restore an archive as its model id. An existing model of that id is refused (StoreError) unless
    `force`, which quarantines it first, so nothing is ever lost."""
    manifest, files = read_archive(path)
    model_id = manifest["model_id"]
    replaced = store.install_files(
        model_id, files, replace=force, reason=f"replaced by `influxhtm models import {os.fspath(path)}`"
    )
    return Imported(model_id, replaced)
