#!/usr/bin/env python3
"""influxhtm demo: one series through the real TICK stack, end to end.

Starts a private InfluxDB, the influxhtm UDF server, kapacitord (free loopback ports, a scratch
directory), an alert receiver and the live view (`influxhtm dashboard`); defines the stream task
(tickscripts/htm_stream.tick) and the alert task (tickscripts/htm_alert.tick, which POSTs its alerts to
the receiver), writes the series into Kapacitor, waits until every point is scored in InfluxDB, prints a
summary (alerts against the known anomaly windows), writes a PNG plot and says where to look. Default
series: a generated one with four labelled anomalies (influxhtm.stack.synthetic). Run in a terminal, it
keeps the stack and the live view up until Ctrl-C; otherwise it stops everything at the end.

    python scripts/demo.py                          # synthetic series
    python scripts/demo.py --data art_daily_jumpsup.csv --labels combined_windows.json
    python scripts/demo.py --rate 200 --keep        # stream at 200 points/s, watch it live, Ctrl-C to stop
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import csv
import datetime as dt
import logging
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from influxdb import InfluxDBClient

from influxhtm.alerts import AlertEvent, AlertReceiver, read_alert_log
from influxhtm.detect import read_series
from influxhtm.htm.params import nab_probation
from influxhtm.influxql import quote_ident
from influxhtm.schema import (
    ANOMALY_LIKELIHOOD,
    ANOMALY_SCORE,
    LEARNING,
    PREDICTION,
    RAW_SCORE,
    RECORDS_SEEN,
    VALUE,
    result_measurement,
)
from influxhtm.stack import synthetic
from influxhtm.stack.influxd import InfluxServer
from influxhtm.stack.kapacitord import KapacitorServer, find_kapacitord, kapacitord_version
from influxhtm.stack.udf_server import UdfServerProcess

REPO = Path(__file__).resolve().parents[1]
TICKSCRIPTS = REPO / "tickscripts"
DATABASE = "demo"
HOST = "demo"  # the demo series' host tag (the stream task groups by host, as htm_stream.tick does)
# the result fields the demo reads back and writes to its CSV (NAB's column order, then the rest)
RESULT_COLUMNS = (VALUE, ANOMALY_SCORE, RAW_SCORE, ANOMALY_LIKELIHOOD, PREDICTION, LEARNING, RECORDS_SEEN)
RP = "autogen"
log = logging.getLogger("demo")


def ensure_stack() -> Path:
    """Install InfluxDB and build kapacitord when missing; return the kapacitord path."""
    if shutil.which("influxd") is None:
        log.info("influxd missing: running scripts/install-influxdb")
        subprocess.run(["bash", str(REPO / "scripts" / "install-influxdb")], check=True)
    return find_kapacitord(build=True)


def load_series(args) -> tuple[str, list[dt.datetime], list[float], list[tuple[dt.datetime, dt.datetime]]]:
    """(name, times, values, label windows) of the series to stream."""
    if args.data is None:
        series = synthetic.generate(seed=args.seed, days=args.days)
        return "synthetic", series.timestamps, series.values, series.windows
    data = read_series(args.data)
    name = re.sub(r"[^A-Za-z0-9_]", "_", Path(args.data).stem)
    windows = synthetic.read_windows(args.labels, Path(args.data).name) if args.labels else []
    return name, data.times, data.values, windows


def epoch_ns(t: dt.datetime) -> int:
    """Naive timestamps are taken as UTC (InfluxDB stores UTC)."""
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return calendar.timegm(t.timetuple()) * 1_000_000_000 + t.microsecond * 1000


def stream(kap: KapacitorServer, measurement: str, times, values, rate: float = 0.0) -> None:
    """Write the series into Kapacitor in time order, at `rate` points/s (0: as fast as it takes them)."""
    total = len(values)
    chunk = max(1, int(rate / 5)) if rate > 0 else 500
    started = time.monotonic()
    for lo in range(0, total, chunk):
        if rate > 0:
            time.sleep(max(0.0, started + lo / rate - time.monotonic()))
        lines = [
            f"{measurement},host={HOST} value={float(v)!r} {epoch_ns(t)}"
            for t, v in zip(times[lo : lo + chunk], values[lo : lo + chunk])
        ]
        kap.write(lines, db=DATABASE, rp=RP, precision="ns")
    log.info("written %d points to Kapacitor", total)


def wait_for_udf(kap: KapacitorServer, task_id: str, expected: int, timeout: float) -> None:
    """Wait until the task's UDF node has emitted `expected` scored points (progress on stderr)."""
    deadline = time.monotonic() + timeout
    reported = 0
    while time.monotonic() < deadline:
        task = kap.task(task_id)
        if task.get("error"):
            raise RuntimeError(f"task {task_id} failed: {task['error']}")
        emitted = sum(
            node.get("emitted", 0) for name, node in task["stats"]["node-stats"].items() if name.startswith("htm")
        )
        if emitted >= expected:
            return
        if emitted - reported >= 1000:
            log.info("scored %d/%d points", emitted, expected)
            reported = emitted
        time.sleep(0.2)
    raise TimeoutError(f"the UDF scored fewer than {expected} points within {timeout:.0f}s")


def wait_for_scores(
    client: InfluxDBClient, measurement: str, expected: int, kap: KapacitorServer, task_id: str, timeout: float
) -> int:
    """Poll InfluxDB until `expected` scored points are there; fail early when the task reports an error."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        rows = list(
            client.query(f"SELECT count({quote_ident(ANOMALY_SCORE)}) FROM {quote_ident(measurement)}").get_points()
        )
        count = rows[0]["count"] if rows else 0
        if count >= expected:
            return count
        error = kap.task_error(task_id)
        if error:
            raise RuntimeError(f"task {task_id} failed: {error}")
        time.sleep(1.0)
    raise TimeoutError(f"only {count} of {expected} points scored in {measurement} after {timeout:.0f}s")


def wait_for_alert_task(kap: KapacitorServer, task_id: str, expected: int, timeout: float) -> None:
    """Wait until the alert task has seen `expected` points (they arrive through InfluxDB's subscription)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        stats = kap.task(task_id).get("stats", {}).get("node-stats", {})
        seen = max((node.get("collected", 0) for name, node in stats.items() if name.startswith("alert")), default=0)
        if seen >= expected:
            return
        time.sleep(0.5)
    log.warning("the alert task saw %d of %d points within %.0fs", seen, expected, timeout)


def wait_for_alerts(receiver: AlertReceiver, alert_log: Path, timeout: float) -> list[AlertEvent]:
    """The alerts the receiver got, once it has every event of the alert log (POSTs trail the log a bit)."""
    deadline = time.monotonic() + timeout
    while True:
        logged, received = read_alert_log(alert_log), receiver.events
        if len(received) >= len(logged) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(received) != len(logged):
        log.warning("the alert receiver got %d of the %d logged alerts", len(received), len(logged))
    return received


def summarize(name, expected, scored, seconds, alerts, windows, learned_from: dt.datetime) -> str:
    """The demo's report: throughput, alerts while learning and after, against the label windows."""
    crit = [a for a in alerts if a.critical]
    early = [a for a in crit if a.time < learned_from]
    counted = [a for a in crit if a.time >= learned_from]
    inside = [a for a in counted if any(lo <= a.time <= hi for lo, hi in windows)]
    lines = [
        f"series {name}: {expected} points scored through Kapacitor and the HTM UDF in {seconds:.1f}s "
        f"({expected / seconds:.0f} points/s); {scored} result points in InfluxDB",
        f"CRITICAL alerts: {len(crit)} (one per incident); {len(early)} of them in the probation period (before "
        f"{learned_from:%Y-%m-%d %H:%M}, while the model learns)",
    ]
    for a in counted:
        where = ("inside a label window" if a in inside else "outside the label windows") if windows else ""
        lines.append(f"  {a.time:%Y-%m-%d %H:%M}  {a.message}  {where}".rstrip())
    if windows:
        detected = [w for w in windows if any(w[0] <= a.time <= w[1] for a in counted)]
        lines.append(
            f"label windows detected: {len(detected)} of {len(windows)}; "
            f"alerts after probation outside any window: {len(counted) - len(inside)}"
        )
        for lo, hi in windows:
            lines.append(
                f"  {lo:%Y-%m-%d %H:%M} .. {hi:%Y-%m-%d %H:%M}  {'detected' if (lo, hi) in detected else 'missed'}"
            )
    return "\n".join(lines)


def plot(
    path: Path, name: str, rows: list[dict], alerts: list[dict], windows, crit: float, learned_from: dt.datetime
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [dt.datetime.fromisoformat(r["time"].replace("Z", "+00:00")).replace(tzinfo=None) for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.plot(times, [r[VALUE] for r in rows], lw=0.6, color="tab:blue", label=VALUE)
    bottom.plot(times, [r[ANOMALY_SCORE] for r in rows], lw=0.6, color="tab:orange", label=ANOMALY_SCORE)
    bottom.axhline(crit, color="tab:red", lw=0.8, ls="--", label=f"alert threshold {crit}")
    for ax in (top, bottom):
        for i, (lo, hi) in enumerate(windows):
            ax.axvspan(lo, hi, color="tab:red", alpha=0.12, label="anomaly window" if i == 0 and ax is top else None)
    for ax in (top, bottom):
        ax.axvspan(times[0], learned_from, color="grey", alpha=0.12, label="probation" if ax is top else None)
    crit_times = [a.time for a in alerts if a.critical]
    for i, t in enumerate(crit_times):
        top.axvline(t, color="tab:red", lw=1.0, label="alert" if i == 0 else None)
    top.set_title(f"influxhtm demo: {name} through InfluxDB -> Kapacitor -> HTM UDF")
    top.set_ylabel(VALUE)
    bottom.set_ylabel(ANOMALY_SCORE)
    bottom.set_ylim(0, 1.05)
    top.legend(loc="upper left", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(path: Path, rows: list[dict]) -> None:
    columns = ["time", *RESULT_COLUMNS]
    with open(path, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else r[c] for c in columns])


def start_live_view(stack: contextlib.ExitStack, influx_url: str, crit: float) -> str | None:
    """Serve the live view (`influxhtm dashboard`) on a free loopback port; its URL, or None without the extra."""
    try:
        from influxhtm.dashboard import serve_in_thread
    except ImportError as err:
        log.warning("no live view (%s): pip install 'influxhtm[dashboard]'", err)
        return None
    url, stop = serve_in_thread(influx_url, DATABASE, listen="127.0.0.1:0", threshold=crit)
    stack.callback(stop)
    return url


def run(args) -> int:
    kapacitord = ensure_stack()
    print(f"kapacitord {kapacitord_version(kapacitord)} ({kapacitord})", flush=True)
    name, times, values, windows = load_series(args)
    if len(values) < 2:
        raise ValueError("the series needs at least two points")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="influxhtm-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    out_measurement = result_measurement(name)
    alert_log = workdir / "alerts.log"
    lo, hi = min(values), max(values)
    probation = nab_probation(len(values))
    learned_from = times[min(probation, len(times) - 1)]  # the first point whose model is past its probation
    log.info(
        "series %s: %d points, %s .. %s, range %.4g .. %.4g; work dir %s",
        name,
        len(values),
        times[0],
        times[-1],
        lo,
        hi,
        workdir,
    )

    with contextlib.ExitStack() as stack:
        if not args.workdir:  # runs last, after every server has stopped
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        influx = stack.enter_context(InfluxServer(workdir / "influxdb"))
        client = InfluxDBClient(influx.host, influx.port, database=DATABASE)
        client.create_database(DATABASE)
        receiver = stack.enter_context(AlertReceiver("127.0.0.1:0", out=workdir / "received-alerts.log"))
        live_view = start_live_view(stack, influx.url, args.crit)
        if live_view:
            print(f"live view: {live_view}", flush=True)
        udf = stack.enter_context(
            UdfServerProcess(workdir / "htm.sock", workdir / "state", log_path=workdir / "udf.log")
        )
        kap = stack.enter_context(
            KapacitorServer(
                workdir / "kapacitor", influx.url, subscriptions=True, udf_socket=udf.socket_path, kapacitord=kapacitord
            )
        )
        kap.define_task(
            "htm_demo",
            (TICKSCRIPTS / "htm_stream.tick").read_text(),
            dbrps=[(DATABASE, RP)],
            vars={
                "database": DATABASE,
                "retention_policy": RP,
                "measurement": name,
                "group_by": {"type": "list", "value": [{"type": "string", "value": "host"}]},
                "field": "value",
                "output_measurement": out_measurement,
                "min": float(lo),
                "max": float(hi),
                "probation": probation,
            },
        )
        kap.define_task(
            "htm_demo_alert",
            (TICKSCRIPTS / "htm_alert.tick").read_text(),
            dbrps=[(DATABASE, RP)],
            vars={
                "database": DATABASE,
                "retention_policy": RP,
                "htm_measurement": out_measurement,
                "crit": args.crit,
                "alert_log": str(alert_log),
                "alert_url": receiver.url,
            },
        )
        started = time.monotonic()
        stream(kap, name, times, values, rate=args.rate)
        wait_for_udf(kap, "htm_demo", len(values), timeout=max(120.0, 0.05 * len(values)))
        seconds = time.monotonic() - started
        scored = wait_for_scores(
            client, out_measurement, len(values), kap, "htm_demo", timeout=max(60.0, 0.05 * len(values))
        )
        wait_for_alert_task(kap, "htm_demo_alert", len(values), timeout=60.0)
        alerts = wait_for_alerts(receiver, alert_log, timeout=10.0)
        columns = ", ".join(quote_ident(column) for column in RESULT_COLUMNS)
        rows = list(client.query(f"SELECT {columns} FROM {quote_ident(out_measurement)}", epoch=None).get_points())
        print(summarize(name, len(values), scored, seconds, alerts, windows, learned_from))
        logged = len(read_alert_log(alert_log))
        print(f"alerts POSTed to the receiver at {receiver.url}: {len(alerts)} (Kapacitor's alert log: {logged})")
        plot_path = Path(args.plot)
        plot(plot_path, name, rows, alerts, windows, args.crit, learned_from)
        write_results(plot_path.with_suffix(".csv"), rows)
        print("\nWhere to look:")
        if live_view:
            lasts = "" if args.keep else "  (stops with the demo; --keep leaves it up)"
            print(f"  live view   {live_view}{lasts}")
        print(f"  plot        {plot_path}")
        print(f"  scores      {plot_path.with_suffix('.csv')}")
        print("  alerts      the summary above")
        if args.keep:
            print(
                f"\nThe stack keeps running until Ctrl-C (work dir {workdir}):\n"
                f"  InfluxDB   {influx.url}   e.g. curl -G {influx.url}/query --data-urlencode db={DATABASE} "
                f"--data-urlencode 'q=SELECT * FROM \"{out_measurement}\" LIMIT 5'\n"
                f"  Kapacitor  {kap.url}   e.g. {kapacitord.parent / 'kapacitor'} -url {kap.url} show htm_demo\n"
                f"  UDF server {udf.socket_path} (pid {udf.pid}), alerts in {alert_log}",
                flush=True,
            )
            with contextlib.suppress(KeyboardInterrupt):
                while kap.running and udf.running:
                    time.sleep(1.0)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="a timestamp,value CSV to stream instead of the synthetic series")
    parser.add_argument("--labels", help="anomaly windows for --data (NAB combined_windows.json style)")
    parser.add_argument("--seed", type=int, default=7, help="synthetic series seed (default 7)")
    parser.add_argument("--days", type=int, default=21, help="synthetic series length in days (default 21)")
    parser.add_argument("--crit", type=float, default=0.5, help=f"alert threshold on {ANOMALY_SCORE} (default 0.5)")
    parser.add_argument("--plot", default=str(REPO / "out" / "demo.png"), help="PNG to write (default out/demo.png)")
    parser.add_argument("--workdir", help="keep servers' data and logs here (default: a temp dir, removed)")
    parser.add_argument("--rate", type=float, default=0.0, help="points/s to stream at (default 0: all at once)")
    parser.add_argument(
        "--keep",
        action=argparse.BooleanOptionalAction,
        default=sys.stdin.isatty() and sys.stdout.isatty(),
        help="leave the stack and the live view running until Ctrl-C or SIGTERM "
        "(default: yes when run in a terminal, no otherwise)",
    )
    args = parser.parse_args(argv)
    if args.labels and not args.data:
        parser.error("--labels needs --data")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    # Ctrl-C or SIGTERM (also when started in the background) unwinds and stops every server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("demo interrupted; servers stopped", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError, ValueError, OSError, KeyError) as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
