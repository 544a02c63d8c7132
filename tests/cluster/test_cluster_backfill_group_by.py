"""`influxhtm backfill --group-by` without Ray (the series discovery `--cluster` spreads): one model per
value of the tag in the measurement, against a real influxd."""

import argparse
import datetime

import pytest

from influxhtm.cli_influx import register

START = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)


def run(client, *argv):
    parser = argparse.ArgumentParser(prog="influxhtm")
    register(parser.add_subparsers(dest="command", required=True))
    connection = ["--host", client._host, "--port", str(client._port), "--database", client.database]
    args = parser.parse_args(["backfill", *connection, "--state-dir", str(client.model_dir), *argv])
    return args.func(args)


def write(client, measurement, host, n, field="usage"):
    points = [(START + datetime.timedelta(minutes=i), float(i % 11)) for i in range(n)]
    client.get_sensor(measurement, host, tag_key="host", field=field).write(points)


def test_cluster_backfill_group_by_finds_every_series_of_the_measurement(client, capsys):
    write(client, "cpu", "a", 40)
    write(client, "cpu", "b web", 30)  # values needing quoting
    write(client, "mem", "z", 20)  # another measurement: not a series of cpu
    argv = ["--measurement", "cpu", "--field", "usage", "--group-by", "host", "--detector", "ensemble", "--quiet"]
    assert run(client, *argv) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("backfill Sensor(measurement='cpu', host='a', field='usage'): 40 records scored")
    assert lines[1].startswith("backfill Sensor(measurement='cpu', host='b web', field='usage'): 30 records scored")
    assert lines[2:] == ["backfill: 70 records scored in 2 series"]
    for host, n in (("a", 40), ("b web", 30)):
        model = client.get_sensor("cpu", host, tag_key="host", field="usage").get_model()
        assert (model.records_seen, model.detector.detector) == (n, "ensemble")
        assert len(model.get_results()) == n
    assert run(client, *argv) == 0  # resumable: nothing new to score
    assert capsys.readouterr().err.splitlines()[-1] == "backfill: 0 records scored in 2 series"


def test_cluster_backfill_group_by_refuses_what_it_cannot_split(client):
    write(client, "cpu", "a", 5)
    with pytest.raises(ValueError, match="no series of 'cpu' with tag 'rack'"):
        run(client, "--measurement", "cpu", "--field", "usage", "--group-by", "rack")
    with pytest.raises(ValueError, match="one tag"):
        run(client, "--measurement", "cpu", "--group-by", "host", "--group-by", "rack")
    with pytest.raises(ValueError, match="--component names one sensor"):
        run(client, "--measurement", "cpu", "--group-by", "host", "--component", "a")
