"""Crash-safe file writes shared by every part that persists state."""

import os
import tempfile


def fsync_dir(path) -> None:
    """Makes a directory's entries (a rename, a new file) durable."""
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path, data: bytes, durable: bool = True) -> None:
    """Replaces `path` by `data` so that a crash leaves either the old or the new file, never a torn one:
    temp file in the same directory, rename. With `durable` (default) the file and the directory are
    fsynced too, so the new content also survives a power loss."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        fsync_dir(directory)


def write_in_place(path, data: bytes, reserve: int = 0) -> None:
    """Overwrites `path` from its start with `data`, padded with spaces to the file's size (at least
    `reserve` bytes, allocated up front), without a temp file: once the file exists, a rewrite that fits
    needs no new space, so it works even on a full disk. A reader may see a mix of two versions (use it
    for best-effort status files only). Raises OSError."""
    fd = os.open(os.fspath(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size < reserve:
            os.posix_fallocate(fd, 0, reserve)
            size = reserve
        padded = data + b" " * max(0, size - len(data))
        written = os.pwrite(fd, padded, 0)
        if written != len(padded):
            raise OSError(f"short write to {path}: {written} of {len(padded)} bytes")
    finally:
        os.close(fd)
