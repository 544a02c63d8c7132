"""NuPIC programs on influxhtm (issue: NuPIC's own programs): records/s of NuPIC's hotgym tutorial model
(one_gym: ScalarEncoder + two DateEncoder parts, classifier on with a classifierOnly encoder) through
`influxhtm.nupic`, run the way a NuPIC program runs it: `model.run(record)` and `AnomalyLikelihood` per record.

NuPIC 1.0.5 cannot run here (Python 2 only). The ratio is to its measured 263 records/s on this machine
class for NAB's model (spec/htm.md §4.2: OPF `model.run` + likelihood, one quiet core). That model has the
same spatial pooler and TM sizes and no classifier, so NuPIC is no faster on one_gym: the ratio printed is
a lower bound.

    python -m bench.bench_nupic_one_gym [--passes 10]
"""

import argparse
import datetime
import gzip
import json
import time
from pathlib import Path

from influxhtm.nupic.algorithms.anomaly_likelihood import AnomalyLikelihood
from influxhtm.nupic.frameworks.opf.model_factory import ModelFactory

TRACE = Path(__file__).resolve().parents[1] / "tests/fixtures/golden/clients/one_gym.jsonl.gz"
NUPIC_RECORDS_PER_S = 263.0  # spec/htm.md 4.2, see the module docstring


def one_pass(header: dict, rows: list) -> float:
    """Seconds to run every row through a fresh model and likelihood."""
    model = ModelFactory.create(header["params"])
    model.enableInference(header["inferenceArgs"])
    likelihood = AnomalyLikelihood()
    start = time.perf_counter()
    for row in rows:
        result = model.run(row)
        likelihood.anomalyProbability(row["kw_energy_consumption"], result.inferences["anomalyScore"], row["timestamp"])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=10, help="fresh-model passes; the fastest is reported")
    args = parser.parse_args()
    with gzip.open(TRACE, "rt") as f:
        header, *records = (json.loads(line) for line in f)
    rows = [
        {"timestamp": datetime.datetime.strptime(r["t"], "%m/%d/%y %H:%M"), "kw_energy_consumption": r["v"]}
        for r in records
    ]
    best = min(one_pass(header, rows) for _ in range(args.passes))
    rate = len(rows) / best
    print(
        f"one_gym through influxhtm.nupic (model.run + AnomalyLikelihood), {len(rows)} records: "
        f"{rate:,.0f} records/s ({best / len(rows) * 1e6:.0f} us/record), "
        f"{rate / NUPIC_RECORDS_PER_S:.1f}x NuPIC's {NUPIC_RECORDS_PER_S:.0f}/s"
    )


if __name__ == "__main__":
    main()
