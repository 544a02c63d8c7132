"""The engine's light OPF face for NAB-shaped models (timestamp + one RDSE value): `ModelFactory.create(params)`,
`model.run(record)` → `ModelResult`. The complete OPF of NuPIC (models of any shape, the whole Model API,
NuPIC's module paths) is `influxhtm.nupic.frameworks.opf`; this face stays because it imports no numpy.

NuPIC code for such models ports unchanged: `result.inferences["anomalyScore"]` is the raw anomaly score (a float32, as
in NuPIC), `multiStepBestPredictions` / `multiStepPredictions` appear when the classifier is on, and
`anomalyLikelihood` / `logLikelihood` (our additions) after `model.enableLikelihood()`.

numpy (for the float32 raw score) is imported on the first result, so that importing the engine face does
not import it: the UDF server starts with the engine and protobuf only.
"""

import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from influxhtm import _engine
from influxhtm._engine import InvalidParams
from influxhtm.fileio import write_atomically
from influxhtm.htm.likelihood import AnomalyLikelihood
from influxhtm.htm.params import DEFAULT_TAIL, HISTORIC_WINDOW_SIZE, REESTIMATION_PERIOD, engine_config
from influxhtm.htm.timestamps import wall_clock_seconds


def _float32(value: float) -> Any:
    """`numpy.float32(value)`, NuPIC's type for the raw score; numpy is imported on first use."""
    import numpy

    return numpy.float32(value)


@dataclass
class ModelResult:
    """What `model.run()` returns (NuPIC's `ModelResult` fields that carry meaning here)."""

    predictionNumber: int
    rawInput: dict
    inferences: dict
    predictedFieldName: Optional[str] = None
    predictedFieldIdx: Optional[int] = None
    classifierInput: Any = None
    metrics: Any = None
    sensorInput: Any = field(default=None, repr=False)


class HTMPredictionModel:
    """A TemporalAnomaly model. Create it with `ModelFactory.create(params)`."""

    def __init__(self, params: dict, _engine_model=None):
        self._params = params
        config, self._value_field, self._date_field = engine_config(params)
        self._predicted_field: Optional[str] = None
        self._likelihood: Optional[AnomalyLikelihood] = None
        self._steps = [
            int(s) for s in str(params.get("modelParams", params).get("clParams", {}).get("steps", "1")).split(",")
        ]
        if _engine_model is None:
            _engine_model = _engine.Model(config)
        self._model = _engine_model

    def enableInference(self, inferenceArgs: dict) -> None:
        """NuPIC's `enableInference({"predictedField": "value"})`."""
        predicted = (inferenceArgs or {}).get("predictedField")
        if predicted is not None and predicted != self._value_field:
            raise InvalidParams(
                f"predictedField {predicted!r} has no value encoder (the model encodes {self._value_field!r})"
            )
        self._predicted_field = predicted

    def enableLikelihood(
        self,
        learningPeriod: int = 288,
        estimationSamples: int = 100,
        historicWindowSize: int = HISTORIC_WINDOW_SIZE,
        reestimationPeriod: int = REESTIMATION_PERIOD,
        tail: str = DEFAULT_TAIL,
    ) -> None:
        """Adds `anomalyLikelihood` and `logLikelihood` to every result (NuPIC's AnomalyLikelihood)."""
        self._likelihood = AnomalyLikelihood(
            learningPeriod=learningPeriod,
            estimationSamples=estimationSamples,
            historicWindowSize=historicWindowSize,
            reestimationPeriod=reestimationPeriod,
            tail=tail,
        )

    def getInferenceType(self) -> str:
        return "TemporalAnomaly"

    def run(self, inputRecord: dict) -> ModelResult:
        """Feeds one record `{"timestamp": datetime, "<field>": float}` and returns its ModelResult."""
        if self._date_field is not None and self._date_field not in inputRecord:
            raise InvalidParams(f"record has no {self._date_field!r} field")
        if self._value_field not in inputRecord:
            raise InvalidParams(f"record has no {self._value_field!r} field")
        value = inputRecord[self._value_field]
        value = math.nan if value is None else float(value)
        timestamp_s = wall_clock_seconds(inputRecord[self._date_field]) if self._date_field else 0
        number = self._model.record_num
        step = self._model.run(timestamp_s, value)
        inferences: dict[str, Any] = {"anomalyScore": _float32(step.raw_score), "anomalyLabel": "[]"}
        if step.best_prediction is not None:
            horizon = self._steps[0]
            inferences["multiStepBestPredictions"] = {horizon: step.best_prediction}
            inferences["multiStepPredictions"] = {horizon: dict(step.predictions)}
        if self._likelihood is not None:
            likelihood = self._likelihood.anomalyProbability(
                value, float(step.raw_score), inputRecord.get(self._date_field)
            )
            inferences["anomalyLikelihood"] = likelihood
            inferences["logLikelihood"] = AnomalyLikelihood.computeLogLikelihood(likelihood)
        return ModelResult(
            predictionNumber=number,
            rawInput=inputRecord,
            inferences=inferences,
            predictedFieldName=self._predicted_field,
            classifierInput=(value, step.bucket) if self._predicted_field else (None, None),
        )

    def save(self, path: Optional[str] = None) -> bytes:
        """The model's state as a versioned, checksummed blob; with `path`, also written there atomically."""
        face = {
            "params": self._params,
            "predictedField": self._predicted_field,
            "likelihood": self._likelihood.save().hex() if self._likelihood else None,
        }
        self._model.settings = json.dumps(face)
        blob = self._model.save()
        if path is not None:
            write_atomically(path, blob)
        return blob

    @classmethod
    def load(cls, source) -> "HTMPredictionModel":
        """Loads a model from `save()` bytes or a file path; CorruptState (a ValueError) if it is not one."""
        if isinstance(source, (bytes, bytearray)):
            blob = source
        else:
            with open(source, "rb") as f:
                blob = f.read()
        engine_model = _engine.Model.load(bytes(blob))
        face = json.loads(engine_model.settings)
        model = cls(face["params"], _engine_model=engine_model)
        model._predicted_field = face.get("predictedField")
        if face.get("likelihood"):
            model._likelihood = AnomalyLikelihood.load(bytes.fromhex(face["likelihood"]))
        return model


class ModelFactory:
    """NuPIC's entry point: `ModelFactory.create(params)`."""

    @staticmethod
    def create(modelConfig: dict) -> HTMPredictionModel:
        return HTMPredictionModel(modelConfig)

    @staticmethod
    def loadFromCheckpoint(path: str) -> HTMPredictionModel:
        return HTMPredictionModel.load(path)
