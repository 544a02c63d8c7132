"""``nupic.encoders.delta``: NuPIC 1.0.5's DeltaEncoder on the Rust engine."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicDeltaEncoder
from influxhtm.nupic.encoders._util import dense, scalar_input
from influxhtm.nupic.encoders.scalar import ScalarEncoder


class DeltaEncoder:
    """Encodes ``input - previous input`` (0 for the first one) with an adaptive scalar encoder whose
    range grows with the deltas it sees. ``n`` is required."""

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
        self._engine = NupicDeltaEncoder(
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
        self.name = name
        self.n: int = self._engine.n
        self.width = self.n
        self.description: list[tuple[str, int]] = []

    @property
    def _adaptiveScalarEnc(self) -> Optional[ScalarEncoder]:
        """A snapshot of the inner encoder at its current range (None before the range is known)."""
        s = self._engine.scalar
        return None if s is None else ScalarEncoder._wrap(s)

    @property
    def _prevAbsolute(self) -> Optional[float]:
        return self._engine.prev_absolute

    @property
    def _prevDelta(self) -> Optional[float]:
        return self._engine.prev_delta

    def setLearning(self, learningEnabled: bool) -> None:
        self._engine.set_learning(bool(learningEnabled))

    def setStateLock(self, lock: bool) -> None:
        self._engine.set_state_lock(bool(lock))

    def getWidth(self) -> int:
        return self.width

    def getDescription(self) -> list[tuple[str, int]]:
        return self.description

    def encodeIntoArray(self, input: Any, output: npt.NDArray[Any], learn: Optional[bool] = None) -> None:
        output[: self.n] = dense(self._engine.encode_bits(scalar_input(input), learn), self.n)

    def encode(self, input: Any) -> npt.NDArray[np.uint8]:
        return dense(self._engine.encode_bits(scalar_input(input)), self.n)
