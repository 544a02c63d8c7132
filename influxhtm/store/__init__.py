"""The model store: checkpoints, journals, recovery, quarantine and the one metadata record of every model,
whether the UDF or the library made it; `influxhtm models` (cli.py) manages them, archive.py exports and
imports one model as a single file.

Light to import (standard library only): the UDF server imports it at start.
"""

from .metadata import METADATA_FORMAT, METADATA_VERSION, ORIGINS, MetadataError, ModelMetadata
from .model_store import (
    CHECKPOINT_VERSION,
    JOURNAL_VERSION,
    CorruptCheckpointError,
    FencedError,
    JournalEntry,
    ModelNotFoundError,
    ModelStore,
    QuarantinedModel,
    ShortWriteError,
    StoredModel,
    StoreError,
    UnsupportedFormatError,
    default_state_dir,
    model_id_for,
)

__all__ = [
    "CHECKPOINT_VERSION",
    "JOURNAL_VERSION",
    "METADATA_FORMAT",
    "METADATA_VERSION",
    "ORIGINS",
    "CorruptCheckpointError",
    "FencedError",
    "JournalEntry",
    "MetadataError",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelStore",
    "QuarantinedModel",
    "ShortWriteError",
    "StoreError",
    "StoredModel",
    "UnsupportedFormatError",
    "default_state_dir",
    "model_id_for",
]
