"""Entry point of the UDF server: `influxhtm udf ...`, `python -m influxhtm.udf`, `udf/influxhtm-udf`."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys

from influxhtm.htm.allocator import HeapTrimmer
from influxhtm.kapacitor_udf import SocketInUseError, UdfServer, run_process
from influxhtm.store import ModelStore, default_state_dir

from .handler import HtmHandler
from .metrics import UdfMetrics, cluster_sources, serve_metrics
from .models import ModelRegistry
from .task_healer import (
    DEFAULT_TIMEOUT,
    PASSWORD_ENV,
    USER_ENV,
    CredentialsError,
    KapacitorClient,
    TaskHealer,
    resolve_credentials,
    socket_accepts,
)

log = logging.getLogger("influxhtm.udf")
MB = 1024 * 1024


def _octal(text: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an octal file mode such as 0660, got {text!r}") from None


def add_udf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="serve on this unix socket (socket UDF); without it: process mode on stdin/stdout",
    )
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        default=None,
        help=f"checkpoints, journals and metadata of the models (default {default_state_dir()})",
    )
    parser.add_argument(
        "--batch", action="store_true", help="want and provide a batch edge (for @htm_batch()); default: stream"
    )
    parser.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics, e.g. 127.0.0.1:9108")
    parser.add_argument(
        "--socket-mode", type=_octal, default=0o660, metavar="MODE", help="file mode of the socket (default 0660)"
    )
    parser.add_argument(
        "--journal-fsync",
        action="store_true",
        help="fsync every journal record (survives power loss; slower). Default: write to the "
        "OS at once (survives kill -9)",
    )
    parser.add_argument(
        "--max-resident-models",
        type=int,
        default=0,
        metavar="N",
        help="keep at most N models in memory, evicting the least recently used to the state "
        "dir (default 0 = no limit)",
    )
    parser.add_argument(
        "--memory-budget",
        type=float,
        default=0,
        metavar="MB",
        help="keep the resident models' estimated memory under MB megabytes, evicting the least recently "
        "used to the state dir; they reload on their next point (default 0 = no budget)",
    )
    parser.add_argument(
        "--kapacitor-url",
        metavar="URL",
        help="after the socket listens, disable and re-enable the enabled Kapacitor tasks that use this UDF "
        "(Kapacitor never reconnects to a restarted socket UDF), e.g. http://127.0.0.1:9092",
    )
    parser.add_argument(
        "--kapacitor-credentials",
        metavar="FILE",
        help="a file holding `user:password` for Kapacitor's HTTP API (not world-readable); default: the "
        f"environment variables {USER_ENV} / {PASSWORD_ENV}, else no authentication",
    )
    parser.add_argument(
        "--kapacitor-udf-name",
        metavar="NAME",
        help="the UDF's name in kapacitor.conf ([udf.functions.NAME], used as @NAME() in TICKscripts; "
        "default htm, or htm_batch with --batch)",
    )
    parser.add_argument(
        "--kapacitor-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"keep trying to reach Kapacitor this long (default {DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="cluster mode: keep the models in model hosts on the Ray cluster at ADDRESS (e.g. 10.0.0.5:6379; "
        "auto: start a local Ray); --state-dir must then be a directory every node reaches (needs the "
        "extra influxhtm[cluster])",
    )
    parser.add_argument(
        "--cluster-hosts",
        type=int,
        default=0,
        metavar="N",
        help="model hosts to start, spread over the nodes in turn (default 0: one per alive node)",
    )
    parser.add_argument(
        "--host-cpus", type=float, default=1.0, metavar="N", help="Ray CPUs each model host reserves (default 1)"
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run_udf(args: argparse.Namespace) -> int:
    """Run the UDF server (socket) or one UDF process (stdin/stdout) until EOF or SIGTERM."""
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(args.log_level)
    HeapTrimmer().start()
    state_dir = args.state_dir or default_state_dir()
    healer = None
    if args.kapacitor_url:
        try:
            healer = _task_healer(args)
        except (CredentialsError, ValueError) as exc:
            log.error("%s", exc)
            return 1
    if args.cluster:
        return _run_cluster(args, state_dir, healer)
    try:
        store = ModelStore(state_dir, journal_fsync=args.journal_fsync)
        if not os.access(store.models_dir, os.W_OK):
            raise PermissionError(errno.EACCES, "not writable (read-only file system or permissions)")
    except OSError as exc:
        # refused only at startup; storage faults later never stop the scoring (see models.py)
        log.error("state dir %s cannot be used: %s", state_dir, exc.strerror or exc)
        return 1
    metrics = UdfMetrics()
    if args.metrics:
        metrics.serve(args.metrics)
    budget = int(args.memory_budget * MB) or None
    registry = ModelRegistry(store, metrics, max_resident=args.max_resident_models or None, memory_budget=budget)

    def handler_factory(emitter):
        return HtmHandler(emitter, registry, batch=args.batch)

    if healer is not None:
        healer.on_reenabled = lambda _task_id: metrics.tasks_reenabled.inc()
    try:
        return _serve(args, handler_factory, registry.close, healer)
    finally:
        registry.close()
        store.close()


def _serve(args: argparse.Namespace, handler_factory, on_shutdown, healer: TaskHealer | None) -> int:
    """Serve on the socket or as one process until EOF or SIGTERM."""
    try:
        if args.socket:
            log.info("serving on %s, state dir %s", args.socket, args.state_dir or default_state_dir())
            server = UdfServer(args.socket, handler_factory, socket_mode=args.socket_mode, on_shutdown=on_shutdown)
            if healer is not None and not socket_accepts(args.socket):  # else: a live server, refused below
                healer.start()
            try:
                server.serve_forever()
            except (SocketInUseError, OSError) as exc:
                log.error("%s", exc)
                return 1
            return 0
        return run_process(handler_factory)
    finally:
        if healer is not None:
            healer.stop()


def _run_cluster(args: argparse.Namespace, state_dir: str, healer: TaskHealer | None) -> int:
    """The UDF front of the cluster mode (Ray is imported only here)."""
    try:
        from influxhtm.cluster.front import ClusterFront
    except ImportError as exc:
        log.error("cluster mode needs Ray: pip install 'influxhtm[cluster]' (%s)", exc)
        return 1
    from influxhtm.cluster.state_store import state_store

    try:
        front = ClusterFront.start(
            args.cluster,
            state_store(state_dir),
            hosts=args.cluster_hosts,
            host_cpus=args.host_cpus,
            journal_fsync=args.journal_fsync,
            max_resident=args.max_resident_models or None,
        )
    except (OSError, ValueError) as exc:
        log.error("state store %s cannot be used: %s", state_dir, exc)
        return 1
    if healer is not None:
        healer.on_reenabled = lambda _task_id: front.metrics.tasks_reenabled.inc()
    try:
        if args.metrics:
            serve_metrics(args.metrics, lambda: cluster_sources(front.metrics, *front.host_metrics()))
        return _serve(args, front.handler_factory(batch=args.batch), front.close, healer)
    finally:
        front.close()


def _task_healer(args: argparse.Namespace) -> TaskHealer:
    """The healer of the --kapacitor-* options (not started); raises CredentialsError or ValueError."""
    if not args.socket:
        raise ValueError("--kapacitor-url needs --socket: a process UDF is started by Kapacitor with its task")
    if not args.kapacitor_timeout > 0:
        raise ValueError(f"--kapacitor-timeout must be positive, got {args.kapacitor_timeout}")
    name = args.kapacitor_udf_name or ("htm_batch" if args.batch else "htm")
    client = KapacitorClient(args.kapacitor_url, resolve_credentials(args.kapacitor_credentials))
    socket_path = args.socket
    return TaskHealer(client, name, ready=lambda: socket_accepts(socket_path), timeout=args.kapacitor_timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="influxhtm-udf", description="HTM anomaly detection UDF for Kapacitor")
    add_udf_arguments(parser)
    return run_udf(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
