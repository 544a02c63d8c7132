"""NuPIC's OPF result types (``nupic.frameworks.opf.opf_utils``).

``InferenceType`` and ``InferenceElement`` are NuPIC's string enumerations: each constant is a string equal
to its own name (``InferenceType.TemporalAnomaly == "TemporalAnomaly"``), so params dicts and inference
dicts keyed by plain strings work with them. ``ModelResult``, ``SensorInput`` and ``ClassifierInput`` are
the plain records an OPF model returns.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional


class _StringEnum:
    """NuPIC's ``Enum`` helpers over a class whose public string attributes are its values."""

    _values: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._values = tuple(
            value for name, value in vars(cls).items() if not name.startswith("_") and isinstance(value, str)
        )

    @classmethod
    def validate(cls, value: object) -> bool:
        """True if `value` is one of this enumeration's values."""
        return value in cls._values

    @classmethod
    def getValues(cls) -> list[str]:
        """All the values of this enumeration."""
        return list(cls._values)

    @classmethod
    def getLabels(cls) -> list[str]:
        """All the labels (attribute names) of this enumeration; each equals its value."""
        return list(cls._values)

    @classmethod
    def getLabel(cls, value: str) -> str:
        """The label of `value`; KeyError if it is not a value of this enumeration."""
        if value not in cls._values:
            raise KeyError(value)
        return value

    @classmethod
    def getValue(cls, label: str) -> str:
        """The value of `label`; KeyError if it is not a label of this enumeration."""
        return cls.getLabel(label)


class InferenceElement(_StringEnum):
    """The keys of a model's ``inferences`` dict; each entry is one part of the model's inference."""

    prediction = "prediction"
    encodings = "encodings"
    classification = "classification"
    anomalyScore = "anomalyScore"
    anomalyLabel = "anomalyLabel"
    classConfidences = "classConfidences"
    multiStepPredictions = "multiStepPredictions"
    multiStepBestPredictions = "multiStepBestPredictions"
    multiStepBucketLikelihoods = "multiStepBucketLikelihoods"
    multiStepBucketValues = "multiStepBucketValues"

    _INPUT_ELEMENTS: ClassVar[dict[str, str]] = {
        "prediction": "dataRow",
        "encodings": "dataEncodings",
        "classification": "category",
        "classConfidences": "category",
        "multiStepPredictions": "dataDict",
        "multiStepBestPredictions": "dataDict",
    }

    @staticmethod
    def getInputElement(inferenceElement: str) -> Optional[str]:
        """The ``SensorInput`` attribute an inference element is compared against (None if there is none)."""
        return InferenceElement._INPUT_ELEMENTS.get(inferenceElement)

    @staticmethod
    def isTemporal(inferenceElement: str) -> bool:
        """True if this element, made at step t, is about the input of step t + 1 (only ``prediction``).

        As in NuPIC, this is only meaningful for a model whose inference type is temporal.
        """
        return inferenceElement == InferenceElement.prediction

    @staticmethod
    def getTemporalDelay(inferenceElement: str, key: Any = None) -> int:
        """How many records pass between making this inference and the record it is about.

        1 for ``prediction`` and ``encodings``; ``int(key)`` (the step count) for the multi-step
        predictions, best predictions and bucket likelihoods; 0 for everything else.
        """
        if inferenceElement in (InferenceElement.prediction, InferenceElement.encodings):
            return 1
        if inferenceElement in (
            InferenceElement.multiStepPredictions,
            InferenceElement.multiStepBestPredictions,
            InferenceElement.multiStepBucketLikelihoods,
        ):
            return int(key)
        return 0

    @staticmethod
    def getMaxDelay(inferences: dict) -> int:
        """The largest temporal delay over an inferences dict (over every key of dict-valued elements)."""
        delays = [0]
        for element, inference in inferences.items():
            if isinstance(inference, dict):
                delays.extend(InferenceElement.getTemporalDelay(element, key) for key in inference)
            else:
                delays.append(InferenceElement.getTemporalDelay(element))
        return max(delays)


class InferenceType(_StringEnum):
    """What a model infers; the ``inferenceType`` of its params."""

    TemporalNextStep = "TemporalNextStep"
    TemporalClassification = "TemporalClassification"
    NontemporalClassification = "NontemporalClassification"
    TemporalAnomaly = "TemporalAnomaly"
    NontemporalAnomaly = "NontemporalAnomaly"
    TemporalMultiStep = "TemporalMultiStep"
    NontemporalMultiStep = "NontemporalMultiStep"

    @staticmethod
    def isTemporal(inferenceType: str) -> bool:
        """True if the inference type needs a temporal memory.

        As in NuPIC, ``NontemporalMultiStep`` counts as temporal (multi-step prediction needs sequence
        memory); ``NontemporalClassification`` and ``NontemporalAnomaly`` do not.
        """
        return inferenceType in (
            InferenceType.TemporalNextStep,
            InferenceType.TemporalClassification,
            InferenceType.TemporalAnomaly,
            InferenceType.TemporalMultiStep,
            InferenceType.NontemporalMultiStep,
        )


def _describe(obj: object, fields: tuple[str, ...]) -> str:
    """``Name(field=value, ...)`` with one field per line."""
    body = ",\n".join(f"  {name}={getattr(obj, name)!r}" for name in fields)
    return f"{type(obj).__name__}(\n{body}\n)"


class SensorInput:
    """An input record as the sensor saw it, right before encoding.

    `dataRow` is the sensor's mapping of the record (the value each encoder read, in `getFieldInfo()` order),
    `dataDict` the raw record, `dataEncodings` the encodings of the values in `dataRow`, `sequenceReset` the
    sensor's reset signal (0 or 1) and `category` the sensor's category output.
    """

    __slots__ = ("category", "dataDict", "dataEncodings", "dataRow", "sequenceReset")
    _FIELDS = ("dataRow", "dataDict", "dataEncodings", "sequenceReset", "category")

    def __init__(
        self,
        dataRow: Any = None,
        dataDict: Optional[dict] = None,
        dataEncodings: Any = None,
        sequenceReset: Any = None,
        category: Any = None,
    ) -> None:
        self.dataRow = dataRow
        self.dataDict = dataDict
        self.dataEncodings = dataEncodings
        self.sequenceReset = sequenceReset
        self.category = category

    def __repr__(self) -> str:
        return _describe(self, self._FIELDS)

    def _asdict(self) -> dict[str, Any]:
        """The fields as a dict (NuPIC's name, as for a namedtuple)."""
        return {name: getattr(self, name) for name in self._FIELDS}


class ClassifierInput:
    """The classifier's view of an input record: the predicted field's value and its bucket index."""

    __slots__ = ("bucketIndex", "dataRow")
    _FIELDS = ("dataRow", "bucketIndex")

    def __init__(self, dataRow: Any = None, bucketIndex: Optional[int] = None) -> None:
        self.dataRow = dataRow
        self.bucketIndex = bucketIndex

    def __repr__(self) -> str:
        return _describe(self, self._FIELDS)

    def _asdict(self) -> dict[str, Any]:
        """The fields as a dict (NuPIC's name, as for a namedtuple)."""
        return {name: getattr(self, name) for name in self._FIELDS}


class ModelResult:
    """A model's answer for one record: the input, the inferences (keyed by ``InferenceElement``) and the
    metrics. All constructor arguments are keywords with NuPIC's names and default to None."""

    __slots__ = (
        "classifierInput",
        "inferences",
        "metrics",
        "predictedFieldIdx",
        "predictedFieldName",
        "predictionNumber",
        "rawInput",
        "sensorInput",
    )
    _FIELDS = (
        "predictionNumber",
        "rawInput",
        "sensorInput",
        "inferences",
        "metrics",
        "predictedFieldIdx",
        "predictedFieldName",
        "classifierInput",
    )

    def __init__(
        self,
        predictionNumber: Optional[int] = None,
        rawInput: Any = None,
        sensorInput: Optional[SensorInput] = None,
        inferences: Optional[dict] = None,
        metrics: Optional[dict] = None,
        predictedFieldIdx: Optional[int] = None,
        predictedFieldName: Optional[str] = None,
        classifierInput: Optional[ClassifierInput] = None,
    ) -> None:
        self.predictionNumber = predictionNumber
        self.rawInput = rawInput
        self.sensorInput = sensorInput
        self.inferences = inferences
        self.metrics = metrics
        self.predictedFieldIdx = predictedFieldIdx
        self.predictedFieldName = predictedFieldName
        self.classifierInput = classifierInput

    def __repr__(self) -> str:
        return _describe(self, self._FIELDS)
