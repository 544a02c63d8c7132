"""``nupic.encoders.adaptive_scalar``: NuPIC 1.0.5's AdaptiveScalarEncoder on the Rust engine."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicAdaptiveScalarEncoder
from influxhtm.nupic.encoders._util import dense, scalar_input


class AdaptiveScalarEncoder:
    """An n-based, clipping ScalarEncoder whose ``[minval, maxval]`` grows to cover the last 300 inputs
    while learning. Without a range, the first input ``x`` sets it to ``[x, x + 1]``. ``radius`` and
    ``resolution`` are accepted for NuPIC's signature and ignored, as NuPIC does; ``n`` is required."""

    def __init__(
        self,
        w: int,
        minval: Optional[float] = None,
        maxval: Optional[float] = None,
        periodic: bool = False,
        n: int = 0,
        radius: float = 0,
        resolution: float = 0,
        name: Optional[str] = None,
        verbosity: int = 0,
        clipInput: bool = True,
        forced: bool = False,
    ) -> None:
        self._engine = NupicAdaptiveScalarEncoder(
            w=int(w),
            n=int(n),
            minval=None if minval is None else float(minval),
            maxval=None if maxval is None else float(maxval),
            periodic=bool(periodic),
            name=name,
            forced=bool(forced),
        )
        self.encoders = None
        self.verbosity = verbosity
        self.w = int(w)
        self.n: int = self._engine.n
        self.periodic = False
        self.clipInput = True
        self.forced = bool(forced)
        self.name = name if name is not None else f"[{minval}:{maxval}]"

    # The range-dependent attributes follow the engine's current range.
    @property
    def minval(self) -> Optional[float]:
        s = self._engine.scalar
        return None if s is None else s.minval

    @property
    def maxval(self) -> Optional[float]:
        s = self._engine.scalar
        return None if s is None else s.maxval

    @property
    def resolution(self) -> Optional[float]:
        s = self._engine.scalar
        return None if s is None else s.resolution

    @property
    def radius(self) -> Optional[float]:
        s = self._engine.scalar
        return None if s is None else s.radius

    @property
    def recordNum(self) -> int:
        return self._engine.record_num

    def setLearning(self, learningEnabled: bool) -> None:
        self._engine.set_learning(bool(learningEnabled))

    def getWidth(self) -> int:
        return self.n

    def getDescription(self) -> list[tuple[str, int]]:
        return [(self.name, 0)]

    def getBucketIndices(self, input: Any, learn: Optional[bool] = None) -> list[Optional[int]]:
        return [self._engine.bucket_index(scalar_input(input), learn)]

    def getScalars(self, input: Any) -> npt.NDArray[Any]:
        return np.array([input])

    def encodeIntoArray(self, input: Any, output: npt.NDArray[Any], learn: Optional[bool] = None) -> None:
        output[: self.n] = dense(self._engine.encode_bits(scalar_input(input), learn), self.n)

    def encode(self, input: Any) -> npt.NDArray[np.uint8]:
        return dense(self._engine.encode_bits(scalar_input(input)), self.n)
