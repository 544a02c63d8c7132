"""Reading the NuPIC 1.0.5 golden traces in ../shared/golden (the parity oracle)."""

import gzip
import json
import os
from pathlib import Path

SHARED = Path(os.environ.get("INFLUXHTM_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
GOLDEN = SHARED / "golden"
NAB_DATA = SHARED / "nab" / "data"


def trace_names():
    """Every trace file name without `.jsonl.gz`, sorted."""
    return sorted(p.name[: -len(".jsonl.gz")] for p in GOLDEN.glob("*.jsonl.gz"))


def load_trace(name):
    """(header, records) of one trace."""
    with gzip.open(GOLDEN / f"{name}.jsonl.gz", "rt") as f:
        header = json.loads(f.readline())
        return header, [json.loads(line) for line in f]
