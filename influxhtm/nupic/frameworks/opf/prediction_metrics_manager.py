"""NuPIC's ``MetricsManager`` (``nupic.frameworks.opf.prediction_metrics_manager``): computes a model's
metrics record by record from its ``ModelResult``s.

For a temporal model each inference is first lined up with the record it is about (``InferenceShifter``):
the 1-step prediction made at record t - 1 is judged against record t. The ground truth of an inference
element is the ``SensorInput`` attribute it maps to (``InferenceElement.getInputElement``): ``dataRow``,
indexed by the position of the spec's field in the model's ``getFieldInfo()``, or ``dataDict``, by name.
"""

from __future__ import annotations

import copy
from collections import namedtuple
from collections.abc import Sequence
from typing import Any, Optional

from influxhtm.nupic.data.inference_shifter import InferenceShifter
from influxhtm.nupic.frameworks.opf import metrics
from influxhtm.nupic.frameworks.opf.opf_utils import InferenceElement, InferenceType, ModelResult

#: One metric's value with (a copy of) the spec that produced it.
MetricValueElement = namedtuple("MetricValueElement", ["spec", "value"])


class MetricsManager:
    """The metrics of `metricSpecs` for one model, whose fields are `fieldInfo` (``model.getFieldInfo()``)
    and whose inference type is `inferenceType` (``model.getInferenceType()``)."""

    def __init__(self, metricSpecs: Sequence[metrics.MetricSpec], fieldInfo: Sequence[Any], inferenceType: str):
        self._field_index = {info.name: i for i, info in enumerate(fieldInfo)}
        self._specs: list = []
        self._metrics: list = []
        self._labels: list = []
        for spec in metricSpecs or ():
            if not InferenceElement.validate(spec.inferenceElement):
                raise ValueError(f"Invalid inference element for metric spec: {spec!r}")
            self._specs.append(spec)
            self._metrics.append(metrics.getModule(spec))
            self._labels.append(spec.getLabel())  # after getModule, which may add default params
        self._shifter = InferenceShifter() if InferenceType.isTemporal(inferenceType) else None
        self._result: Optional[ModelResult] = None
        self._ground_truth: Optional[ModelResult] = None

    def update(self, results: ModelResult) -> dict:
        """Adds the latest result; returns every metric's value, keyed by label (empty without specs)."""
        self._add_results(results)
        if not self._specs:
            return {}
        for metric, spec in zip(self._metrics, self._specs):
            truth = self._ground_truth_of(spec.inferenceElement)
            inference = self._inference_of(spec.inferenceElement)
            if spec.field:
                inference = self._field_value(inference, spec.field, by_name=False)
                if truth is not None:
                    truth = self._field_value(truth, spec.field, by_name=True)
            metric.addInstance(
                groundTruth=truth,
                prediction=inference,
                record=self._ground_truth.rawInput,  # type: ignore[union-attr]
                result=self._result,
            )
        return self.getMetrics()

    def getMetrics(self) -> dict:
        """Every metric's current value, keyed by label."""
        return {label: metric.getMetric()["value"] for label, metric in zip(self._labels, self._metrics)}

    def getMetricDetails(self, metricLabel: str) -> dict:
        """The full ``getMetric()`` dict (value and stats) of the metric with this label (ValueError if none)."""
        return self._metrics[self._labels.index(metricLabel)].getMetric()

    def getMetricLabels(self) -> tuple:
        """The labels of the metrics, in the order of the specs."""
        return tuple(self._labels)

    def _add_results(self, results: ModelResult) -> None:
        self._ground_truth = copy.deepcopy(results)
        # The result the metrics see shares that copy's input; a temporal model's inferences are shifted.
        self._result = copy.copy(self._ground_truth)
        if self._shifter is not None:
            self._result.inferences = self._shifter.shift(results).inferences

    def _ground_truth_of(self, element: str) -> Any:
        attribute = InferenceElement.getInputElement(element)
        if attribute is None:
            return None
        return getattr(self._ground_truth.sensorInput, attribute)  # type: ignore[union-attr]

    def _inference_of(self, element: str) -> Any:
        inferences = self._result.inferences if self._result is not None else None
        return None if inferences is None else inferences.get(element)

    def _field_value(self, value: Any, field: str, by_name: bool) -> Any:
        """The field's entry of a per-field list (None if the model does not encode the field); a mapping is
        looked up by name when `by_name`; anything else is returned as it is."""
        if isinstance(value, (list, tuple)):
            index = self._field_index.get(field)
            return None if index is None else value[index]
        if by_name:
            return value[field]
        return value
