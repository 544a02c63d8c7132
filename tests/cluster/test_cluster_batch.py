"""The batch jobs on a real two-node Ray cluster: `nab --cluster` and `backfill --cluster --group-by` score
exactly as a local run."""

import filecmp
import shutil
from pathlib import Path

from influxhtm.cli import main as influxhtm
from influxhtm.htm import AnomalyDetector
from tests.cluster.batch_cluster import HOSTS, series
from tests.cluster.ray_nodes import in_namespace

NAB_DATA = Path(__file__).resolve().parents[1] / "fixtures" / "nab" / "data"
FILES = (
    "realTraffic/speed_7578.csv",
    "realTraffic/TravelTime_451.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
    "realAdExchange/exchange-2_cpm_results.csv",
)


def test_cluster_nab_writes_the_results_of_a_local_run_from_both_nodes(tmp_path):
    for name in FILES:
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NAB_DATA / name, tmp_path / "data" / name)
    for detector in ("numenta", "ensemble"):
        assert (
            influxhtm(
                ["nab", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "local"), "--detector", detector]
            )
            == 0
        )
    result = in_namespace("tests.cluster.batch_cluster", "nab", str(tmp_path))
    for detector, name in (("numenta", "influxhtm"), ("ensemble", "influxhtm_ensemble")):
        assert result[detector] == {"exit": 0, "nodes": 2}, result  # every file a task, on both nodes
        for path in FILES:
            category, filename = path.split("/")
            written = f"{name}/{category}/{name}_{filename}"
            assert filecmp.cmp(tmp_path / "cluster" / written, tmp_path / "local" / written, shallow=False), written


def test_cluster_backfill_group_by_scores_every_series_as_in_process(tmp_path):
    result = in_namespace("tests.cluster.batch_cluster", "backfill", str(tmp_path))
    for host in HOSTS:
        reference = AnomalyDetector(min_value=0.0, max_value=100.0, probation=50)
        expected = [list(reference.handle(t, v))[:3] for t, v in series(host)]
        assert result["clustered"]["scores"][host] == expected, host
        assert result["local"]["scores"][host] == expected, host
    for run in result.values():
        assert run["exit"] == 0, run
        assert len(run["summaries"]) == len(HOSTS) + 1, run  # one line per series and the total
        assert run["summaries"][-1] == f"backfill: {len(HOSTS) * 300} records scored in {len(HOSTS)} series"


def test_cluster_nab_refuses_jobs_with_cluster_before_starting_anything(tmp_path, capsys):
    argv = ["nab", "--data", str(NAB_DATA), "--out", str(tmp_path), "--jobs", "2", "--cluster", "auto"]
    assert influxhtm(argv) == 2
    assert "--jobs and --cluster exclude each other" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
