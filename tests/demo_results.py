"""The demo's results in a real InfluxDB, for tests of what operators look at (dashboards, the live view).

The demo's synthetic series (influxhtm.stack.synthetic) is written as measurement ``synthetic``, tag
``host=demo``, field ``value``, and scored by the library into ``synthetic_htm`` with the demo's
probation (NAB's rule), so the results carry every field of the result schema.
"""

from __future__ import annotations

from influxhtm import InfluxHtmClient
from influxhtm.htm.params import nab_probation
from influxhtm.stack import synthetic
from influxhtm.stack.synthetic import SyntheticSeries

DEMO_MEASUREMENT = "synthetic"
DEMO_HOST = "demo"
DEMO_FIELD = "value"


def load_demo_results(client: InfluxHtmClient, *, days: int = 14) -> SyntheticSeries:
    """Write the synthetic series into ``client``'s database and score it there; returns the series."""
    series = synthetic.generate(days=days)
    sensor = client.get_sensor(DEMO_MEASUREMENT, DEMO_HOST, tag_key="host", field=DEMO_FIELD)
    sensor.write(zip(series.timestamps, series.values))
    lo, hi = series.value_range
    probation = nab_probation(len(series.values))
    model = sensor.get_model(min_value=lo, max_value=hi, probation=probation, prediction_steps=1)
    model.backfill(progress=False)
    return series
