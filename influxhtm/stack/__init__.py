"""Launchers for the TICK stack (a private InfluxDB, kapacitord, the UDF server) and the demo's synthetic series."""
