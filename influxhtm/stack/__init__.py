"""Launchers for a local TICK stack (InfluxDB, kapacitord) used by the demo, the end-to-end tests and benchmarks.

Modules: `kapacitord` (find/build and run a real kapacitord), `influxd` (run InfluxDB 1.x),
`synthetic` (a labelled synthetic series).
"""
