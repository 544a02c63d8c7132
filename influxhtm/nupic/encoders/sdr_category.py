"""``nupic.encoders.sdr_category``: NuPIC 1.0.5's SDRCategoryEncoder on the Rust engine (same RNG
stream as NuPIC for the same ``encoderSeed``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicSdrCategoryEncoder
from influxhtm.nupic.encoders._util import dense


class SDRCategoryEncoder:
    """Every category gets ``w`` random bits of ``n``. Category 0 is ``<UNKNOWN>``. With a
    ``categoryList`` unknown inputs encode as ``<UNKNOWN>``; without one the encoder learns: an unseen
    category is added on first sight (so the order of inputs decides the bits)."""

    def __init__(
        self,
        n: int,
        w: int,
        categoryList: Optional[Sequence[str]] = None,
        name: str = "category",
        verbosity: int = 0,
        encoderSeed: int = 1,
        forced: bool = False,
    ) -> None:
        self._engine = NupicSdrCategoryEncoder(
            n=int(n),
            w=int(w),
            categories=None if categoryList is None else [str(c) for c in categoryList],
            seed=int(encoderSeed),
            forced=bool(forced),
        )
        self.encoders = None
        self.verbosity = verbosity
        self.n = int(n)
        self.w = int(w)
        self.name = name
        self.description = [(name, 0)]

    @property
    def categories(self) -> list[str]:
        return self._engine.categories

    @property
    def ncategories(self) -> int:
        return len(self._engine.categories)

    @property
    def categoryToIndex(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self._engine.categories)}

    def categoryBits(self, index: int) -> list[int]:
        """On-bits of category ``index`` (a row of NuPIC's ``sdrs``)."""
        return self._engine.category_bits(index)

    def setLearning(self, learningEnabled: bool) -> None:
        self._engine.set_learning(bool(learningEnabled))

    def getWidth(self) -> int:
        return self.n

    def getDescription(self) -> list[tuple[str, int]]:
        return self.description

    def getDecoderOutputFieldTypes(self) -> tuple[str, ...]:
        return ("string",)

    @staticmethod
    def _category(input: Any) -> Optional[str]:
        return None if input is None else str(input)

    def getBucketIndices(self, input: Any, learn: Optional[bool] = None) -> list[Optional[int]]:
        return [self._engine.bucket_index(self._category(input), learn)]

    def getScalars(self, input: Any) -> npt.NDArray[Any]:
        if input is None:
            return np.array([0])
        return np.array([self._engine.bucket_index(str(input))])

    def encodeIntoArray(self, input: Any, output: npt.NDArray[Any]) -> None:
        output[: self.n] = self.encode(input)

    def encode(self, input: Any) -> npt.NDArray[np.uint8]:
        return dense(self._engine.encode_bits(self._category(input)), self.n)
