"""influxhtm: HTM anomaly detection for the TICK stack (NuPIC's anomaly model, a Kapacitor UDF, an InfluxDB library)."""

__version__ = "0.1.0"
