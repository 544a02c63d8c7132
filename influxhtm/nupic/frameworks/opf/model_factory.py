"""``nupic.frameworks.opf.model_factory``: NuPIC's entry point, ``ModelFactory.create(params)``."""

from __future__ import annotations

from typing import Any, Optional

from influxhtm.nupic.frameworks.opf.htm_prediction_model import HTMPredictionModel


class ModelFactory:
    """Builds OPF models from their params dict and restores saved ones."""

    @staticmethod
    def create(modelConfig: dict, logLevel: Optional[Any] = None) -> HTMPredictionModel:
        """A new model of `modelConfig` (NuPIC's params dict with `model` and `modelParams`)."""
        return HTMPredictionModel(modelConfig)

    @staticmethod
    def loadFromCheckpoint(savedModelDir: str, newSerialization: bool = False) -> HTMPredictionModel:
        """The model `model.save(savedModelDir)` wrote."""
        return HTMPredictionModel.load(savedModelDir)
