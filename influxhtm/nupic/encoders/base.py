"""``nupic.encoders.base``: what NuPIC's decoding methods return."""

from __future__ import annotations

from typing import Any, NamedTuple


class EncoderResult(NamedTuple):
    """One decoded bucket: ``value`` (as the field holds it), ``scalar`` (as a number) and the bucket's
    ``encoding``."""

    value: Any
    scalar: Any
    encoding: Any
