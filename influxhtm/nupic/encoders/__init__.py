"""NuPIC 1.0.5's encoders (``nupic.encoders``), bit for bit, on influxhtm's Rust engine.

This package mirrors NuPIC's module paths: ``from nupic.encoders.scalar import ScalarEncoder`` becomes
``from influxhtm.nupic.encoders.scalar import ScalarEncoder``; only the import prefix changes (LogEncoder is
in ``log`` and, under NuPIC's own module name, ``logarithm``). Errors NuPIC raised as ``Exception`` or
``ValueError`` are raised as ``influxhtm._engine.InvalidParams`` (a ``ValueError``) with NuPIC's message.
"""

from influxhtm.nupic.encoders.adaptive_scalar import AdaptiveScalarEncoder
from influxhtm.nupic.encoders.category import CategoryEncoder
from influxhtm.nupic.encoders.date import DateEncoder
from influxhtm.nupic.encoders.delta import DeltaEncoder
from influxhtm.nupic.encoders.log import LogEncoder
from influxhtm.nupic.encoders.random_distributed_scalar import RandomDistributedScalarEncoder
from influxhtm.nupic.encoders.scalar import ScalarEncoder
from influxhtm.nupic.encoders.sdr_category import SDRCategoryEncoder

__all__ = [
    "AdaptiveScalarEncoder",
    "CategoryEncoder",
    "DateEncoder",
    "DeltaEncoder",
    "LogEncoder",
    "RandomDistributedScalarEncoder",
    "SDRCategoryEncoder",
    "ScalarEncoder",
]
