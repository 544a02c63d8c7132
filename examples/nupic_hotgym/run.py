"""Anomaly scores and one-step predictions for a recreation centre's hourly energy use, written the way a
NuPIC program is: a params dict, ModelFactory, a run loop, InferenceShifter and AnomalyLikelihood. Only the
import prefix (`influxhtm.nupic.` for `nupic.`) says that it runs on influxhtm.

    python examples/nupic_hotgym/run.py [input.csv] [output.csv]
"""

import csv
import datetime
import os
import sys

from model_params import MODEL_PARAMS

from influxhtm.nupic.algorithms import anomaly_likelihood
from influxhtm.nupic.data.inference_shifter import InferenceShifter
from influxhtm.nupic.frameworks.opf.model_factory import ModelFactory

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT_FILE = os.path.join(HERE, "rec-center-hourly.csv")
PREDICTED_FIELD = "kw_energy_consumption"
DATE_FORMAT = "%m/%d/%y %H:%M"


def create_model():
    """The tutorial's model, predicting the energy reading one hour ahead."""
    model = ModelFactory.create(MODEL_PARAMS)
    model.enableInference({"predictedField": PREDICTED_FIELD})
    return model


def run(input_path=INPUT_FILE, output_path="hotgym_out.csv"):
    """Feeds every row of `input_path` (NuPIC's three-line CSV header) to the model and writes, per row,
    the value, the prediction made for it one hour earlier, the raw anomaly score and its likelihood."""
    model = create_model()
    shifter = InferenceShifter()
    likelihood = anomaly_likelihood.AnomalyLikelihood()
    with open(input_path, newline="") as source, open(output_path, "w", newline="") as sink:
        reader = csv.reader(source)
        for _ in range(3):
            next(reader)
        writer = csv.writer(sink)
        writer.writerow(["timestamp", PREDICTED_FIELD, "prediction", "anomaly_score", "anomaly_likelihood"])
        for row in reader:
            timestamp = datetime.datetime.strptime(row[0], DATE_FORMAT)
            value = float(row[1])
            result = model.run({"timestamp": timestamp, PREDICTED_FIELD: value})
            score = result.inferences["anomalyScore"]
            probability = likelihood.anomalyProbability(value, score, timestamp)
            prediction = shifter.shift(result).inferences["multiStepBestPredictions"][1]
            writer.writerow([row[0], value, "" if prediction is None else repr(prediction), repr(float(score)),
                             repr(probability)])  # fmt: skip
    print(f"wrote {output_path}", file=sys.stderr)


if __name__ == "__main__":
    run(*sys.argv[1:3])
