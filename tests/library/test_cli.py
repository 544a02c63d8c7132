"""The InfluxDB subcommands: sensors list|data, backfill, plot, retention setup|show|drop."""

import argparse
import datetime

import pytest

from influxhtm.cli_influx import connect, register
from influxhtm.client import InfluxHtmClient

UTC = datetime.timezone.utc


def run(argv):
    parser = argparse.ArgumentParser(prog="influxhtm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def env(influxdb_server, tmp_path, monkeypatch):
    for name in ["INFLUX_HOST", "INFLUX_PORT", "INFLUX_DATABASE", "INFLUX_USERNAME", "INFLUX_PASSWORD", "INFLUX_SSL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INFLUX_HOST", influxdb_server.host)
    monkeypatch.setenv("INFLUX_PORT", str(influxdb_server.port))
    monkeypatch.setenv("INFLUX_DATABASE", "clitest")
    monkeypatch.setenv("INFLUXHTM_STATE_DIR", str(tmp_path / "models"))
    client = InfluxHtmClient(
        influxdb_server.host,
        influxdb_server.port,
        database="clitest",
        create_database=True,
        model_dir=tmp_path / "models",
    )
    start = datetime.datetime(2024, 5, 1)
    client.get_sensor("motion", "Front+Door").write(
        [(start + datetime.timedelta(minutes=i), float(i % 7)) for i in range(120)]
    )
    client.get_sensor("motion", 'it\'s "odd"; DROP').write([(start, 1.0)])
    yield client
    client.drop_database("clitest")


def test_connection_flags_fall_back_to_environment_and_defaults(monkeypatch):
    for name in ["INFLUX_HOST", "INFLUX_PORT", "INFLUX_DATABASE", "INFLUX_USERNAME", "INFLUX_PASSWORD", "INFLUX_SSL"]:
        monkeypatch.delenv(name, raising=False)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    client = connect(parser.parse_args(["sensors", "list"]))  # nothing set: no crash, InfluxDB defaults
    assert (client._host, client._port, client.database, client._username) == ("localhost", 8086, "htm", "root")
    monkeypatch.setenv("INFLUX_PORT", "9999")
    monkeypatch.setenv("INFLUX_SSL", "yes")
    client = connect(parser.parse_args(["sensors", "list", "--host", "db.example", "--database", "x"]))
    assert (client._host, client._port, client.database, client._scheme) == ("db.example", 9999, "x", "https")
    monkeypatch.setenv("INFLUX_PORT", "eighty")
    with pytest.raises(ValueError, match="INFLUX_PORT"):
        connect(parser.parse_args(["sensors", "list"]))


def test_sensors_list_and_data(env, capsys):
    assert run(["sensors", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["motion\tcomponent=Front+Door\tvalue", 'motion\tcomponent=it\'s "odd"; DROP\tvalue']

    assert (
        run(
            [
                "sensors",
                "data",
                "--measurement",
                "motion",
                "--component",
                "Front+Door",
                "--until",
                "2024-05-01T01:59:00Z",
                "--limit",
                "3",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "time,value",
        "2024-05-01T01:57:00Z,5.0",
        "2024-05-01T01:58:00Z,6.0",
        "2024-05-01T01:59:00Z,0.0",
    ]

    assert (
        run(
            [
                "sensors",
                "data",
                "--measurement",
                "motion",
                "--component",
                "Front+Door",
                "--method",
                "max",
                "--period",
                "1h",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "time,value",
        "2024-05-01T00:00:00Z,6.0",
        "2024-05-01T01:00:00Z,6.0",
    ]

    assert (
        run(
            [
                "sensors",
                "data",
                "--measurement",
                "motion",
                "--component",
                'it\'s "odd"; DROP',
                "--since",
                "2024-05-01T00:00:00Z",
                "--until",
                "2024-05-01T00:30:00Z",
                "--method",
                "count",
                "--period",
                "10m",
                "--fill",
                "0",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "time,value",
        "2024-05-01T00:00:00Z,1",
        "2024-05-01T00:10:00Z,0",
        "2024-05-01T00:20:00Z,0",
        "2024-05-01T00:30:00Z,0",
    ]


def test_bad_aggregation_is_a_clear_error(env):
    with pytest.raises(ValueError, match="unknown aggregation method"):
        run(["sensors", "data", "--measurement", "motion", "--method", "avg", "--period", "1h"])


def test_retention_cli_dry_run_setup_show_drop(env, capsys):
    assert run(["retention", "setup", "--periods", "10m:30d,1d:INF", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert 'CREATE RETENTION POLICY "htm_10m" ON "clitest" DURATION 30d REPLICATION 1;' in out
    assert 'CREATE CONTINUOUS QUERY "cq_htm_1d" ON "clitest" BEGIN' in out
    assert run(["retention", "show"]) == 0
    assert capsys.readouterr().out == ""  # dry run changed nothing

    assert run(["retention", "setup", "--periods", "10m:30d,1d:INF"]) == 0
    capsys.readouterr()
    assert run(["retention", "setup", "--periods", "10m:30d,1d:INF"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "nothing to change" in captured.err
    assert run(["retention", "show"]) == 0
    shown = capsys.readouterr().out
    assert "retention policy htm_10m\tduration 720h0m0s" in shown and "continuous query cq_htm_1d" in shown

    assert run(["retention", "drop"]) == 0
    capsys.readouterr()
    assert run(["retention", "show"]) == 0
    assert capsys.readouterr().out == ""


def test_backfill_and_plot(env, tmp_path, capsys):
    assert run(["backfill", "--measurement", "motion", "--component", "Front+Door", "--quiet"]) == 0
    assert "120 records scored" in capsys.readouterr().err
    results = env.get_sensor("motion", "Front+Door").get_model().get_results()
    assert len(results) == 120
    png = tmp_path / "plot.png"
    assert (
        run(["plot", "--measurement", "motion", "--component", "Front+Door", "-o", str(png), "--threshold", "0.4"]) == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "120 points" in capsys.readouterr().err


def test_influx_errors_exit_2_with_a_message(env, capsys):
    assert run(["retention", "show", "--database", "no_such_db"]) == 2
    assert "InfluxDB error" in capsys.readouterr().err
