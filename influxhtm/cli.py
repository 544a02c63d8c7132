"""The `influxhtm` command. Each part registers its own subcommands (`register(subparsers)`)."""

import argparse
import json
import logging
import os
import sys
import time


def _register_engine(subparsers) -> None:
    from influxhtm.htm.params import DEFAULT_DETECTOR, DEFAULT_TAIL, DEFAULT_TM, DETECTORS, TAILS, TM_CHOICES

    detector_help = (
        "numenta: NuPIC 1.0.5's detector, bit for bit (NAB 69.7); ensemble: HTM fused with ARTime, "
        "opt-in (higher NAB scores, see the README)"
    )
    p = subparsers.add_parser("detect", help="score a timestamp,value CSV offline (NAB's detector contract)")
    p.add_argument("input", help="CSV with timestamp,value columns")
    p.add_argument("-o", "--output", required=True, help="output CSV")
    p.add_argument("--min", type=float, dest="min_value", help="data minimum (default: whole-file minimum, as NAB)")
    p.add_argument("--max", type=float, dest="max_value", help="data maximum (default: whole-file maximum, as NAB)")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR, help=detector_help)
    p.add_argument("--tail", choices=TAILS, default=DEFAULT_TAIL)
    p.add_argument("--tm", choices=TM_CHOICES, default=DEFAULT_TM)
    p.add_argument(
        "--predict",
        type=int,
        default=0,
        metavar="STEPS",
        help="also predict STEPS records ahead (adds a prediction column)",
    )
    p.add_argument("--trace", help="write a per-record trace (golden-trace format, .jsonl.gz)")
    p.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone (e.g. Europe/Berlin) whose wall clock the time-of-day encoding sees. With it, "
        "timestamps are instants: naive ones are read as UTC, ones with an offset as that instant (the "
        "same rule as the UDF's .timezone() and the library's timezone option, so the same instants get "
        "the same scores). Without it, timestamps are wall-clock times encoded as written (NAB's convention)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_detect)

    p = subparsers.add_parser("nab", help="run the detector over a NAB corpus into NAB's results layout")
    p.add_argument("--data", required=True, help="NAB data dir (<category>/<file>.csv)")
    p.add_argument("--out", required=True, help="results dir")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR, help=detector_help)
    p.add_argument(
        "--name",
        help="results name (sub-directory and file prefix; default: influxhtm, or influxhtm_ensemble for the ensemble)",
    )
    p.add_argument("--jobs", type=int, help="parallel processes (default 1; not with --cluster)")
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="score each file as one task on the Ray cluster at ADDRESS (e.g. 10.0.0.5:6379; auto: start a "
        "local Ray); --data and --out must be directories every node reaches (needs influxhtm[cluster])",
    )
    p.add_argument("--tail", choices=TAILS, default=DEFAULT_TAIL)
    p.add_argument("--tm", choices=TM_CHOICES, default=DEFAULT_TM)
    p.add_argument(
        "--score",
        action="store_true",
        help="then print the NAB scores (labels: --labels, else combined_windows.json beside --data)",
    )
    p.add_argument("--labels", help="NAB label windows (combined_windows.json); implies --score")
    p.add_argument(
        "--threshold", type=float, help="score at this fixed threshold (default: NAB's optimised one); implies --score"
    )
    p.set_defaults(func=_cmd_nab)

    p = subparsers.add_parser("nab-score", help="NAB scores (standard, low FP, low FN) of a results directory")
    p.add_argument("--data", required=True, help="NAB data dir (<category>/<file>.csv)")
    p.add_argument("--labels", help="NAB label windows (default: combined_windows.json beside or in --data)")
    p.add_argument(
        "--results",
        required=True,
        help="one detector's results: <category>/<detector>_<file>.csv (or <category>/<file>.csv)",
    )
    p.add_argument("--name", help="file-name prefix of the results (default: the results directory's name)")
    p.add_argument(
        "--threshold",
        type=float,
        help="flag records with anomaly_score >= T for every profile (default: NAB's optimised threshold per profile)",
    )
    p.add_argument("--per-file", action="store_true", help="also each file's score")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.set_defaults(func=_cmd_nab_score)


def _register_examples(subparsers) -> None:
    p = subparsers.add_parser(
        "examples", help="write the example kapacitor.conf, TICKscripts and systemd unit into a directory"
    )
    p.add_argument("--out", default=".", help="directory to write into (default: the current one)")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")
    p.set_defaults(func=_cmd_examples)


def _cmd_examples(args) -> int:
    from influxhtm.examples import write_examples

    for path in write_examples(args.out, overwrite=args.force):
        print(path)
    return 0


def _cmd_detect(args) -> int:
    from influxhtm.detect import detect, nab_detector, read_series

    if (args.min_value is None) != (args.max_value is None):
        raise ValueError("give both --min and --max, or neither")
    if args.min_value is not None and args.min_value > args.max_value:
        raise ValueError(f"--min ({args.min_value}) is above --max ({args.max_value})")
    series = read_series(args.input)
    detector = nab_detector(
        series,
        min_value=args.min_value,
        max_value=args.max_value,
        tail=args.tail,
        tm=args.tm,
        prediction_steps=args.predict,
        timezone=args.timezone,
        detector=args.detector,
    )
    detect(
        series,
        args.output,
        detector,
        trace_path=args.trace,
        source=args.input,
        progress=not args.quiet,
        instants=args.timezone is not None,
    )
    return 0


def _cmd_nab(args) -> int:
    from influxhtm.nab import run_corpus
    from influxhtm.nab_score import find_labels, format_report, score_results

    if args.cluster and args.jobs is not None:
        raise ValueError("--jobs and --cluster exclude each other: on a cluster every file is a task")
    labels = None
    if args.score or args.labels or args.threshold is not None:  # fail before the run, not after it
        labels = args.labels or find_labels(args.data)
        if not os.path.isfile(labels):
            raise ValueError(f"{labels}: label file not found")
    start = time.monotonic()
    name = args.name or ("influxhtm" if args.detector == "numenta" else f"influxhtm_{args.detector}")
    rows = run_corpus(
        args.data,
        args.out,
        name=name,
        jobs=args.jobs or 1,
        tail=args.tail,
        tm=args.tm,
        detector=args.detector,
        cluster=args.cluster,
    )
    elapsed = time.monotonic() - start
    print(f"{rows} records in {elapsed:.1f} s ({rows / elapsed:.0f} records/s)", file=sys.stderr)
    if labels:
        report = score_results(args.data, labels, os.path.join(args.out, name), detector=name, threshold=args.threshold)
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
        print(format_report(report))
    return 0


def _cmd_nab_score(args) -> int:
    from influxhtm.nab_score import find_labels, format_report, report_dict, score_results

    report = score_results(
        args.data, args.labels or find_labels(args.data), args.results, detector=args.name, threshold=args.threshold
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(report_dict(report, per_file=args.per_file), indent=2))
    else:
        print(format_report(report, per_file=args.per_file))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="influxhtm", description="HTM anomaly detection for the TICK stack.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (stderr)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _register_engine(subparsers)
    _register_examples(subparsers)
    from influxhtm.alerts import register as register_alerts
    from influxhtm.cli_influx import register as register_influx
    from influxhtm.dashboard.cli import register as register_dashboard
    from influxhtm.store.cli import register as register_models
    from influxhtm.udf.cli import register as register_udf

    register_udf(subparsers)
    register_models(subparsers)
    register_influx(subparsers)
    register_dashboard(subparsers)
    register_alerts(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"influxhtm {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
