"""`influxhtm models list|show|delete|export|import`: every stored model, whoever made it (UDF or library),
and the quarantined ones."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from .archive import export_model, import_model
from .metadata import ModelMetadata
from .model_store import (
    CHECKPOINT_FILE,
    METADATA_FILE,
    ModelNotFoundError,
    ModelStore,
    QuarantinedModel,
    StoreError,
    decode_checkpoint,
    default_state_dir,
    journal_chain,
    parse_metadata,
)

__all__ = ["main", "register"]


def register(subparsers) -> None:
    """Add the `models` subcommand to an argparse subparsers object."""
    models = subparsers.add_parser(
        "models",
        help="list, show, delete, export or import stored models",
        description="Models in the state dir: the UDF's and the library's, and the "
        "quarantined ones (could not be loaded; kept, never deleted).",
    )
    models.add_argument(
        "--state-dir", metavar="DIR", default=None, help=f"state directory (default {default_state_dir()})"
    )
    actions = models.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per model, quarantined ones last")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="metadata and file sizes of one model (or quarantined entry)")
    show.add_argument("model_id")
    show.set_defaults(func=_show)
    delete = actions.add_parser("delete", help="delete models or quarantined entries (stop the task first)")
    delete.add_argument("model_id", nargs="+")
    delete.set_defaults(func=_delete)
    export = actions.add_parser("export", help="write one model (checkpoint, journals, metadata) to an archive")
    export.add_argument("model_id")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="archive to write (.tar.gz)")
    export.set_defaults(func=_export)
    restore = actions.add_parser("import", help="restore a model from an archive made by `export`")
    restore.add_argument("archive", metavar="FILE")
    restore.add_argument(
        "--force", action="store_true", help="replace a model of the same id (it is quarantined, not deleted)"
    )
    restore.set_defaults(func=_import)


def _store(args, create: bool = False) -> ModelStore:
    root = args.state_dir or default_state_dir()
    if not create and not os.path.isdir(root):
        raise SystemExit(f"influxhtm models: state dir {root} does not exist")
    return ModelStore(root)


def _summary(meta: ModelMetadata) -> dict:
    return {
        "origin": meta.origin,
        "task": meta.task,
        "node": meta.node,
        "group": meta.group,
        "database": meta.database,
        "retention_policy": meta.retention_policy,
        "measurement": meta.measurement,
        "tags": meta.tags,
        "field": meta.source_field,
        "records_seen": meta.records_seen,
        "warming_up": meta.warming_up,
        "last_time_ns": meta.last_time_ns,
        "created": meta.created,
        "updated": meta.updated,
    }


def _row(store: ModelStore, model_id: str) -> dict:
    try:
        meta = store.metadata(model_id)
    except StoreError as exc:
        return {"id": model_id, "status": "error", "error": str(exc)}
    return {"id": model_id, "status": "ok", **_summary(meta)}


def _quarantine_row(entry: QuarantinedModel) -> dict:
    row = {
        "id": entry.name,
        "status": "quarantined",
        "model_id": entry.model_id,
        "reason": entry.reason,
        "cause": entry.cause,
        "quarantined_at": entry.time,
    }
    try:
        with open(os.path.join(entry.path, METADATA_FILE), "rb") as f:
            row.update(_summary(parse_metadata(f.read())))
    except (OSError, StoreError):
        pass
    return row


def _degraded(root: str) -> dict[str, dict]:
    """Degraded models of the live UDF servers on this state dir, from their status files
    (udf-status-<pid>.json, best effort: a server that cannot write even that is not shown)."""
    found: dict[str, dict] = {}
    try:
        names = os.listdir(root)
    except OSError:
        return found
    for name in sorted(names):
        match = re.fullmatch(r"udf-status-(\d+)\.json", name)
        if not match or not _alive(int(match.group(1))):
            continue  # a server that died keeps no state in memory: its models load from the store
        try:
            with open(os.path.join(root, name), "rb") as f:
                status = json.loads(f.read())
            for model_id, info in dict(status.get("degraded") or {}).items():
                found[str(model_id)] = {**dict(info), "pid": int(match.group(1))}
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rows(store: ModelStore) -> list[dict]:
    degraded = _degraded(store.root)
    rows = [_row(store, m) for m in store.model_ids()]
    for model_id in sorted(set(degraded) - {r["id"] for r in rows}):
        rows.append({"id": model_id, "status": "ok", "origin": "udf"})  # its directory is gone (or unreadable)
    for r in rows:
        if r["id"] in degraded and r["status"] == "ok":
            r["status"] = "degraded"
            r["storage_fault"] = degraded[r["id"]]
    return rows + [_quarantine_row(q) for q in store.quarantined()]


def _source(row: dict) -> tuple[str, str]:
    if row.get("origin") == "library":
        where = ".".join(p for p in (row.get("database"), row.get("retention_policy"), row.get("measurement")) if p)
        tags = ",".join(f"{k}={v}" for k, v in sorted((row.get("tags") or {}).items()))
        return where or "?", tags or "-"
    task = f"{row.get('task') or '?'}/{row.get('node') or '?'}" if row.get("origin") else "?"
    group = row.get("group")
    return task, "?" if group is None else (group.replace("\n", "\\n") or "(all)")


def _list(args) -> int:
    store = _store(args)
    rows = _rows(store)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    print(f"{'STATUS':<12} {'ORIGIN':<8} {'SOURCE':<28} {'GROUP/TAGS':<28} {'FIELD':<14} {'RECORDS':>9}  ID")
    for r in rows:
        source, group = _source(r)
        records = "?" if "records_seen" not in r else f"{r['records_seen']}{'*' if r.get('warming_up') else ''}"
        line = (
            f"{r['status']:<12} {r.get('origin') or '?':<8} {source:<28} {group:<28} "
            f"{r.get('field') or '?':<14} {records:>9}  {r['id']}"
        )
        if r["status"] == "error":
            line += f"  ({r['error']})"
        elif r["status"] == "quarantined":
            line += f"  ({r['reason']})"
        elif r["status"] == "degraded":
            fault = r["storage_fault"]
            line += (
                f"  (storage fault {fault.get('cause')} since {fault.get('since')}, server pid {fault.get('pid')}:"
                f" scored but not journaled; {fault.get('unjournaled', '?')} input(s) at the last status write)"
            )
        print(line)
    return 0


def _inspect(directory: str) -> dict:
    """Read-only facts about a model directory (live or quarantined): checkpoint size, journal entries."""
    report: dict = {}
    generation = 0
    try:
        with open(os.path.join(directory, CHECKPOINT_FILE), "rb") as f:
            blob, generation = decode_checkpoint(f.read())
        report["checkpoint_bytes"] = len(blob)
        report["checkpoint_generation"] = generation
    except FileNotFoundError:
        report["checkpoint_bytes"] = None
    except StoreError as exc:
        report["checkpoint_bytes"] = None
        report["checkpoint_error"] = str(exc)
    try:
        report["journal_entries"] = len(journal_chain(directory, generation).entries)
    except StoreError as exc:
        report["journal_entries"] = None
        report["journal_error"] = str(exc)
    return report


def _show(args) -> int:
    store = _store(args)
    try:
        if store.exists(args.model_id):
            directory, report = store.model_dir(args.model_id), {"id": args.model_id, "status": "ok"}
        else:
            entry = store.quarantined_entry(args.model_id)
            directory, report = entry.path, _quarantine_row(entry)
    except (ModelNotFoundError, ValueError):
        print(
            f"influxhtm models show: no model or quarantined entry {args.model_id!r} in {store.root}", file=sys.stderr
        )
        return 1
    try:
        with open(os.path.join(directory, METADATA_FILE), "rb") as f:
            report.update(parse_metadata(f.read()).to_json())
    except FileNotFoundError:
        pass
    except StoreError as exc:
        report["metadata_error"] = str(exc)
    report.update(_inspect(directory))
    json.dump(report, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


def _delete(args) -> int:
    store = _store(args)
    status = 0
    for name in args.model_id:
        try:
            if store.exists(name):
                store.delete(name)
            else:
                store.delete_quarantined(name)
            print(f"deleted {name}")
        except (StoreError, ValueError) as exc:
            print(f"influxhtm models delete: {exc}", file=sys.stderr)
            status = 1
    return status


def _export(args) -> int:
    store = _store(args)
    try:
        manifest = export_model(store, args.model_id, args.output)
    except (StoreError, ValueError) as exc:
        print(f"influxhtm models export: {exc}", file=sys.stderr)
        return 1
    print(f"exported {args.model_id} to {args.output} ({len(manifest['files'])} files)")
    return 0


def _import(args) -> int:
    store = _store(args, create=True)
    try:
        imported = import_model(store, args.archive, force=args.force)
    except (StoreError, ValueError, OSError) as exc:
        print(f"influxhtm models import: {exc}", file=sys.stderr)
        return 1
    if imported.replaced is not None:
        print(f"quarantined the existing {imported.model_id} as {imported.replaced.name}")
    print(f"imported {imported.model_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone dispatcher: `main(["models", "list"])` (the `influxhtm` console script normally does this)."""
    parser = argparse.ArgumentParser(prog="influxhtm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)
