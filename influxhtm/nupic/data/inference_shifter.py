"""NuPIC's ``InferenceShifter`` (``nupic.data.inference_shifter``).

A model's inference at record t is about a later record: a 1-step prediction made at t predicts record
t + 1. The shifter keeps the recent inferences and returns, for each record, the inferences that were
made *about* it, so a plot or a metric can put a record's value next to what was predicted for it.
"""

from __future__ import annotations

import collections
import copy
from typing import Any, Optional

from influxhtm.nupic.frameworks.opf.opf_utils import InferenceElement, ModelResult


class InferenceShifter:
    """Shifts each ``ModelResult``'s inferences by their temporal delay (``InferenceElement.getTemporalDelay``)."""

    def __init__(self) -> None:
        self._inferenceBuffer: Optional[collections.deque[dict]] = None

    def shift(self, modelResult: ModelResult) -> ModelResult:
        """A new ModelResult for the same record whose inferences are the ones made `delay` records ago.

        An element with delay d (e.g. ``multiStepBestPredictions[5]`` has d = 5) carries the value the
        model inferred d records earlier, or None while fewer than d earlier records have been seen (a
        list- or tuple-valued element becomes a list of None of the same length). The history length is
        fixed by the first result's largest delay. As in NuPIC, the shifted result keeps the input,
        metrics and predicted field of `modelResult` but not its predictionNumber or classifierInput.
        """
        inferences = modelResult.inferences or {}
        if self._inferenceBuffer is None:
            self._inferenceBuffer = collections.deque(maxlen=InferenceElement.getMaxDelay(inferences) + 1)
        history = self._inferenceBuffer
        history.appendleft(copy.deepcopy(inferences))

        shifted: dict[str, Any] = {}
        for element, inference in inferences.items():
            if isinstance(inference, dict):
                shifted[element] = {
                    key: self._delayed(InferenceElement.getTemporalDelay(element, key), element, key)
                    for key in inference
                }
            else:
                delay = InferenceElement.getTemporalDelay(element)
                if len(history) > delay:
                    shifted[element] = history[delay][element]
                elif isinstance(inference, (list, tuple)):
                    shifted[element] = [None] * len(inference)
                else:
                    shifted[element] = None

        return ModelResult(
            rawInput=modelResult.rawInput,
            sensorInput=modelResult.sensorInput,
            inferences=shifted,
            metrics=modelResult.metrics,
            predictedFieldIdx=modelResult.predictedFieldIdx,
            predictedFieldName=modelResult.predictedFieldName,
        )

    def _delayed(self, delay: int, element: str, key: Any) -> Any:
        """The value of `inferences[element][key]` from `delay` results ago, or None if not seen yet."""
        assert self._inferenceBuffer is not None
        if len(self._inferenceBuffer) > delay:
            return self._inferenceBuffer[delay][element][key]
        return None
