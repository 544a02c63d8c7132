"""How well the hotgym model predicts the next hour, measured the way NuPIC programs measure it: OPF metric
specs and a MetricsManager. Every 100 rows (and after the last) it prints the model's 1-step error and that of
the trivial predictor ("the next hour repeats this one"), as average absolute error and altMAPE.

    python examples/nupic_hotgym/errors.py [input.csv]
"""

import csv
import datetime
import os
import sys

from model_params import MODEL_PARAMS

from influxhtm.nupic.frameworks.opf.metrics import MetricSpec
from influxhtm.nupic.frameworks.opf.model_factory import ModelFactory
from influxhtm.nupic.frameworks.opf.prediction_metrics_manager import MetricsManager

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT_FILE = os.path.join(HERE, "rec-center-hourly.csv")
PREDICTED_FIELD = "kw_energy_consumption"
DATE_FORMAT = "%m/%d/%y %H:%M"
REPORT_EVERY = 100


def metric_specs():
    """The model's best 1-step prediction and the trivial one, each judged by two error measures."""
    specs = []
    for error in ("aae", "altMAPE"):
        params = {"errorMetric": error, "window": 1000, "steps": 1}
        specs.append(MetricSpec(field=PREDICTED_FIELD, metric="multiStep",
                                inferenceElement="multiStepBestPredictions", params=dict(params)))  # fmt: skip
        specs.append(MetricSpec(field=PREDICTED_FIELD, metric="trivial", inferenceElement="prediction",
                                params=dict(params)))  # fmt: skip
    return specs


def run(input_path=INPUT_FILE):
    model = ModelFactory.create(MODEL_PARAMS)
    model.enableInference({"predictedField": PREDICTED_FIELD})
    specs = metric_specs()
    manager = MetricsManager(specs, model.getFieldInfo(), model.getInferenceType())
    model_aae, trivial_aae, model_mape, trivial_mape = (spec.getLabel() for spec in specs)
    with open(input_path, newline="") as source:
        reader = csv.reader(source)
        for _ in range(3):
            next(reader)
        rows = list(reader)
    for i, row in enumerate(rows, start=1):
        record = {"timestamp": datetime.datetime.strptime(row[0], DATE_FORMAT), PREDICTED_FIELD: float(row[1])}
        result = model.run(record)
        result.metrics = manager.update(result)
        if i % REPORT_EVERY == 0 or i == len(rows):
            m = result.metrics
            print(f"After {i} records, 1-step aae={m[model_aae]:.6f} (trivial {m[trivial_aae]:.6f}), "
                  f"altMAPE={m[model_mape]:.6f} (trivial {m[trivial_mape]:.6f})")  # fmt: skip


if __name__ == "__main__":
    run(*sys.argv[1:2])
