"""``nupic.encoders.logarithm`` (NuPIC's own module name for LogEncoder)."""

from influxhtm.nupic.encoders.log import LogEncoder

__all__ = ["LogEncoder"]
