"""The end-to-end scenario: a real kapacitord task whose @htm() is `influxhtm udf --cluster` on a head and a
worker Ray node, three groups written to Kapacitor, results read back from InfluxDB and compared with the
in-process oracle. Run in a loopback-only namespace by test_cluster_kapacitord.py."""

from __future__ import annotations

import os
import sys

from influxdb import InfluxDBClient

from influxhtm.stack.influxd import InfluxServer
from influxhtm.stack.kapacitord import KapacitorServer
from influxhtm.stack.udf_server import UdfServerProcess
from tests.cluster.ray_nodes import RayCluster, report
from tests.e2e.helpers import (
    DB,
    RP,
    TICKSCRIPTS,
    assert_scores_equal,
    interleave,
    lines,
    nab_series,
    offline_scores,
    query,
    stream_vars,
    wait_count,
)

SERIES = "artificialWithAnomaly/art_daily_jumpsup.csv"
HOSTS = ("web1", "web2", "web3")
ROWS = 600


def main(workdir: str, kapacitord: str) -> None:
    cluster = RayCluster()
    cluster.add_worker()
    series = nab_series(SERIES, rows=ROWS)
    result: dict = {}
    with (
        InfluxServer(os.path.join(workdir, "influxd")) as influx,
        UdfServerProcess(
            os.path.join(workdir, "htm.sock"),
            os.path.join(workdir, "state"),
            extra_args=["--cluster", cluster.address],
            log_path=os.path.join(workdir, "udf.log"),
            startup_timeout=180,
        ),
        KapacitorServer(
            os.path.join(workdir, "kapacitor"),
            influx.url,
            udf_socket=os.path.join(workdir, "htm.sock"),
            kapacitord=kapacitord,
        ) as kapacitor,
    ):
        client = InfluxDBClient(influx.host, influx.port, database=DB)
        client.create_database(DB)
        kapacitor.define_task(
            "cluster_e2e",
            (TICKSCRIPTS / "htm_stream.tick").read_text(),
            dbrps=[(DB, RP)],
            vars=stream_vars("clustered", series, group_by=["host"]),
        )
        kapacitor.write(interleave(*(lines("clustered", {"host": h}, series) for h in HOSTS)), db=DB, rp=RP)
        result["results"] = wait_count(
            client, "clustered_htm", ROWS * len(HOSTS), kap=kapacitor, task_id="cluster_e2e", timeout=240
        )
        expected = offline_scores(series)
        result["mismatches"] = {}
        for host in HOSTS:
            rows = query(client, f'SELECT * FROM "clustered_htm" WHERE "host" = \'{host}\'')
            try:
                assert_scores_equal(rows, expected, series)
            except AssertionError as exc:
                result["mismatches"][host] = str(exc)[:500]
        result["task_error"] = kapacitor.task_error("cluster_e2e")
    sys.stderr.write(open(os.path.join(workdir, "udf.log")).read()[-3000:])
    report(result)
    cluster.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
