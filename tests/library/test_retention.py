"""Retention policies and continuous queries for HTM results, checked with SHOW and by letting a CQ run."""

import time

import pytest

from influxhtm.influxql import line, quote_ident
from influxhtm.retention import Period, cq_statement, drop_retention, parse_periods, setup_retention, show_retention
from influxhtm.schema import ANOMALY_LIKELIHOOD, ANOMALY_SCORE, LEGACY_FIELD_TAG, RAW_SCORE, SOURCE_FIELD_TAG, VALUE


def test_parse_periods():
    assert parse_periods("10m:30d, 1h:365d,1d:INF") == [Period("10m", "30d"), Period("1h", "365d"), Period("1d", "INF")]
    for bad in ["", "10m", "10x:30d", "10m:30m", "1d:2h", "10m:30d,10m:1h", "0s:1h"]:
        with pytest.raises(ValueError):
            parse_periods(bad)


def test_setup_creates_rps_and_cqs_and_is_idempotent(client):
    changes = setup_retention(client, "10m:30d,1h:365d,1d:INF")
    assert [(c.action, c.name) for c in changes] == [
        ("create", "htm_10m"),
        ("create", "htm_1h"),
        ("create", "htm_1d"),
        ("create", "cq_htm_10m"),
        ("create", "cq_htm_1h"),
        ("create", "cq_htm_1d"),
    ]
    rps = {row["name"]: row for row in client.query(f'SHOW RETENTION POLICIES ON "{client.database}"').get_points()}
    assert rps["htm_10m"]["duration"] == "720h0m0s"
    assert rps["htm_1h"]["duration"] == "8760h0m0s"
    assert rps["htm_1d"]["duration"] == "0s"
    assert rps["autogen"]["default"] is True  # the default RP is left alone
    cqs = {
        row["name"]: row["query"]
        for row in client.query("SHOW CONTINUOUS QUERIES").get_points(measurement=client.database)
    }
    assert set(cqs) == {"cq_htm_10m", "cq_htm_1h", "cq_htm_1d"}
    query = cqs["cq_htm_10m"]
    for part in [
        "mean(value) AS value",
        "mean(prediction) AS prediction",
        "max(anomaly_score) AS anomaly_score_max",
        "mean(anomaly_score) AS anomaly_score_mean",
        "max(raw_score) AS raw_score_max",
        "GROUP BY time(10m), *",
        "INTO " + client.database + ".htm_10m.:MEASUREMENT",
        "/^.*_htm$/",
    ]:
        assert part in query

    assert setup_retention(client, "10m:30d,1h:365d,1d:INF") == []  # twice = no change

    changed = setup_retention(client, "10m:60d")
    assert [(c.action, c.name) for c in changed] == [("alter", "htm_10m")]
    assert show_retention(client)["retention_policies"]["htm_10m"]["duration"] == "1440h0m0s"


def test_dry_run_changes_nothing(client):
    changes = setup_retention(client, "10m:30d", dry_run=True)
    statements = [s for c in changes for s in c.statements]
    assert statements[0] == f'CREATE RETENTION POLICY "htm_10m" ON "{client.database}" DURATION 30d REPLICATION 1'
    assert statements[1].startswith(f'CREATE CONTINUOUS QUERY "cq_htm_10m" ON "{client.database}" BEGIN SELECT ')
    assert show_retention(client) == {"retention_policies": {}, "continuous_queries": {}}


def test_sensor_cq_with_hostile_component_and_drop(client):
    odd = client.get_sensor("motion", 'it\'s "odd"; DROP')
    plain = client.get_sensor("motion", "Front+Door")
    setup_retention(client, "10m:30d", sensor=odd)
    setup_retention(client, "10m:30d", sensor=plain)
    assert setup_retention(client, "10m:30d", sensor=odd) == []
    odd_cqs = show_retention(client, sensor=odd)["continuous_queries"]
    assert len(odd_cqs) == 1
    (query,) = odd_cqs.values()
    assert "component::tag = 'it\\'s \"odd\"; DROP'" in query
    assert "source_field::tag = 'value'" in query
    assert "FROM " + client.database + ".autogen.motion_htm" in query
    assert len(show_retention(client)["continuous_queries"]) == 2

    dropped = drop_retention(client, sensor=odd)
    assert [c.action for c in dropped] == ["drop"]
    assert len(show_retention(client)["continuous_queries"]) == 1
    assert "htm_10m" in show_retention(client)["retention_policies"]  # shared RPs stay for a sensor drop

    drop_retention(client)
    assert show_retention(client) == {"retention_policies": {}, "continuous_queries": {}}


def test_continuous_query_runs_and_keeps_tags(client):
    setup_retention(client, "2s:1h")
    start = time.time_ns()
    lines = []
    for i in range(80):  # 8 s of results, 10 per second, two series
        t = start + i * 100_000_000
        for component, base in (("a", 0.0), ("b", 10.0)):
            lines.append(
                line(
                    "motion_htm",
                    {"component": component, SOURCE_FIELD_TAG: "value"},
                    {
                        VALUE: base + i,
                        RAW_SCORE: 0.0,
                        ANOMALY_LIKELIHOOD: 0.5,
                        ANOMALY_SCORE: 1.0 if i % 10 == 3 else 0.1,
                    },
                    t,
                )
            )
    client.write_lines(lines)
    deadline = time.monotonic() + 20
    rows = []
    while time.monotonic() < deadline:
        rows = list(
            client.query('SELECT * FROM "htm_2s"."motion_htm" GROUP BY *', epoch="ns").get_points(
                tags={"component": "a", SOURCE_FIELD_TAG: "value"}
            )
        )
        if len(rows) >= 2:
            break
        time.sleep(0.5)
    assert len(rows) >= 2, "the continuous query wrote nothing within 20 s"
    spikes = 0
    for row in rows:
        # The first 2 s bucket can hold only the first few points (the writes start anywhere in it).
        expected = [i for i in range(80) if row["time"] <= start + i * 100_000_000 < row["time"] + 2_000_000_000]
        assert row["value"] == pytest.approx(sum(expected) / len(expected))
        spiked = any(i % 10 == 3 for i in expected)
        assert row["anomaly_score_max"] == (1.0 if spiked else 0.1)  # a spike survives downsampling
        assert row["anomaly_score_mean"] < 1.0
        spikes += spiked
    assert spikes, "no bucket held a spike"
    b_rows = list(
        client.query('SELECT * FROM "htm_2s"."motion_htm" GROUP BY *').get_points(
            tags={"component": "b", SOURCE_FIELD_TAG: "value"}
        )
    )
    assert b_rows, "tags were not kept (GROUP BY *)"


def test_sensor_cq_made_for_the_old_tag_is_replaced(client):
    sensor = client.get_sensor("motion", "Front+Door")
    new = cq_statement(client.database, Period("10m", "30d"), "autogen", sensor)
    old = new.replace(f"{quote_ident(SOURCE_FIELD_TAG)}::tag", f"{quote_ident(LEGACY_FIELD_TAG)}::tag")
    assert old != new
    client.query(f'CREATE RETENTION POLICY "htm_10m" ON {quote_ident(client.database)} DURATION 30d REPLICATION 1')
    client.query(old, method="POST")
    changes = setup_retention(client, "10m:30d", sensor=sensor)
    assert [(c.action, c.kind) for c in changes] == [("replace", "continuous query")]
    (query,) = show_retention(client, sensor=sensor)["continuous_queries"].values()
    assert "source_field::tag = 'value'" in query and "field::tag" not in query.replace("source_field", "")
