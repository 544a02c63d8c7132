"""Helpers shared by the encoder faces (not part of NuPIC's API)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt


def is_missing(value: Any) -> bool:
    """NuPIC's missing-data sentinel is None; a float NaN is treated the same."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def scalar_input(value: Any) -> Optional[float]:
    """None for missing data, else the number as a float (TypeError for non-numbers, as NuPIC)."""
    if value is None:
        return None
    if not isinstance(value, numbers.Number) or isinstance(value, complex):
        raise TypeError(f"Expected a scalar input but got input of type {type(value)}")
    return float(value)  # type: ignore[arg-type]


def dense(bits: Sequence[int], n: int) -> npt.NDArray[np.uint8]:
    """A uint8 vector of `n` zeros with ones at `bits`."""
    out = np.zeros(n, dtype=np.uint8)
    out[list(bits)] = 1
    return out
