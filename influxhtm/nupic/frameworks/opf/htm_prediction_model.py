"""``nupic.frameworks.opf.htm_prediction_model``: NuPIC's OPF model on influxhtm's engine.

Any shape NuPIC's OPF builds from a params dict: several encoded fields (MultiEncoder order = sorted
encoder keys), fields encoded but not predicted, a ``classifierOnly`` encoder for the predicted field,
inference types TemporalAnomaly, TemporalMultiStep and NontemporalAnomaly, multi-step SDR classifier
predictions. The engine model is built on the first record (or save), once ``enableInference`` has named
the predicted field, because the classifier's input depends on it.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Optional

import numpy

from influxhtm import _engine
from influxhtm._engine import InvalidParams
from influxhtm.fileio import write_atomically
from influxhtm.htm.likelihood import AnomalyLikelihood
from influxhtm.htm.params import (
    DEFAULT_TAIL,
    HISTORIC_WINDOW_SIZE,
    REESTIMATION_PERIOD,
    classifier_params,
    sequence_memory_params,
    spatial_pooler_params,
)
from influxhtm.nupic.data.field_meta import FieldMetaInfo, FieldMetaSpecial
from influxhtm.nupic.frameworks.opf.opf_utils import (
    ClassifierInput,
    InferenceType,
    ModelResult,
    SensorInput,
)
from influxhtm.nupic.frameworks.opf.sensor_params import TEXT, TIME, SensorSpec, record_values, sensor_spec

#: The inference types this model runs.
SUPPORTED_INFERENCE_TYPES = (
    InferenceType.TemporalAnomaly,
    InferenceType.TemporalMultiStep,
    InferenceType.NontemporalAnomaly,
)
#: The OPF `model` kinds NuPIC's ModelFactory knows; only HTMPrediction is supported here.
_MODEL_KINDS = ("HTMPrediction", "CLA", "TwoGram", "PreviousValue")
#: The KNN anomaly classifier's label once a record is past `autoDetectWaitRecords` and over the threshold.
AUTO_THRESHOLD_LABEL = "['Auto Threshold Classification']"
#: Anomaly parameters and NuPIC's KNN anomaly classifier names for them.
_ANOMALY_PARAMETERS = {
    "autoDetectWaitRecords": "autoDetectWaitRecords",
    "trainRecords": "autoDetectWaitRecords",
    "autoDetectThreshold": "autoDetectThreshold",
    "anomalyThreshold": "autoDetectThreshold",
}
#: The file `save(saveModelDir)` writes inside the directory.
CHECKPOINT_FILE = "model.ihtm"


def _model_params(params: dict) -> dict:
    """`modelParams` of a full OPF config (or the dict itself when it already is one)."""
    if not isinstance(params, dict):
        raise InvalidParams("params must be an OPF model config dict")
    kind = params.get("model", "HTMPrediction")
    if kind not in ("HTMPrediction", "CLA"):
        known = "a NuPIC model kind" if kind in _MODEL_KINDS else "not a NuPIC model kind"
        raise InvalidParams(f"model {kind!r} is not supported ({known}; only 'HTMPrediction')")
    model_params = params.get("modelParams", params)
    if not isinstance(model_params, dict):
        raise InvalidParams("params['modelParams'] must be a dict")
    return model_params


def _refuse_unsupported(model_params: dict) -> None:
    """Refuses, by name, the OPF options whose behaviour influxhtm does not reproduce."""
    if model_params.get("spEnable", True) is False:
        raise InvalidParams("spEnable=False is not supported (the spatial pooler is always on)")
    if model_params.get("tmEnable", True) is False:
        raise InvalidParams("tmEnable=False is not supported (the sequence memory is always on)")
    if model_params.get("trainSPNetOnlyIfRequested"):
        raise InvalidParams("trainSPNetOnlyIfRequested=True is not supported")
    sensor = model_params.get("sensorParams", {})
    if sensor.get("sensorAutoReset"):
        raise InvalidParams("sensorParams.sensorAutoReset is not supported")
    cl = model_params.get("clParams", {}) or {}
    region = cl.get("regionName", "SDRClassifierRegion")
    if region != "SDRClassifierRegion":
        raise InvalidParams(f"clParams.regionName {region!r} is not supported (only 'SDRClassifierRegion')")


class HTMPredictionModel:
    """NuPIC's HTMPredictionModel. Create it with `ModelFactory.create(params)`."""

    def __init__(self, params: dict):
        model_params = _model_params(params)
        _refuse_unsupported(model_params)
        inference = model_params.get("inferenceType", InferenceType.TemporalAnomaly)
        if inference not in SUPPORTED_INFERENCE_TYPES:
            raise InvalidParams(
                f"inferenceType {inference!r} is not supported (supported: {', '.join(SUPPORTED_INFERENCE_TYPES)})"
            )
        self._params = params
        self._inference_type: str = inference
        self._sensor: SensorSpec = sensor_spec(model_params.get("sensorParams", {}).get("encoders"))
        self._sp = spatial_pooler_params(model_params)
        self._memory = sequence_memory_params(model_params, self._sp["column_count"])
        self._classifier = classifier_params(model_params, enabled_by_default=True)
        anomaly = model_params.get("anomalyParams") or {}
        self._anomaly = {
            "autoDetectWaitRecords": anomaly.get("autoDetectWaitRecords"),
            "autoDetectThreshold": anomaly.get("autoDetectThreshold"),
        }
        self._inference_args: dict = {}
        self._learning = True
        self._likelihood: Optional[AnomalyLikelihood] = None
        self._engine: Optional[_engine.Model] = None
        self._bucket_of: Any = None  # the classifier encoder's bucket function, set with the engine

    # ---- NuPIC's Model API ----------------------------------------------------------------------

    def getInferenceType(self) -> str:
        return self._inference_type

    def enableInference(self, inferenceArgs: Optional[dict] = None) -> None:
        """Sets the inference args; `predictedField` names the field the classifier predicts."""
        args = dict(inferenceArgs or {})
        predicted = args.get("predictedField")
        if predicted is not None:
            self._sensor.field_position(predicted)
        if self._engine is not None and predicted != self._inference_args.get("predictedField"):
            raise InvalidParams("the predicted field cannot change once the model has run")
        self._inference_args = args

    def getInferenceArgs(self) -> dict:
        return dict(self._inference_args)

    def enableLearning(self) -> None:
        self._learning = True

    def disableLearning(self) -> None:
        self._learning = False

    def isLearningEnabled(self) -> bool:
        return self._learning

    def isInferenceEnabled(self) -> bool:
        return True

    def resetSequenceStates(self) -> None:
        """NuPIC's reset: the sequence memory forgets the current sequence."""
        self._model().reset()

    def getFieldInfo(self, includeClassifierOnlyField: bool = False) -> tuple:
        """One FieldMetaInfo per encoded field, in the sensor's order."""
        kinds = {TIME: "datetime", TEXT: "string"}
        out = []
        for key, idx, _encoder, only in self._sensor.encoders:
            if only and not includeClassifierOnlyField:
                continue
            field = self._sensor.fields[idx]
            special = FieldMetaSpecial.timestamp if field.kind == TIME else FieldMetaSpecial.none
            out.append(FieldMetaInfo(name=key, type=kinds.get(field.kind, "float"), special=special))
        return tuple(out)

    def getAnomalyParameter(self, param: str) -> Any:
        return self._anomaly[self._anomaly_key(param)]

    def setAnomalyParameter(self, param: str, value: Any) -> None:
        key = self._anomaly_key(param)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidParams(f"{param} must be a number or None, got {value!r}")
        self._anomaly[key] = value

    @staticmethod
    def _anomaly_key(param: str) -> str:
        if param not in _ANOMALY_PARAMETERS:
            raise InvalidParams(f"unknown anomaly parameter {param!r} (known: {', '.join(_ANOMALY_PARAMETERS)})")
        return _ANOMALY_PARAMETERS[param]

    # ---- influxhtm's addition: the likelihood in every result -----------------------------------

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

    # ---- running ---------------------------------------------------------------------------------

    def _model(self) -> _engine.Model:
        if self._engine is None:
            encoders = self._sensor.engine_encoders(self._inference_args.get("predictedField"))
            config = _engine.ModelConfig(
                encoders=encoders, sp=self._sp, sequence_memory=self._memory, classifier=self._classifier
            )
            self._attach(_engine.Model(config))
        assert self._engine is not None
        return self._engine

    def _attach(self, engine: _engine.Model) -> None:
        """Uses `engine` as this model's engine (built or loaded)."""
        self._engine = engine
        encoder = self._classifier_encoder()
        self._bucket_of = None if encoder is None else encoder._engine.bucket_index

    def run(self, inputRecord: dict) -> ModelResult:
        """Feeds one record (a dict of field name → value) and returns its ModelResult."""
        predicted = self._inference_args.get("predictedField")
        if self._inference_type == InferenceType.TemporalAnomaly and predicted not in inputRecord:
            raise ValueError(f"Expected predicted field '{predicted}' in input row, but was not found!")
        values = record_values(self._sensor, inputRecord)
        model = self._model()
        number = model.record_num
        step, _ = model.run_record(values, self._learning)
        inferences: dict[str, Any] = {}
        if self._inference_type == InferenceType.TemporalAnomaly:
            inferences["anomalyScore"] = numpy.float32(step.raw_score)
        elif self._inference_type == InferenceType.NontemporalAnomaly:
            inferences["anomalyScore"] = numpy.float32(0.0)  # NuPIC's SP region reports 0 (an obsolete output)
        if "anomalyScore" in inferences:
            inferences["anomalyLabel"] = self._anomaly_label(number, float(inferences["anomalyScore"]))
        multi_step = step.multi_step  # converted anew on every read
        if multi_step and predicted is not None:
            inferences["multiStepPredictions"] = {s: dict(preds) for s, _, preds in multi_step}
            inferences["multiStepBestPredictions"] = {s: best for s, best, _ in multi_step}
            buckets = self._bucket_likelihoods(inferences["multiStepPredictions"])
            if buckets is not None:
                inferences["multiStepBucketLikelihoods"] = buckets
        if self._likelihood is not None and predicted is not None:
            value = inputRecord.get(predicted)
            likelihood = self._likelihood.anomalyProbability(
                math.nan if value is None else value, float(step.raw_score), self._timestamp(inputRecord)
            )
            inferences["anomalyLikelihood"] = likelihood
            inferences["logLikelihood"] = AnomalyLikelihood.computeLogLikelihood(likelihood)
        classifier_input = ClassifierInput(dataRow=None, bucketIndex=None)
        if predicted is not None and step.bucket is not None:
            classifier_input = ClassifierInput(dataRow=inputRecord[predicted], bucketIndex=step.bucket)
        return ModelResult(
            predictionNumber=number,
            rawInput=inputRecord,
            sensorInput=SensorInput(
                dataRow=self._data_row(inputRecord),
                dataDict=dict(inputRecord),
                dataEncodings=None,
                sequenceReset=0,
                category=-1,
            ),
            inferences=inferences,
            metrics=None,
            predictedFieldIdx=None,
            predictedFieldName=predicted,
            classifierInput=classifier_input,
        )

    def _data_row(self, record: dict) -> list:
        """NuPIC's ``sensorInput.dataRow``: the value each encoder read, in ``getFieldInfo()`` order."""
        fields = self._sensor.fields
        return [record.get(fields[idx].name) for _, idx, _encoder, only in self._sensor.encoders if not only]

    def _anomaly_label(self, number: int, score: float) -> str:
        """The KNN anomaly classifier's label: none until `autoDetectWaitRecords` records have passed,
        then the auto-threshold label for every score at or above `autoDetectThreshold` (default 0)."""
        wait = self._anomaly["autoDetectWaitRecords"]
        if wait is None or number < wait:
            return "[]"
        threshold = self._anomaly["autoDetectThreshold"] or 0.0
        return AUTO_THRESHOLD_LABEL if score >= threshold else "[]"

    def _bucket_likelihoods(self, predictions: dict) -> Optional[dict]:
        """NuPIC's `multiStepBucketLikelihoods`: each predicted value's probability under its bucket of the
        classifier's encoder (only for encoders whose bucket is a pure function of the value)."""
        bucket_of = self._bucket_of
        if bucket_of is None:
            return None
        return {s: {bucket_of(v): p for v, p in by_value.items()} for s, by_value in predictions.items()}

    def _classifier_encoder(self) -> Any:
        from influxhtm.nupic.encoders import CategoryEncoder, LogEncoder, ScalarEncoder

        predicted = self._inference_args.get("predictedField")
        if predicted is None:
            return None
        idx = self._sensor.field_position(predicted)
        candidates = [(only, enc) for _, i, enc, only in self._sensor.encoders if i == idx]
        candidates.sort(key=lambda c: not c[0])  # a classifierOnly encoder first
        if not candidates:
            return None
        encoder = candidates[0][1]
        return encoder if isinstance(encoder, (ScalarEncoder, LogEncoder, CategoryEncoder)) else None

    def _timestamp(self, record: dict) -> Any:
        for f in self._sensor.fields:
            if f.kind == TIME:
                return record.get(f.name)
        return None

    # ---- persistence -----------------------------------------------------------------------------

    def save(self, saveModelDir: Optional[str] = None) -> bytes:
        """The model's state as a versioned, checksummed blob; with `saveModelDir`, also written (atomically)
        to `saveModelDir/model.ihtm` (the directory is created), which `ModelFactory.loadFromCheckpoint`
        reads."""
        model = self._model()
        model.settings = json.dumps(
            {
                "params": self._params,
                "inferenceArgs": self._inference_args,
                "learning": self._learning,
                "anomaly": self._anomaly,
                "likelihood": self._likelihood.save().hex() if self._likelihood else None,
            }
        )
        blob = model.save()
        if saveModelDir is not None:
            os.makedirs(saveModelDir, exist_ok=True)
            write_atomically(os.path.join(saveModelDir, CHECKPOINT_FILE), blob)
        return blob

    @classmethod
    def load(cls, source: Any) -> HTMPredictionModel:
        """A model from `save()` bytes, a checkpoint directory or a file; CorruptState if it is not one."""
        if isinstance(source, (bytes, bytearray)):
            blob = bytes(source)
        else:
            path = os.path.join(source, CHECKPOINT_FILE) if os.path.isdir(source) else source
            with open(path, "rb") as f:
                blob = f.read()
        engine_model = _engine.Model.load(blob)
        face = json.loads(engine_model.settings)
        model = cls(face["params"])
        model._inference_args = face["inferenceArgs"]
        model._learning = face["learning"]
        model._anomaly = face["anomaly"]
        if face.get("likelihood"):
            model._likelihood = AnomalyLikelihood.load(bytes.fromhex(face["likelihood"]))
        model._attach(engine_model)
        return model
