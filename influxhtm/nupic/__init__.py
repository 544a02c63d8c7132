"""NuPIC 1.0.5's Python API, reimplemented on influxhtm's Rust engine.

This tree mirrors NuPIC's module paths (``nupic.encoders.scalar`` is ``influxhtm.nupic.encoders.scalar``,
with the same class names, argument names and defaults), so a ported program only changes its import
prefix from ``nupic.`` to ``influxhtm.nupic.``.
"""
