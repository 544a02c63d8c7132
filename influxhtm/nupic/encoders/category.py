"""``nupic.encoders.category``: NuPIC 1.0.5's CategoryEncoder (the arithmetic runs in the Rust engine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicCategoryEncoder
from influxhtm.nupic.encoders._util import dense
from influxhtm.nupic.encoders.base import EncoderResult
from influxhtm.nupic.encoders.scalar import ScalarEncoder


class CategoryEncoder:
    """Each category of ``categoryList`` gets ``w`` bits of its own; category 0 is ``<UNKNOWN>``, which
    every category outside the list encodes as. ``n = w * (len(categoryList) + 1)``."""

    def __init__(
        self,
        w: int,
        categoryList: Sequence[str],
        name: str = "category",
        verbosity: int = 0,
        forced: bool = False,
    ) -> None:
        self._engine = NupicCategoryEncoder(w=int(w), categories=[str(c) for c in categoryList], forced=bool(forced))
        self.encoders = None
        self.verbosity = verbosity
        self.w = int(w)
        self.ncategories = len(categoryList) + 1
        self.categoryToIndex: dict[str, int] = {c: self._engine.category_index(str(c)) for c in categoryList}
        self.indexToCategory: dict[int, str] = {0: "<UNKNOWN>"}
        for c, i in self.categoryToIndex.items():
            self.indexToCategory[i] = c
        self.width: int = self._engine.n
        self.n = self.width
        self.name = name
        self.description = [(name, 0)]
        self.encoder = ScalarEncoder(w, minval=0, maxval=self.ncategories - 1, radius=1, periodic=False, forced=forced)
        self._bucketValues: Optional[list[str]] = None

    def getWidth(self) -> int:
        return self.width

    def getDescription(self) -> list[tuple[str, int]]:
        return self.description

    def getDecoderOutputFieldTypes(self) -> tuple[str, ...]:
        return ("string",)

    @staticmethod
    def _category(input: Any) -> Optional[str]:
        return None if input is None else str(input)

    def getScalars(self, input: Any) -> npt.NDArray[Any]:
        if input is None:
            return np.array([None])
        return np.array([self._engine.category_index(str(input))])

    def getBucketIndices(self, input: Any) -> list[Optional[int]]:
        return [self._engine.bucket_index(self._category(input))]

    def encodeIntoArray(self, input: Any, output: npt.NDArray[Any]) -> None:
        output[: self.width] = self.encode(input)

    def encode(self, input: Any) -> npt.NDArray[np.uint8]:
        return dense(self._engine.encode_bits(self._category(input)), self.width)

    def getBucketValues(self) -> list[str]:
        """The category of every bucket of the inner scalar encoder, by bucket index."""
        if self._bucketValues is None:
            count = len(self.encoder.getBucketValues())
            self._bucketValues = [self.getBucketInfo([i])[0].value for i in range(count)]
        return self._bucketValues

    def getBucketInfo(self, buckets: Sequence[int]) -> list[EncoderResult]:
        """The category of bucket ``buckets[0]``, its index and the bucket's encoding."""
        info = self.encoder.getBucketInfo(buckets)[0]
        index = round(info.value)
        return [EncoderResult(value=self.indexToCategory[index], scalar=index, encoding=info.encoding)]

    def topDownCompute(self, encoded: npt.ArrayLike) -> EncoderResult:
        """The category whose encoding overlaps ``encoded`` most (one result, not a list, as in NuPIC)."""
        info = self.encoder.topDownCompute(encoded)[0]
        index = round(info.value)
        return EncoderResult(value=self.indexToCategory[index], scalar=index, encoding=info.encoding)

    def closenessScores(
        self, expValues: Sequence[Any], actValues: Sequence[Any], fractional: bool = True
    ) -> npt.NDArray[np.float64]:
        """1 when the categories are equal, else 0 (inverted when not ``fractional``)."""
        closeness = 1.0 if expValues[0] == actValues[0] else 0.0
        return np.array([closeness if fractional else 1.0 - closeness])
