"""Launchers for the servers influxhtm works with (InfluxDB, Kapacitor) in tests and demos."""
