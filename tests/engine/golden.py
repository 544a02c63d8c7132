"""The repository's test fixtures: NuPIC 1.0.5 golden traces (the parity oracle) and NAB data
(`tests/fixtures/README.md` says where each comes from)."""

import gzip
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOLDEN = FIXTURES / "golden"
NAB = FIXTURES / "nab"
NAB_DATA = NAB / "data"
NAB_LABELS = NAB / "combined_windows.json"


def trace_names():
    """Every trace file name without `.jsonl.gz`, sorted."""
    names = sorted(p.name[: -len(".jsonl.gz")] for p in GOLDEN.glob("*.jsonl.gz"))
    assert names, f"no golden traces in {GOLDEN}"
    return names


def load_trace(name):
    """(header, records) of one trace."""
    with gzip.open(GOLDEN / f"{name}.jsonl.gz", "rt") as f:
        header = json.loads(f.readline())
        return header, [json.loads(line) for line in f]
