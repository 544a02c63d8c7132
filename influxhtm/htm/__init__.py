"""NuPIC-compatible HTM anomaly API on the Rust engine.

- `ModelFactory.create(params)` / `model.run(record)` → `ModelResult` (NuPIC's OPF names),
- `anomaly_params(min, max)` — NAB's `numenta` model params,
- `AnomalyLikelihood` — NuPIC's likelihood (one- or two-sided tail),
- `AnomalyDetector` — NAB's `numenta` detector for one series, returning `Scores`,
- the engine's errors: `EngineError`, the base of `InvalidParams` (also a ValueError), `CorruptState`
  (also a ValueError) and `EnginePanic`.

Importing this package loads the engine only (numpy is imported on the first OPF result).
"""

from influxhtm._engine import CorruptState, EngineError, EnginePanic, InvalidParams
from influxhtm.htm.detector import AnomalyDetector, Scores
from influxhtm.htm.likelihood import AnomalyLikelihood
from influxhtm.htm.opf import HTMPredictionModel, ModelFactory, ModelResult
from influxhtm.htm.params import anomaly_params, nab_encoder_range, nab_probation, nab_resolution

__all__ = [
    "AnomalyDetector",
    "AnomalyLikelihood",
    "CorruptState",
    "EngineError",
    "EnginePanic",
    "HTMPredictionModel",
    "InvalidParams",
    "ModelFactory",
    "ModelResult",
    "Scores",
    "anomaly_params",
    "nab_encoder_range",
    "nab_probation",
    "nab_resolution",
]
