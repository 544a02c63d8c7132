"""``nupic.encoders.category``: NuPIC 1.0.5's CategoryEncoder (the arithmetic runs in the Rust engine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicCategoryEncoder
from influxhtm.nupic.encoders._util import dense


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
