"""``nupic.encoders.random_distributed_scalar``: NuPIC 1.0.5's RandomDistributedScalarEncoder on the Rust
engine (the encoder NAB's models use), bit for bit: lazily created buckets, NuPIC's RNG, the first value (or
``offset``) in the middle bucket, half-away-from-zero rounding."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicRdse
from influxhtm.nupic.encoders._util import dense, scalar_input

#: Buckets an encoder can hold (NuPIC's ``maxBuckets``); the first value lands in the middle one.
MAX_BUCKETS = 1000


class RandomDistributedScalarEncoder:
    """Each bucket of width ``resolution`` gets ``w`` of ``n`` bits; neighbouring buckets differ in one bit,
    distant ones share at most two. The encoding depends on the first value and on the order in which
    buckets are first reached, exactly as in NuPIC."""

    def __init__(
        self,
        resolution: float,
        w: int = 21,
        n: int = 400,
        name: Optional[str] = None,
        offset: Optional[float] = None,
        seed: int = 42,
        verbosity: int = 0,
    ) -> None:
        self._engine = NupicRdse(
            resolution=float(resolution),
            w=int(w),
            n=int(n),
            seed=int(seed),
            offset=None if offset is None else float(offset),
        )
        self.resolution = float(resolution)
        self.w = int(w)
        self.n: int = self._engine.n
        self.seed = int(seed)
        self.verbosity = verbosity
        self.encoders = None
        self.maxBuckets = MAX_BUCKETS
        self.name = name if name is not None else f"[{self.resolution}]"

    @property
    def offset(self) -> Optional[float]:
        """The value of the middle bucket: the ``offset`` argument, else the first value encoded."""
        return self._engine.offset

    @property
    def minIndex(self) -> int:
        return self._engine.bucket_range[0]

    @property
    def maxIndex(self) -> int:
        return self._engine.bucket_range[1]

    def getWidth(self) -> int:
        return self.n

    def getDescription(self) -> list[tuple[str, int]]:
        return [(self.name, 0)]

    def getBucketIndices(self, x: Any) -> list[Optional[int]]:
        """``[bucket]`` of ``x`` (``[None]`` for missing data); the first value sets the offset."""
        return [self._engine.bucket_index(scalar_input(x))]

    def mapBucketIndexToNonZeroBits(self, index: int) -> npt.NDArray[np.int64]:
        """The bucket's bits in creation order (index clipped to 0..999; the bucket is created if needed)."""
        return np.array(self._engine.bucket_bits(max(0, int(index))), dtype=np.int64)

    def encodeIntoArray(self, x: Any, output: npt.NDArray[Any]) -> None:
        output[: self.n] = dense(self._engine.encode_bits(scalar_input(x)), self.n)

    def encode(self, x: Any) -> npt.NDArray[np.uint8]:
        return dense(self._engine.encode_bits(scalar_input(x)), self.n)
