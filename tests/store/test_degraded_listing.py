"""`influxhtm models list` shows the models a live UDF server reports as degraded (its status file)."""

import json
import os

from influxhtm.fileio import write_in_place
from influxhtm.store import ModelMetadata, ModelStore
from influxhtm.store.cli import main


def status(root, pid, degraded):
    data = json.dumps({"format": "influxhtm-udf-status", "version": 1, "pid": pid, "degraded": degraded})
    write_in_place(os.path.join(root, f"udf-status-{pid}.json"), data.encode(), 4096)


def test_list_shows_degraded_models_of_live_servers_only(tmp_path, capsys):
    store = ModelStore(tmp_path)
    store.write_metadata("m1", ModelMetadata(origin="udf", task="t", node="n", group="g", records_seen=7))
    store.write_metadata("m2", ModelMetadata(origin="udf", task="t", node="n", group="h", records_seen=3))
    fault = {"cause": "ENOSPC", "since": "2026-01-01T00:00:00+00:00", "unjournaled": 4}
    status(tmp_path, os.getpid(), {"m1": fault, "gone": {**fault, "cause": "ENOENT"}})
    status(tmp_path, 2**22 + 12345, {"m2": fault})  # no such process: a server killed with -9
    assert main(["models", "--state-dir", str(tmp_path), "list", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["m1"]["status"] == "degraded" and rows["m1"]["storage_fault"]["cause"] == "ENOSPC"
    assert rows["m1"]["records_seen"] == 7
    assert rows["m2"]["status"] == "ok"
    assert rows["gone"]["status"] == "degraded"  # its directory was removed; the server still has it
    assert main(["models", "--state-dir", str(tmp_path), "list"]) == 0
    text = capsys.readouterr().out
    assert "storage fault ENOSPC since 2026-01-01T00:00:00+00:00" in text and "4 input(s)" in text


def test_a_rewrite_in_place_keeps_the_file_size_and_parses(tmp_path):
    path = tmp_path / "status.json"
    write_in_place(path, b'{"a": "' + b"x" * 100 + b'"}', 4096)
    write_in_place(path, b'{"a": 1}', 4096)
    assert os.path.getsize(path) == 4096 and json.loads(path.read_bytes()) == {"a": 1}
