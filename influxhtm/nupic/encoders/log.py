"""``nupic.encoders.logarithm``'s LogEncoder (NuPIC 1.0.5), bit for bit, on the Rust engine.

NuPIC's module is ``nupic.encoders.logarithm``; ``influxhtm.nupic.encoders.logarithm`` re-exports this.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicLogEncoder
from influxhtm.nupic.encoders._util import dense, scalar_input
from influxhtm.nupic.encoders.scalar import ScalarEncoder


class LogEncoder:
    """Encodes log10 of the input, clamped to ``[minval, maxval]`` first (so it never raises for a
    number). ``n``/``radius``/``resolution`` are in log10 space; ``minval`` below 1e-07 becomes 1e-07."""

    def __init__(
        self,
        w: int = 5,
        minval: float = 1e-07,
        maxval: float = 10000,
        periodic: bool = False,
        n: int = 0,
        radius: float = 0,
        resolution: float = 0,
        name: str = "log",
        verbosity: int = 0,
        clipInput: bool = True,
        forced: bool = False,
    ) -> None:
        self._engine = NupicLogEncoder(
            w=int(w),
            minval=float(minval),
            maxval=float(maxval),
            n=int(n),
            radius=float(radius),
            resolution=float(resolution),
            clip_input=bool(clipInput),
            forced=bool(forced),
        )
        self.encoders = None
        self.verbosity = verbosity
        self.clipInput = bool(clipInput)
        self.minval: float = self._engine.minval
        self.maxval: float = self._engine.maxval
        self.minScaledValue: float = self._engine.min_scaled_value
        self.maxScaledValue: float = self._engine.max_scaled_value
        self.encoder = ScalarEncoder._wrap(self._engine.scalar, forced=bool(forced), verbosity=verbosity)
        self.width: int = self._engine.n
        self.n = self.width
        self.name = name
        self.description = [(name, 0)]

    def getWidth(self) -> int:
        return self.width

    def getDescription(self) -> list[tuple[str, int]]:
        return self.description

    def getDecoderOutputFieldTypes(self) -> tuple[str, ...]:
        return ("float",)

    def getBucketIndices(self, inpt: Any) -> list[Optional[int]]:
        return [self._engine.bucket_index(scalar_input(inpt))]

    def getScalars(self, inpt: Any) -> npt.NDArray[Any]:
        return np.array([inpt])

    def encodeIntoArray(self, inpt: Any, output: npt.NDArray[Any]) -> None:
        output[: self.width] = self.encode(inpt)

    def encode(self, inpt: Any) -> npt.NDArray[np.uint8]:
        return dense(self._engine.encode_bits(scalar_input(inpt)), self.width)
