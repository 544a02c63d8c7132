"""Engine benchmarks (issue: HTM engine). Prints:
- records/s of one detector on one core (Python `handle()` per record, and the engine's batch call; the
  fastest of 3 passes and their median), and over the whole corpus (one model per file),
- RSS per model with N models in one process after R records each (what each model adds to a process
  that already holds one), fed one after the other and in turn (as a UDF server meets its groups' points),
  the heap's free pages given back as a UDF server gives them (`influxhtm.htm.allocator`), and the
  checkpoint size,
- wall time of `influxhtm nab` over the NAB data (default: the repository's 31-file subset in
  tests/fixtures/nab; `--data DIR` for NAB's full corpus) and the NAB score of that run.
NuPIC 1.0.5 cannot run here (Python 2 only); its figures measured on this machine class are quoted from
spec/htm.md §4.2 for the ratio, and labelled as such.

    python -m bench.bench_engine [--models 8] [--records 20000] [--skip-nab] [--speed-only]
                                 [--data DIR [--labels FILE]]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procstat import models_rss
from influxhtm import _engine
from influxhtm.detect import nab_detector, read_series
from influxhtm.htm.timestamps import wall_clock_seconds
from influxhtm.nab_score import score_results

NAB_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nab"
NUPIC_RECORDS_PER_S = 263.0  # spec/htm.md 4.2: one quiet core, art_daily_jumpsup, OPF run + likelihood
NUPIC_RSS_MB_AFTER_4K = 121.2 - 39.7
NUPIC_CHECKPOINT_MB = 26.1


def bench_speed(path: Path, passes: int = 3):
    """records/s of one fresh detector per pass over `path`, through `handle()` per record and through
    the engine's batch call: the fastest pass (the one the VM's other tenants disturbed least) and the
    median."""
    series = read_series(str(path))
    n = len(series.values)
    per_record, batch = [], []
    for _ in range(passes):
        detector = nab_detector(series)
        start = time.perf_counter()
        for t, v in zip(series.times, series.values):
            detector.handle(t, v)
        per_record.append(n / (time.perf_counter() - start))
        batch.append(n / batch_run(series)[1])
    print(
        f"speed: {path.name}, {n} records, Python handle() per record: {max(per_record):,.0f} records/s, fastest of "
        f"{passes} passes ({max(per_record) / NUPIC_RECORDS_PER_S:.0f}x NuPIC's {NUPIC_RECORDS_PER_S:.0f}/s; "
        f"median {statistics.median(per_record):,.0f})"
    )
    print(f"speed: engine batch call: {max(batch):,.0f} records/s, fastest (median {statistics.median(batch):,.0f})")


def batch_run(series) -> tuple[int, float]:
    """(records, seconds) of one fresh default detector taking the whole series in one engine call."""
    detector = nab_detector(series)
    stamps = [wall_clock_seconds(t) for t in series.times]
    start = time.perf_counter()
    detector._engine.handle_many(stamps, series.values)
    return len(stamps), time.perf_counter() - start


def bench_corpus_speed(data: Path):
    """records/s of one default model on one core over every file of `data`, one model per file."""
    runs = [batch_run(read_series(str(path))) for path in sorted(data.glob("*/*.csv"))]
    records, seconds = sum(n for n, _ in runs), sum(t for _, t in runs)
    rates = [n / t for n, t in runs]
    print(
        f"speed: {len(runs)} files of {data}, one model each, engine batch call: {records / seconds:,.0f} "
        f"records/s over all {records} records (files from {min(rates):,.0f} to {max(rates):,.0f})"
    )


def bench_memory(path: Path, models: int, records: int, in_turn: bool):
    """RSS per model with `models` detectors in one fresh process (a child, so memory freed by earlier
    benchmarks cannot hide the growth), each fed the first `records` records of `path`, one model after
    the other or in turn."""
    series = read_series(str(path))
    points = list(zip(series.times[:records], series.values[:records]))
    m = models_rss(lambda: nab_detector(series), points, lambda d, p: d.handle(*p), models, in_turn)
    order = "fed in turn" if in_turn else "fed one after the other"
    print(
        f"memory: {models} models {order} in one process after a first one: +{m.fresh:.2f} MB RSS per fresh "
        f"model, {m.grown:.2f} MB per model after {len(points)} records of {path.name}; the process took "
        f"{m.once:.2f} MB once with its first model (NuPIC: +64 MB fresh, ~{NUPIC_RSS_MB_AFTER_4K:.0f} MB after 4k)"
    )


def bench_checkpoint(path: Path, records: int):
    series = read_series(str(path))
    detector = nab_detector(series)
    for t, v in zip(series.times[:records], series.values[:records]):
        detector.handle(t, v)
    start = time.perf_counter()
    blob = detector.save()
    saved = time.perf_counter() - start
    start = time.perf_counter()
    type(detector).load(blob)
    loaded = time.perf_counter() - start
    print(
        f"checkpoint: {len(blob) / 1e6:.2f} MB after {min(records, len(series.values))} records of {path.name}, "
        f"save {saved * 1e3:.0f} ms, load {loaded * 1e3:.0f} ms (NuPIC: {NUPIC_CHECKPOINT_MB} MB after 4032 "
        f"records of art_daily_jumpsup)"
    )


def bench_nab(jobs: int, data: Path, labels: Path):
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "influxhtm.cli", "nab", "--data", str(data), "--out", out, "--jobs", str(jobs)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        final = score_results(str(data), str(labels), str(Path(out) / "influxhtm")).normalised()
    print(f"nab: influxhtm nab over {data} with --jobs {jobs}: {wall:.1f} s wall")
    print(
        f"nab: score standard {final['standard']:.2f} / low FP {final['reward_low_FP_rate']:.2f} / "
        f"low FN {final['reward_low_FN_rate']:.2f} (NuPIC 1.0.5 on these files: 69.34 / 61.15 / 74.53)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-nab", action="store_true")
    parser.add_argument("--speed-only", action="store_true", help="only the records/s figures")
    parser.add_argument(
        "--data",
        type=Path,
        default=NAB_FIXTURES / "data",
        help="NAB data dir (default: the repository's 31-file subset)",
    )
    parser.add_argument("--labels", type=Path, help="NAB label windows (default: combined_windows.json beside --data)")
    parser.add_argument("--memory-only", choices=["one-after-the-other", "in-turn"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.data
    if args.memory_only:
        machine = data / "realKnownCause" / "machine_temperature_system_failure.csv"
        bench_memory(machine, args.models, args.records, args.memory_only == "in-turn")
        return 0
    build = "profile-guided" if _engine.PROFILE_GUIDED else "plain (no profile: see scripts/install-engine)"
    print(f"engine build: {build}")
    bench_speed(data / "artificialWithAnomaly" / "art_daily_jumpsup.csv")  # the file of NuPIC's 263/s
    bench_speed(data / "realKnownCause" / "nyc_taxi.csv")  # one of the heaviest models of the corpus
    machine = data / "realKnownCause" / "machine_temperature_system_failure.csv"
    bench_speed(machine)  # the file of the memory figure below
    bench_corpus_speed(data)
    if args.speed_only:
        return 0
    for order in ["one-after-the-other", "in-turn"]:
        child = ["--memory-only", order, "--models", str(args.models), "--records", str(args.records)]
        subprocess.run([sys.executable, "-m", "bench.bench_engine", *child], check=True)
    bench_checkpoint(data / "artificialWithAnomaly" / "art_daily_jumpsup.csv", 4032)
    bench_checkpoint(machine, args.records)
    if not args.skip_nab:
        bench_nab(args.jobs, data, args.labels or data.parent / "combined_windows.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
