"""`influxhtm udf` and `influxhtm models list|show|delete` (registered into the influxhtm CLI)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from influxhtm.store import ModelStore, StoreError, default_state_dir

from .main import add_udf_arguments, run_udf


def register(subparsers) -> None:
    """Add the `udf` and `models` subcommands to an argparse subparsers object."""
    udf = subparsers.add_parser("udf", help="run the Kapacitor HTM UDF (socket server or process)",
                                description="Run the HTM anomaly UDF for Kapacitor.")
    add_udf_arguments(udf)
    udf.set_defaults(func=run_udf)

    models = subparsers.add_parser("models", help="list, show or delete the UDF's stored models")
    models.add_argument("--state-dir", metavar="DIR", default=None,
                        help=f"state directory (default {default_state_dir()})")
    actions = models.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per model")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="metadata and file sizes of one model")
    show.add_argument("model_id")
    show.set_defaults(func=_show)
    delete = actions.add_parser("delete", help="delete models (stop the task first)")
    delete.add_argument("model_id", nargs="+")
    delete.set_defaults(func=_delete)


def _store(args) -> ModelStore:
    root = args.state_dir or default_state_dir()
    if not os.path.isdir(root):
        raise SystemExit(f"influxhtm models: state dir {root} does not exist")
    return ModelStore(root)


def _summary(store: ModelStore, model_id: str) -> dict:
    try:
        meta = store.metadata(model_id)
    except StoreError as exc:
        return {"id": model_id, "error": str(exc)}
    return {
        "id": model_id,
        "task": meta.get("task", ""),
        "node": meta.get("node", ""),
        "group": meta.get("group", ""),
        "field": meta.get("field", ""),
        "records_seen": meta.get("records_seen", 0),
        "warming_up": meta.get("warming_up", False),
    }


def _list(args) -> int:
    store = _store(args)
    rows = [_summary(store, m) for m in store.model_ids()]
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    print(f"{'TASK':<20} {'NODE':<10} {'GROUP':<30} {'FIELD':<16} {'RECORDS':>9}  ID")
    for r in rows:
        if "error" in r:
            print(f"{'?':<20} {'?':<10} {'?':<30} {'?':<16} {'?':>9}  {r['id']}  ({r['error']})")
            continue
        group = r["group"].replace("\n", "\\n") or "(all)"
        records = f"{r['records_seen']}{'*' if r['warming_up'] else ''}"
        print(f"{r['task']:<20} {r['node']:<10} {group:<30} {r['field']:<16} {records:>9}  {r['id']}")
    return 0


def _show(args) -> int:
    store = _store(args)
    try:
        stored = store.load(args.model_id)
    except StoreError as exc:
        print(f"influxhtm models show: {exc}", file=sys.stderr)
        return 1
    report = dict(stored.metadata)
    report["id"] = args.model_id
    report["checkpoint_bytes"] = len(stored.blob) if stored.blob is not None else None
    report["journal_entries"] = len(stored.journal)
    json.dump(report, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


def _delete(args) -> int:
    store = _store(args)
    status = 0
    for model_id in args.model_id:
        try:
            store.delete(model_id)
            print(f"deleted {model_id}")
        except StoreError as exc:
            print(f"influxhtm models delete: {exc}", file=sys.stderr)
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    """Stand-alone dispatcher (the `influxhtm` console script normally does this)."""
    parser = argparse.ArgumentParser(prog="influxhtm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)
