"""Which model host owns a model: rendezvous (highest random weight) hashing of the model's key.

Every host scores every key with a hash of (host, key); the highest score owns it. The hash is stable
across processes and machines (BLAKE2b, not Python's salted hash()), and removing a host moves only the
keys it owned, adding one moves about 1/(n+1) of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def weight(host: str, key: Sequence[str]) -> int:
    """The 64-bit score of host for key."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (host, *key):
        data = part.encode()
        digest.update(len(data).to_bytes(4, "big"))  # length-prefixed: ("a", "bc") differs from ("ab", "c")
        digest.update(data)
    return int.from_bytes(digest.digest(), "big")


def owner(hosts: Sequence[str], key: Sequence[str]) -> str:
    """The host of hosts that owns key; ValueError if there is none."""
    if not hosts:
        raise ValueError("no model host is alive")
    return max(hosts, key=lambda host: (weight(host, key), host))
