"""influxhtm: HTM anomaly detection for the TICK stack (NuPIC's anomaly model, a Kapacitor UDF, an InfluxDB library).

The InfluxDB object model (`InfluxHtmClient`, `Sensor`, `HtmSensorModel`, `HtmModelResults`) is imported on
first use, so the UDF and the engine face do not load the `influxdb` client.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "InfluxHtmClient": "influxhtm.client",
    "Sensor": "influxhtm.sensor",
    "HtmSensorModel": "influxhtm.sensor_model",
    "HtmModelResults": "influxhtm.results",
}
__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'influxhtm' has no attribute {name!r}")
