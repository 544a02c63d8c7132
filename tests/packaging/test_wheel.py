"""The built wheel, installed into a fresh venv outside the repository, is a complete product.

Builds the wheel as `make wheel` does (scripts/install-engine --wheel: pip and maturin, with the engine's
profile if `make install` recorded one for these sources; the cargo target directories are the install's
caches, so the Rust code is not compiled twice), installs it with no extras into a new venv under a
temporary directory and runs the CLI from there: detect, nab, udf (process mode, spoken to over its pipes)
and examples. Also checks what the wheel puts into site-packages, and that its engine is built as the
script reported.
"""

import csv
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.udf_protocol.client import UdfClient, info_request, init_request, make_point, option, request

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# What a fresh install with no extras must not need at `influxhtm udf` start.
HEAVY_MODULES = ("influxdb", "matplotlib", "numpy", "prometheus_client", "ray", "tqdm")


def run(argv, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel_build(tmp_path_factory):
    """(the wheel, the build's log)."""
    out = tmp_path_factory.mktemp("wheel")
    log = run([str(REPO / "scripts" / "install-engine"), sys.prefix, "--wheel", str(out)])
    (path,) = out.glob("influxhtm-*.whl")
    return path, log


@pytest.fixture(scope="module")
def wheel(wheel_build):
    return wheel_build[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A fresh venv holding only the wheel (no extras) and its dependencies; its bin directory."""
    root = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(root)])
    run([str(root / "bin" / "pip"), "install", "-q", str(wheel)])
    return root / "bin"


def test_wheel_installs_only_the_namespaced_package(wheel):
    with zipfile.ZipFile(wheel) as whl:
        top = {name.split("/")[0] for name in whl.namelist()}
        names = whl.namelist()
    assert top == {"influxhtm", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    assert not [n for n in names if n.endswith(".pth")]
    assert "influxhtm/py.typed" in names and "influxhtm/_engine.pyi" in names
    assert "influxhtm/examples/kapacitor.conf" in names
    assert "influxhtm/examples/tickscripts/htm_stream.tick" in names
    assert "influxhtm/examples/systemd/influxhtm-udf.service" in names
    assert {f"influxhtm/dashboard/static/{f}" for f in ("index.html", "app.js", "style.css")} <= set(names)


def test_wheel_engine_is_built_as_the_script_reports(venv, wheel_build):
    profile_guided = "building the engine with the profile" in wheel_build[1]
    assert profile_guided != ("without profile-guided optimisation" in wheel_build[1]), wheel_build[1]
    code = "from influxhtm import _engine; print(_engine.PROFILE_GUIDED)"
    assert run([str(venv / "python"), "-c", code]).strip() == str(profile_guided)


def test_detect_and_nab_run_from_the_wheel(venv, tmp_path):
    data = tmp_path / "data" / "synthetic"
    data.mkdir(parents=True)
    series = data / "wave.csv"
    with open(series, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        for i in range(400):
            w.writerow(
                [f"2024-01-{1 + i // 288:02d} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00", 50 + 40 * math.sin(i / 9)]
            )
    scores = tmp_path / "scores.csv"
    run([str(venv / "influxhtm"), "detect", str(series), "-o", str(scores), "--quiet"], cwd=tmp_path)
    rows = list(csv.DictReader(open(scores)))
    assert len(rows) == 400 and all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    run(
        [str(venv / "influxhtm"), "nab", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "results")],
        cwd=tmp_path,
    )
    assert (tmp_path / "results" / "influxhtm" / "synthetic" / "influxhtm_wave.csv").is_file()


def test_udf_serves_from_the_wheel_with_engine_and_protobuf_only(venv, tmp_path):
    python = str(venv / "python")
    loaded = run(
        [
            python,
            "-c",
            "import sys, influxhtm.cli; influxhtm.cli.build_parser(); import influxhtm.udf.main; "
            f"print(' '.join(m for m in sys.modules if m.split('.')[0] in {HEAVY_MODULES!r}))",
        ],
        cwd=tmp_path,
    )
    assert loaded.strip() == ""
    with UdfClient.spawn(
        [str(venv / "influxhtm"), "udf", "--state-dir", str(tmp_path / "state")], cwd=tmp_path
    ) as client:
        assert "field" in client.ask(info_request()).options
        assert client.ask(init_request(option("field", "v"), option("min", 0.0), option("max", 10.0))).success
        for i in range(5):
            client.send(request(make_point((1_700_000_000 + 60 * i) * 10**9, float(i), field="v")))
        points = client.points(5)
    assert [p.fieldsDouble["value"] for p in points] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all("anomaly_score" in p.fieldsDouble for p in points)


def test_examples_are_written_out_from_the_wheel(venv, tmp_path):
    run([str(venv / "influxhtm"), "examples", "--out", str(tmp_path / "ex")], cwd=tmp_path)
    assert (tmp_path / "ex" / "kapacitor.conf").read_text() == (REPO / "kapacitor.conf").read_text()
    for tick in (REPO / "tickscripts").iterdir():
        assert (tmp_path / "ex" / "tickscripts" / tick.name).read_text() == tick.read_text()
    unit = REPO / "influxhtm" / "examples" / "systemd" / "influxhtm-udf.service"
    assert (tmp_path / "ex" / "systemd" / unit.name).read_text() == unit.read_text()
