"""NuPIC's OPF error metrics (``nupic.frameworks.opf.metrics``): ``MetricSpec`` names a metric, ``getModule``
builds it, and ``addInstance(groundTruth, prediction)`` feeds it one record.

Most metrics are averages over a sliding window of the last ``params["window"]`` records (over every record
without a window). The "uber" metrics (``multiStep``, ``multiStepProbability``, ``trivial``, ``moving_mean``,
``moving_mode``) compute a prediction or pick one and hand it to the metric named by ``params["errorMetric"]``.
Values follow NuPIC 1.0.5, quirks included: ``multiStep`` reports 0 until it has a prediction, and ``altMAPE``
takes a dropped record's signed ground truth off its running sum of absolute ground truths.
"""

from __future__ import annotations

import collections
import copy
from typing import Any, Callable, Optional

import numpy

from influxhtm.nupic.frameworks.opf.opf_utils import InferenceType

#: NuPIC's marker of a missing value (``nupic.data.SENTINEL_VALUE_FOR_MISSING_DATA``).
SENTINEL_VALUE_FOR_MISSING_DATA = None

#: Params left out of a label (NuPIC omits the custom metric's source code).
_UNLABELLED_PARAMS = ("customFuncSource", "customFuncDef", "customExpr")


class MetricSpec:
    """One metric to compute: its name (``metric``), the inference element it judges (e.g.
    ``"multiStepBestPredictions"``), the field, and the metric's ``params`` (``window``, ``steps``,
    ``errorMetric``, ...)."""

    _LABEL_SEPARATOR = ":"

    def __init__(self, metric: str, inferenceElement: str, field: Optional[str] = None, params: Optional[dict] = None):
        self.metric = metric
        self.inferenceElement = inferenceElement
        self.field = field
        self.params = params

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metric={self.metric!r}, inferenceElement={self.inferenceElement!r}, "
            f"field={self.field!r}, params={self.params!r})"
        )

    def getLabel(self, inferenceType: Optional[str] = None) -> str:
        """``[inferenceType:]element:metric(:param=value)*[:field=name]``, params in sorted order, string
        values quoted: e.g. ``multiStepBestPredictions:multiStep:errorMetric='aae':steps=1:window=1000:field=x``."""
        parts = [] if inferenceType is None else [InferenceType.getLabel(inferenceType)]
        parts += [self.inferenceElement, self.metric]
        for name in sorted(self.params or {}):
            if name in _UNLABELLED_PARAMS:
                continue
            value = self.params[name]  # type: ignore[index]
            parts.append(f"{name}='{value}'" if isinstance(value, str) else f"{name}={value}")
        if self.field:
            parts.append(f"field={self.field}")
        return self._LABEL_SEPARATOR.join(parts)

    @classmethod
    def getInferenceTypeFromLabel(cls, label: str) -> Optional[str]:
        """The inference type a label starts with, or None if it does not start with one."""
        head = label.partition(cls._LABEL_SEPARATOR)[0]
        return head if InferenceType.validate(head) else None


def _params_of(spec: MetricSpec) -> dict:
    """The spec's params as a dict (an empty one for None), so a metric can write its defaults into it as NuPIC's
    do."""
    if spec.params is None:
        spec.params = {}
    return spec.params


class MetricsIface:
    """A metric: compares each record's ground truth with a prediction and keeps a running figure."""

    def addInstance(self, groundTruth: Any, prediction: Any, record: Any = None, result: Any = None) -> Any:
        """Adds one record; returns the metric's value after it."""
        raise NotImplementedError

    def getMetric(self) -> dict:
        """``{"value": <current value>, "stats": {...}}``."""
        raise NotImplementedError


class _MovingAverage:
    """The mean of the last `window` values given to it (NuPIC's ``MovingAverage`` used as a callable)."""

    def __init__(self, window: int):
        self._values: collections.deque = collections.deque(maxlen=window)

    def __call__(self, value: float) -> float:
        self._values.append(value)
        return sum(self._values) / len(self._values)


class _MovingMode:
    """Predicts the most frequent of the last `window` values seen before the current one ("" at first)."""

    def __init__(self, window: int):
        self._window = window
        self._counts: collections.Counter = collections.Counter()
        self._history: collections.deque = collections.deque()

    def __call__(self, value: Any) -> Any:
        mode = max(self._counts.items(), key=lambda item: item[1])[0] if self._counts else ""
        self._history.append(value)
        self._counts[value] += 1
        if len(self._history) > self._window:
            self._counts[self._history.popleft()] -= 1
        return mode


class AggregateMetric(MetricsIface):
    """A metric that accumulates an error per record and reports an aggregate of it.

    Reads the params NuPIC's metrics share: ``window`` (keep the last N records), ``steps`` (how many records
    back the ground truth is compared), ``errorMetric`` (the metric an "uber" metric hands its prediction to,
    one per step), ``maxRecords`` (stop changing after N records), ``id`` and ``verbosity``.
    """

    def __init__(self, metricSpec: MetricSpec):
        params = _params_of(metricSpec)
        self.spec = metricSpec
        self.id = params.get("id")
        self.verbosity = params.get("verbosity", 0)
        self.window = -1
        self.history: Optional[collections.deque] = None
        self.accumulatedError: Any = 0
        self.aggregateError: Any = None
        self.steps = 0
        steps = params.get("steps", [0])
        self._predictionSteps: list = list(steps) if isinstance(steps, (list, tuple)) else [steps]
        self._groundTruthHistory: collections.deque = collections.deque()
        self._subErrorMetrics: Optional[list] = None
        self._maxRecords = params.get("maxRecords")
        if "window" in params:
            if not params["window"] >= 1:
                raise ValueError(f"a metric's window must be at least 1, got {params['window']!r}")
            self.history = collections.deque()
            self.window = params["window"]
        if "errorMetric" in params:
            self._subErrorMetrics = []
            for _ in self._predictionSteps:
                sub = copy.deepcopy(metricSpec)
                _params_of(sub).pop("steps", None)
                sub.metric = _params_of(sub).pop("errorMetric")
                self._subErrorMetrics.append(getModule(sub))

    def _getShiftedGroundTruth(self, groundTruth: Any) -> Any:
        """Remembers `groundTruth` and returns the one from ``steps`` records ago (None, or a list of None for a
        list, until there is one)."""
        if len(self._predictionSteps) != 1:
            raise ValueError("shifting the ground truth needs exactly one prediction step")
        self._groundTruthHistory.append(groundTruth)
        if len(self._groundTruthHistory) > self._predictionSteps[0]:
            return self._groundTruthHistory.popleft()
        if isinstance(groundTruth, (list, tuple)):
            return [None] * len(groundTruth)
        return None

    def _require_error_metric(self) -> list:
        """The sub-metrics of an "uber" metric; ValueError when its params name none."""
        if self._subErrorMetrics is None:
            raise ValueError(
                f"metric {self.spec.metric!r} needs the name of another metric in its 'errorMetric' parameter"
            )
        return self._subErrorMetrics

    def error(self, groundTruth: Any, prediction: Any, result: Any) -> Optional[float]:
        """One record's error (None: the record adds nothing)."""
        raise NotImplementedError

    def aggregate(self, accumulatedError: Any, historyBuffer: Optional[collections.deque], steps: int) -> Any:
        """The reported value: by default the mean error over the window (over every record without one);
        unchanged while no record has counted."""
        n = steps if historyBuffer is None else len(historyBuffer)
        return self.aggregateError if n == 0 else accumulatedError / float(n)

    def accumulate(self, groundTruth, prediction, accumulatedError, historyBuffer, result=None):
        """The running sum after adding this record's error (and dropping the one that left the window)."""
        error = self.error(groundTruth, prediction, result)
        if error is None:
            return accumulatedError
        accumulatedError += error
        if historyBuffer is not None:
            historyBuffer.append(error)
            if len(historyBuffer) > self.window:
                accumulatedError -= historyBuffer.popleft()
        return accumulatedError

    def addInstance(self, groundTruth, prediction, record=None, result=None):
        if self._subErrorMetrics is not None or self._predictionSteps != [0]:
            raise ValueError(f"metric {self.spec.metric!r} takes neither 'steps' nor 'errorMetric'")
        if groundTruth is SENTINEL_VALUE_FOR_MISSING_DATA or prediction is None:
            return self.aggregateError
        if self._maxRecords is not None and self.steps >= self._maxRecords:
            return self.aggregateError
        self.accumulatedError = self.accumulate(groundTruth, prediction, self.accumulatedError, self.history, result)
        self.steps += 1
        self.aggregateError = self.aggregate(self.accumulatedError, self.history, self.steps)
        return self.aggregateError

    def getMetric(self) -> dict:
        return {"value": self.aggregateError, "stats": {"steps": self.steps}}


class MetricRMSE(AggregateMetric):
    """Root-mean-square error."""

    def error(self, groundTruth, prediction, result):
        return (groundTruth - prediction) ** 2

    def aggregate(self, accumulatedError, historyBuffer, steps):
        return float(numpy.sqrt(super().aggregate(accumulatedError, historyBuffer, steps)))


class MetricNRMSE(MetricRMSE):
    """RMSE divided by the standard deviation of every ground truth seen (inf while that is 0)."""

    def __init__(self, metricSpec: MetricSpec):
        super().__init__(metricSpec)
        self.groundTruths: list = []

    def error(self, groundTruth, prediction, result):
        self.groundTruths.append(groundTruth)
        return super().error(groundTruth, prediction, result)

    def aggregate(self, accumulatedError, historyBuffer, steps):
        spread = numpy.std(self.groundTruths)
        rmse = super().aggregate(accumulatedError, historyBuffer, steps)
        return rmse / spread if spread > 0 else float("inf")


class MetricAAE(AggregateMetric):
    """Average absolute error."""

    def error(self, groundTruth, prediction, result):
        return abs(groundTruth - prediction)


class MetricAccuracy(AggregateMetric):
    """Share of records whose prediction equals the ground truth exactly."""

    def error(self, groundTruth, prediction, result):
        return 1.0 if groundTruth == prediction else 0.0


class MetricAveError(AggregateMetric):
    """Share of records whose prediction differs from the ground truth (1 - accuracy)."""

    def error(self, groundTruth, prediction, result):
        return 1.0 if groundTruth != prediction else 0.0


class MetricNegativeLogLikelihood(AggregateMetric):
    """Mean of -log(probability the classifier gave the true bucket), summed over the predicted steps; a
    probability below 1e-5 counts as 1e-5, a bucket not predicted gets the probability left over."""

    _MIN_PROBABILITY = 0.00001

    def error(self, groundTruth, prediction, result):
        truth = result.classifierInput.bucketIndex
        if truth is None:
            return None
        total = 0.0
        for by_bucket in result.inferences["multiStepBucketLikelihoods"].values():
            probability = by_bucket.get(truth, 1 - sum(by_bucket.values()))
            total -= float(numpy.log(max(probability, self._MIN_PROBABILITY)))
        return total


class MetricAltMAPE(AggregateMetric):
    """100 x (sum of absolute errors) / (sum of absolute ground truths) over the window (0 while the latter is
    not positive): unlike MAPE, a few ground truths near zero do not dominate it."""

    def __init__(self, metricSpec: MetricSpec):
        super().__init__(metricSpec)
        self._accumulatedGroundTruth = 0.0
        self._accumulatedError = 0.0

    def addInstance(self, groundTruth, prediction, record=None, result=None):
        if groundTruth is SENTINEL_VALUE_FOR_MISSING_DATA or prediction is None:
            return self.aggregateError
        error = abs(groundTruth - prediction)
        if self.history is not None:
            self.history.append((groundTruth, error))
            if len(self.history) > self.window:
                old_truth, old_error = self.history.popleft()
                self._accumulatedGroundTruth -= old_truth  # NuPIC drops the signed value it added as abs()
                self._accumulatedError -= old_error
        self._accumulatedGroundTruth += abs(groundTruth)
        self._accumulatedError += error
        if self._accumulatedGroundTruth > 0:
            self.aggregateError = 100.0 * self._accumulatedError / self._accumulatedGroundTruth
        else:
            self.aggregateError = 0
        self.steps += 1
        return self.aggregateError


class MetricMAPE(AggregateMetric):
    """Mean absolute percentage error: 100 x the mean of |error| / ground truth over the window (records with a
    ground truth of 0 are left out)."""

    def error(self, groundTruth, prediction, result):
        return None if groundTruth == 0 else float(abs(groundTruth - prediction)) / groundTruth

    def aggregate(self, accumulatedError, historyBuffer, steps):
        n = steps if historyBuffer is None else len(historyBuffer)
        return self.aggregateError if n == 0 else 100.0 * accumulatedError / n


class MetricPassThruPrediction(MetricsIface):
    """Not an error: the moving average (over ``window``, default 1) of the predictions it is given."""

    def __init__(self, metricSpec: MetricSpec):
        self.spec = metricSpec
        self.window = _params_of(metricSpec).get("window", 1)
        self._average = _MovingAverage(self.window)
        self.value: Any = None

    def addInstance(self, groundTruth, prediction, record=None, result=None):
        self.value = self._average(prediction)
        return self.value

    def getMetric(self) -> dict:
        return {"value": self.value}


class _BaselineMetric(AggregateMetric):
    """An "uber" metric whose prediction is computed from the ground truth ``steps`` records back, and judged
    by the ``errorMetric`` metric."""

    #: ``steps`` when the params give none; NuPIC writes it into the caller's spec (so it shows in the label).
    _DEFAULT_STEPS: Optional[int] = 1
    #: Whether a missing ground truth enters the shift history (NuPIC's trivial metric shifts before it checks).
    _SHIFTS_MISSING = False
    #: The param naming the predictor's window, its default, and the predictor made from the window (None:
    #: the earlier ground truth itself is the prediction).
    _PREDICTOR: Optional[tuple[str, int, Callable[[int], Callable[[Any], Any]]]] = None

    def __init__(self, metricSpec: MetricSpec):
        if self._DEFAULT_STEPS is not None:
            _params_of(metricSpec).setdefault("steps", self._DEFAULT_STEPS)
        super().__init__(metricSpec)
        if len(self._predictionSteps) != 1:
            raise ValueError(f"metric {metricSpec.metric!r} takes one prediction step")
        self._sub = self._require_error_metric()[0]
        self._predict: Callable[[Any], Any] = lambda earlier: earlier
        if self._PREDICTOR is not None:
            name, default, make = self._PREDICTOR
            window = _params_of(metricSpec).get(name, default)
            if not window >= 1:
                raise ValueError(f"{name} must be at least 1, got {window!r}")
            self._predict = make(window)

    def getMetric(self) -> dict:
        return self._sub.getMetric()

    def addInstance(self, groundTruth, prediction, record=None, result=None):
        sub = self._sub
        missing = groundTruth is SENTINEL_VALUE_FOR_MISSING_DATA
        if missing and not self._SHIFTS_MISSING:
            return sub.aggregateError
        earlier = self._getShiftedGroundTruth(groundTruth)
        if missing:
            return sub.aggregateError
        if earlier is None:
            return sub.addInstance(groundTruth, None, record)
        return sub.addInstance(groundTruth, self._predict(earlier), record)


class MetricTrivial(_BaselineMetric):
    """The error of predicting that each record repeats the one ``steps`` records back."""

    _SHIFTS_MISSING = True


class MetricMovingMean(_BaselineMetric):
    """The error of predicting the mean of the last ``mean_window`` (default 10) ground truths."""

    _PREDICTOR = ("mean_window", 10, _MovingAverage)


class MetricMovingMode(_BaselineMetric):
    """The error of predicting the most frequent of the last ``mode_window`` (default 100) ground truths."""

    _DEFAULT_STEPS = None  # unshifted unless the params say otherwise
    _PREDICTOR = ("mode_window", 100, _MovingMode)


def _most_probable(distribution: dict) -> Any:
    """The value with the highest probability (the higher value on a tie)."""
    return max((p, v) for v, p in distribution.items())[1]


class MetricMultiStep(AggregateMetric):
    """Judges the prediction made ``steps`` records back (the metrics manager shifts it) with ``errorMetric``,
    one sub-metric per step, and reports their mean. A distribution is judged by its most probable value.
    Until every step has a prediction the value is the sum so far over the number of steps (NuPIC's)."""

    def __init__(self, metricSpec: MetricSpec):
        super().__init__(metricSpec)
        self._subs = self._require_error_metric()

    def _step_error(self, sub: MetricsIface, groundTruth, prediction, record, result) -> Any:
        if isinstance(prediction, dict):
            prediction = _most_probable(prediction)
        return sub.addInstance(groundTruth, prediction, record, result)

    def _combine(self, meanError: float) -> float:
        return meanError

    def addInstance(self, groundTruth, prediction, record=None, result=None):
        if groundTruth is SENTINEL_VALUE_FOR_MISSING_DATA:
            return self.aggregateError
        total = 0.0
        for step, sub in zip(self._predictionSteps, self._subs):
            try:
                value = prediction[step]
            except (KeyError, IndexError, TypeError):
                break
            error = self._step_error(sub, groundTruth, value, record, result)
            if not isinstance(error, (int, float, numpy.floating)):
                break
            total += float(error)
        self.aggregateError = self._combine(total / len(self._subs))
        self.steps += 1
        return self.aggregateError


class MetricMultiStepProbability(MetricMultiStep):
    """Like ``multiStep``, but a distribution is judged by its probability-weighted error, and the value is a
    moving average over ``window`` (default 1) records; the sub-metrics look at one record each."""

    def __init__(self, metricSpec: MetricSpec):
        _params_of(metricSpec).setdefault("window", 1)
        super().__init__(metricSpec)
        for sub in self._subs:
            sub.window = 1
            _params_of(sub.spec)["window"] = 1
        self._average = _MovingAverage(self.window)

    def _step_error(self, sub, groundTruth, prediction, record, result):
        if isinstance(prediction, dict):
            return sum(sub.addInstance(groundTruth, v, record) * p for v, p in prediction.items())
        return sub.addInstance(groundTruth, prediction, record)

    def _combine(self, meanError):
        return self._average(meanError)


_MODULES: dict[str, Callable[[MetricSpec], MetricsIface]] = {
    "rmse": MetricRMSE,
    "nrmse": MetricNRMSE,
    "aae": MetricAAE,
    "acc": MetricAccuracy,
    "avg_err": MetricAveError,
    "trivial": MetricTrivial,
    "moving_mean": MetricMovingMean,
    "moving_mode": MetricMovingMode,
    "multiStep": MetricMultiStep,
    "multiStepProbability": MetricMultiStepProbability,
    "passThruPrediction": MetricPassThruPrediction,
    "altMAPE": MetricAltMAPE,
    "MAPE": MetricMAPE,
    "negativeLogLikelihood": MetricNegativeLogLikelihood,
}

#: NuPIC metrics influxhtm does not provide, with the reason.
_NOT_PROVIDED = {
    "two_gram": "it needs the encodings of the ground truth, which influxhtm's models do not report",
    "neg_auc": "NuPIC's ROC helpers are not part of influxhtm.nupic",
    "custom_error_metric": "it executes code from the metric's params",
    "ms_aae": "NuPIC 1.0.5 names it but has no implementation",
    "ms_avg_err": "NuPIC 1.0.5 names it but has no implementation",
    "multi": "NuPIC 1.0.5 cannot build it from a MetricSpec either",
}


def getModule(metricSpec: MetricSpec) -> MetricsIface:
    """The metric named by ``metricSpec.metric``, built from the spec."""
    name = metricSpec.metric
    if name in _NOT_PROVIDED:
        raise NotImplementedError(f"metric {name!r} is not supported by influxhtm.nupic: {_NOT_PROVIDED[name]}")
    if name not in _MODULES:
        raise ValueError(f"Unsupported metric type: {name}")
    return _MODULES[name](metricSpec)
