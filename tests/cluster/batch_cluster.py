"""The batch jobs on a head and a worker Ray node: `influxhtm nab --cluster` over a small corpus, and
`influxhtm backfill --cluster --group-by` over three series in an influxd of the namespace. Run in a
loopback-only namespace by test_cluster_batch.py (see ray_nodes.in_namespace)."""

from __future__ import annotations

import datetime
import math
import os
import re
import subprocess
import sys

from influxhtm.client import InfluxHtmClient
from influxhtm.stack.influxd import InfluxServer
from tests.cluster.ray_nodes import REPO, RayCluster, report

INFLUXHTM = os.path.join(os.path.dirname(sys.executable), "influxhtm")
HOSTS = ("a", "b", "c")
POINTS = 300
START = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)
BACKFILL_OPTIONS = ["--min", "0", "--max", "100", "--probation", "50", "--chunk-size", "120"]


def series(host: str) -> list[tuple[datetime.datetime, float]]:
    """POINTS one-minute values of a host, each host its own phase, one spike."""
    phase = HOSTS.index(host)
    return [
        (START + datetime.timedelta(minutes=i), 50 + 30 * math.sin(i / 9 + phase) + (35 if i == 200 else 0))
        for i in range(POINTS)
    ]


def influxhtm(*args: str) -> dict:
    """Run the CLI; its exit code and stderr."""
    proc = subprocess.run([INFLUXHTM, *args], cwd=REPO, stderr=subprocess.PIPE, text=True, timeout=300)
    sys.stderr.write(proc.stderr[-3000:])
    return {"exit": proc.returncode, "stderr": proc.stderr}


def nodes(stderr: str) -> int:
    """How many nodes ran the progress lines' tasks."""
    return len(set(re.findall(r"\(node (\w+)\)", stderr)))


def nab(workdir: str, cluster: RayCluster) -> dict:
    result = {}
    for detector in ("numenta", "ensemble"):
        run = influxhtm(
            "nab", "--data", os.path.join(workdir, "data"), "--out", os.path.join(workdir, "cluster"),
            "--detector", detector, "--cluster", cluster.address,
        )  # fmt: skip
        result[detector] = {"exit": run["exit"], "nodes": nodes(run["stderr"])}
    return result


def backfill(workdir: str, cluster: RayCluster) -> dict:
    result: dict = {}
    with InfluxServer(os.path.join(workdir, "influxd")) as influx:
        for database in ("clustered", "local"):
            client = InfluxHtmClient(influx.host, influx.port, database=database, create_database=True)
            for host in HOSTS:
                client.get_sensor("cpu", host, tag_key="host", field="usage").write(series(host))
        for database, extra in (("clustered", ["--cluster", cluster.address]), ("local", [])):
            state = os.path.join(workdir, f"state-{database}")
            connection = ["--host", influx.host, "--port", str(influx.port), "--database", database]
            run = influxhtm(
                "backfill", *connection, "--state-dir", state, "--measurement", "cpu", "--field", "usage",
                "--group-by", "host", "--quiet", *BACKFILL_OPTIONS, *extra,
            )  # fmt: skip
            client = InfluxHtmClient(influx.host, influx.port, database=database, model_dir=state)
            result[database] = {
                "exit": run["exit"],
                "summaries": [line for line in run["stderr"].splitlines() if line.startswith("backfill")],
                "scores": {
                    host: [
                        [r.raw_score, r.anomaly_likelihood, r.anomaly_score]
                        for r in client.get_sensor("cpu", host, tag_key="host", field="usage").get_model().get_results()
                    ]
                    for host in HOSTS
                },
            }
    return result


def main(scenario: str, workdir: str) -> None:
    cluster = RayCluster()
    cluster.add_worker()
    report({"nab": nab, "backfill": backfill}[scenario](workdir, cluster))
    cluster.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
