"""The state store: where model hosts keep checkpoints, journals and metadata; every host reaches it.

A store is named by a spec string (what the front sends to the hosts) and opened by each host as a
`ModelStore`, the local UDF's format unchanged. `SharedDirectory` is a directory every node mounts (NFS,
a cluster file system, or one disk in tests). Another backend (an object store) is a StateStore whose
open() returns an object with ModelStore's methods.
"""

from __future__ import annotations

import abc
import errno
import os

from influxhtm.store import ModelStore

FILE_SCHEME = "file://"


class StateStore(abc.ABC):
    """A state store every model host reaches."""

    @property
    @abc.abstractmethod
    def spec(self) -> str:
        """The string that names this store; state_store(spec) gives it back on any node."""

    @abc.abstractmethod
    def open(self, *, journal_fsync: bool = False, owner: str | None = None) -> ModelStore:
        """This process's handle on the models; OSError if the store cannot be used. With an `owner` token,
        a model is written only while this handle is the last to have loaded or created it (a fence, see
        ModelStore)."""


class SharedDirectory(StateStore):
    """A directory every node reaches under the same path."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    @property
    def spec(self) -> str:
        return FILE_SCHEME + self.path

    def open(self, *, journal_fsync: bool = False, owner: str | None = None) -> ModelStore:
        store = ModelStore(self.path, journal_fsync=journal_fsync, owner=owner)
        if not os.access(store.models_dir, os.W_OK):
            store.close()
            raise PermissionError(errno.EACCES, f"{self.path} is not writable")
        return store


def state_store(spec: str) -> StateStore:
    """The store a spec names: a path or file://PATH; ValueError for an unknown scheme."""
    if spec.startswith(FILE_SCHEME):
        return SharedDirectory(spec[len(FILE_SCHEME) :])
    if "://" in spec:
        raise ValueError(f"unknown state store {spec!r} (expected a directory path or file://PATH)")
    return SharedDirectory(spec)
