"""``nupic.encoders.scalar``: NuPIC 1.0.5's ScalarEncoder (the arithmetic runs in the Rust engine)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicScalarEncoder
from influxhtm.nupic.encoders._util import dense, scalar_input
from influxhtm.nupic.encoders.base import EncoderResult


class ScalarEncoder:
    """A scalar encoder: ``w`` consecutive on-bits out of ``n`` whose position follows the value.

    Exactly one of ``n``, ``radius``, ``resolution`` must be given (non-zero). Non-periodic encoders pad
    ``(w - 1) / 2`` bits on each side and accept ``[minval, maxval]`` (values outside are clipped with
    ``clipInput``, else rejected); periodic encoders wrap over ``[minval, maxval)`` and always reject values
    outside it. ``w`` below 21 needs ``forced=True``.
    """

    _engine: NupicScalarEncoder
    verbosity: int
    forced: bool

    def __init__(
        self,
        w: int,
        minval: float,
        maxval: float,
        periodic: bool = False,
        n: int = 0,
        radius: float = 0,
        resolution: float = 0,
        name: Optional[str] = None,
        verbosity: int = 0,
        clipInput: bool = False,
        forced: bool = False,
    ) -> None:
        assert isinstance(w, numbers.Integral)
        self._engine = NupicScalarEncoder(
            w=int(w),
            minval=float(minval),
            maxval=float(maxval),
            periodic=bool(periodic),
            n=int(n),
            radius=float(radius),
            resolution=float(resolution),
            name=name,
            clip_input=bool(clipInput),
            forced=bool(forced),
            minval_is_int=isinstance(minval, numbers.Integral),
            maxval_is_int=isinstance(maxval, numbers.Integral),
        )
        self.verbosity = verbosity
        self.forced = bool(forced)
        self._adopt(minval, maxval)

    def _adopt(self, minval: Any, maxval: Any) -> None:
        """Copies the engine encoder's attributes under NuPIC's names."""
        e = self._engine
        self.encoders = None
        self.w = e.w
        self.minval = minval
        self.maxval = maxval
        self.periodic = e.periodic
        self.clipInput = e.clip_input
        self.n: int = e.n
        self.radius: float = e.radius
        self.resolution: float = e.resolution
        self.range: float = e.range
        self.rangeInternal: float = e.range_internal
        self.nInternal: int = e.n_internal
        self.padding: int = e.padding
        self.halfwidth: int = e.halfwidth
        self.name: str = e.name
        self._topDownMappingM: Optional[npt.NDArray[np.float32]] = None
        self._bucketValues: Optional[list[float]] = None

    @classmethod
    def _wrap(cls, engine: NupicScalarEncoder, forced: bool = False, verbosity: int = 0) -> ScalarEncoder:
        """A face for an engine encoder another encoder built (LogEncoder's, DeltaEncoder's inner one)."""
        self = cls.__new__(cls)
        self._engine = engine
        self.verbosity = verbosity
        self.forced = forced
        self._adopt(engine.minval, engine.maxval)
        return self

    def getWidth(self) -> int:
        return self.n

    def getDescription(self) -> list[tuple[str, int]]:
        return [(self.name, 0)]

    def getDecoderOutputFieldTypes(self) -> tuple[str, ...]:
        return ("float",)

    def getBucketIndices(self, input: Any) -> list[Optional[int]]:
        return [self._engine.bucket_index(scalar_input(input))]

    def getScalars(self, input: Any) -> npt.NDArray[Any]:
        return np.array([input])

    def encodeIntoArray(self, input: Any, output: npt.NDArray[Any]) -> None:
        output[: self.n] = dense(self._engine.encode_bits(scalar_input(input)), self.n)

    def encode(self, input: Any) -> npt.NDArray[np.uint8]:
        return dense(self._engine.encode_bits(scalar_input(input)), self.n)

    def _getTopDownMapping(self) -> npt.NDArray[np.float32]:
        """One row per bucket: the encoding of the bucket's value (NuPIC's top-down mapping matrix)."""
        if self._topDownMappingM is None:
            if self.periodic:
                values = np.arange(self.minval + self.resolution / 2.0, self.maxval, self.resolution)
            else:
                values = np.arange(self.minval, self.maxval + self.resolution / 2.0, self.resolution)
            rows = np.zeros((len(values), self.n), dtype=np.float32)
            for row, value in zip(rows, values):
                clamped = min(max(float(value), float(self.minval)), float(self.maxval))
                row[self._engine.encode_bits(clamped)] = 1
            self._topDownMappingM = rows
        return self._topDownMappingM

    def getBucketValues(self) -> list[float]:
        """The value of every bucket, by bucket index."""
        if self._bucketValues is None:
            count = len(self._getTopDownMapping())
            self._bucketValues = [self.getBucketInfo([i])[0].value for i in range(count)]
        return self._bucketValues

    def getBucketInfo(self, buckets: Sequence[int]) -> list[EncoderResult]:
        """The bucket ``buckets[0]``: its value (the centre of a periodic bucket) and its encoding."""
        category = buckets[0]
        encoding = self._getTopDownMapping()[category]
        if self.periodic:
            value = self.minval + (self.resolution / 2.0) + (category * self.resolution)
        else:
            value = self.minval + (category * self.resolution)
        return [EncoderResult(value=value, scalar=value, encoding=encoding)]

    def topDownCompute(self, encoded: npt.ArrayLike) -> list[EncoderResult]:
        """The bucket whose encoding overlaps ``encoded`` most (the first of equals)."""
        overlaps = self._getTopDownMapping().dot(np.asarray(encoded, dtype=np.float32))
        return self.getBucketInfo([int(overlaps.argmax())])

    def closenessScores(
        self, expValues: Sequence[float], actValues: Sequence[float], fractional: bool = True
    ) -> npt.NDArray[np.float64]:
        """1 - |expected - actual| / range (wrapping for periodic encoders), or the plain error."""
        expValue, actValue = expValues[0], actValues[0]
        if self.periodic:
            expValue = expValue % self.maxval
            actValue = actValue % self.maxval
        err = abs(expValue - actValue)
        if self.periodic:
            err = min(err, self.maxval - err)
        if fractional:
            closeness = 1.0 - min(1.0, float(err) / (self.maxval - self.minval))
        else:
            closeness = err
        return np.array([closeness])

    def __str__(self) -> str:
        return (
            f"ScalarEncoder:\n  min: {self.minval}\n  max: {self.maxval}\n  w:   {self.w}\n  n:   {self.n}\n"
            f"  resolution: {self.resolution}\n  radius:     {self.radius}\n  periodic: {self.periodic}\n"
            f"  nInternal: {self.nInternal}\n  rangeInternal: {self.rangeInternal}\n  padding: {self.padding}"
        )
