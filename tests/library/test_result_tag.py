"""The result tag `source_field`, results still stored under the old tag `field`, and `migrate-results`."""

import argparse
import datetime
from dataclasses import fields

import pytest

from influxhtm.cli_influx import register
from influxhtm.influxql import build_select, line, quote_ident, to_ns
from influxhtm.results import HtmModelResults, migrate_results, prefer_current_tag
from influxhtm.schema import (
    ANOMALY_LIKELIHOOD,
    ANOMALY_SCORE,
    LEGACY_FIELD_TAG,
    RAW_SCORE,
    RESULT_FIELDS,
    SOURCE_FIELD_TAG,
    VALUE,
    result_series_filters,
    result_tags,
)

UTC = datetime.timezone.utc
START = datetime.datetime(2024, 3, 1, tzinfo=UTC)
MINUTE = 60_000_000_000


def at(i: int) -> datetime.datetime:
    return START + datetime.timedelta(minutes=i)


def scores(i: int) -> dict:
    return {VALUE: float(i), RAW_SCORE: i / 100, ANOMALY_LIKELIHOOD: 0.5, ANOMALY_SCORE: i / 1000}


def old_line(i: int, component="door", field="value", measurement="motion_htm") -> str:
    """A result point as results were written before the rename: tag `field`."""
    return line(measurement, {"component": component, LEGACY_FIELD_TAG: field}, scores(i), to_ns(at(i)))


def series_keys(client, measurement="motion_htm") -> list:
    return sorted(row["key"] for row in client.query(f"SHOW SERIES FROM {quote_ident(measurement)}").get_points())


# -- the schema -------------------------------------------------------------------------------------------------


def test_the_tag_is_source_field_and_filters_find_old_and_new():
    assert SOURCE_FIELD_TAG == "source_field" and LEGACY_FIELD_TAG == "field"
    assert result_tags({"host": "a"}, "usage") == {"host": "a", "source_field": "usage"}
    assert result_series_filters({"host": "a"}, "usage") == [
        {"host": "a", "source_field": "usage"},
        {"host": "a", "field": "usage", "source_field": ""},
    ]
    # a source series with its own `field` tag: the old schema never wrote its results, so no old filter
    assert result_series_filters({"field": "x"}, "usage") == [{"field": "x", "source_field": "usage"}]
    with pytest.raises(ValueError, match="source_field"):
        result_tags({"source_field": "other"}, "usage")


def test_select_of_any_of_several_tag_sets_quotes_the_keyword():
    query, params = build_select(
        '"m_htm"', [VALUE], result_series_filters({"component": "a"}, "value"), tag_columns=[SOURCE_FIELD_TAG]
    )
    assert query == (
        'SELECT "value"::field AS "value", "source_field"::tag AS "source_field" FROM "m_htm" WHERE '
        '(("component"::tag = $tag0_0 AND "source_field"::tag = $tag0_1) OR '
        '("component"::tag = $tag1_0 AND "field"::tag = $tag1_1 AND "source_field"::tag = $tag1_2))'
    )
    assert params == {"tag0_0": "a", "tag0_1": "value", "tag1_0": "a", "tag1_1": "value", "tag1_2": ""}


def test_prefer_current_tag_keeps_the_new_twin_only():
    rows = [
        {"time": 1, "value": 1.0, SOURCE_FIELD_TAG: None},
        {"time": 2, "value": 2.0, SOURCE_FIELD_TAG: None},
        {"time": 2, "value": 2.5, SOURCE_FIELD_TAG: "value"},
        {"time": 3, "value": 3.0, SOURCE_FIELD_TAG: "value"},
        {"time": 3, "value": 3.5, SOURCE_FIELD_TAG: "v"},
    ]
    assert prefer_current_tag(rows) == [
        {"time": 1, "value": 1.0},
        {"time": 2, "value": 2.5},
        {"time": 3, "value": 3.0},
        {"time": 3, "value": 3.5},
    ]


# -- reading old and new results ---------------------------------------------------------------------------------


def test_results_under_the_old_tag_are_read_with_the_new(client):
    model = client.get_sensor("motion", "door").get_model()
    client.write_lines([old_line(i) for i in range(5)])  # before the upgrade
    model.write([dict(scores(i), time=at(i)) for i in range(5, 10)])  # after it
    # not this sensor's: another component, another modelled field, and a new-style point whose source
    # series has a tag `field` (it must not pass for an old one)
    client.write_lines(
        [
            old_line(3, component="window"),
            old_line(4, field="other"),
            line(
                "motion_htm",
                {"component": "door", "field": "value", SOURCE_FIELD_TAG: "other"},
                scores(99),
                to_ns(at(7)),
            ),
        ]
    )
    assert series_keys(client) == [
        "motion_htm,component=door,field=other",
        "motion_htm,component=door,field=value",
        "motion_htm,component=door,field=value,source_field=other",
        "motion_htm,component=door,source_field=value",
        "motion_htm,component=window,field=value",
    ]

    results = model.get_results()
    assert [(r.time, r.value, r.raw_score, r.anomaly_score) for r in results] == [
        (at(i), float(i), i / 100, i / 1000) for i in range(10)
    ]
    assert [r.value for r in model.get_results(limit=3)] == [0.0, 1.0, 2.0]
    assert [r.value for r in model.get_results(until=at(9), limit=3)] == [7.0, 8.0, 9.0]
    assert [r.value for r in model.get_results(since=at(3), until=at(6))] == [3.0, 4.0, 5.0, 6.0]
    (total,) = model.get_results(aggregation={"method": "count"})
    assert total.value == 10
    buckets = model.get_results(aggregation={"method": "max", "period": "5m"})
    assert [r.value for r in buckets] == [4.0, 9.0]
    first, last = client.series_time_bounds(
        '"motion_htm"', VALUE, result_series_filters({"component": "door"}, "value")
    )
    assert (first, last) == (at(0), at(9))

    # a point under both tags (copied, old one not dropped yet) is returned once, with the new values
    client.write_lines([old_line(6)])
    model.write(dict(scores(6), value=60.0, time=at(6)))
    assert [r.value for r in model.get_results()] == [0, 1, 2, 3, 4, 5, 60, 7, 8, 9]

    model.delete(drop_results=True)  # drops the old-tag series of the model too, nothing else
    assert model.get_results() == []
    assert series_keys(client) == [
        "motion_htm,component=door,field=other",
        "motion_htm,component=door,field=value,source_field=other",
        "motion_htm,component=window,field=value",
    ]


def test_paged_read_of_old_and_new_results(client):
    client.page_size = 4  # several pages, old and new points in each
    model = client.get_sensor("motion", "door").get_model()
    client.write_lines([old_line(i) for i in range(0, 20, 2)])
    model.write([dict(scores(i), time=at(i)) for i in range(1, 20, 2)])
    assert [r.value for r in model.get_results()] == [float(i) for i in range(20)]


# -- migration ---------------------------------------------------------------------------------------------------


def _stored(client, measurement, rp="autogen"):
    """{(series tags, time): fields} of every point (the tags from GROUP BY *, empty ones left out)."""
    result = client.query(f"SELECT * FROM {quote_ident(rp)}.{quote_ident(measurement)} GROUP BY *", epoch="ns")
    return {
        (tuple(sorted((k, v) for k, v in tags.items() if v)), row["time"]): {
            k: v for k, v in row.items() if k != "time" and v is not None
        }
        for (_, tags), rows in result.items()
        for row in rows
    }


def _renamed(stored):
    """``stored`` as the migration should leave it: old-tag points under the new tag."""
    out = {}
    for (tags, time), row in stored.items():
        tags = dict(tags)
        if LEGACY_FIELD_TAG in tags and SOURCE_FIELD_TAG not in tags:
            tags[SOURCE_FIELD_TAG] = tags.pop(LEGACY_FIELD_TAG)
        out[(tuple(sorted(tags.items())), time)] = row
    return out


@pytest.fixture
def old_results(client):
    """Results under the old tag in two measurements and two RPs, plus things the migration must leave alone."""
    db = quote_ident(client.database)
    client.query(f'CREATE RETENTION POLICY "htm_10m" ON {db} DURATION 1000w REPLICATION 1', method="POST")
    lines = []
    for i in range(23):  # two series at the same instants: chunks end inside an instant
        lines.append(old_line(i))
        lines.append(old_line(i, component="window", measurement="motion_htm"))
    for i in range(5):  # other fields a task may keep (.keepFields): their types must survive
        lines.append(f'cpu_htm,field=usage_idle,host=a\\ b kept=7i,note="it\\"s",up=true,value={i}.0 {to_ns(at(i))}')
    # a new-style point whose source series has a `field` tag
    lines.append(line("cpu_htm", {"host": "c", "field": "x", SOURCE_FIELD_TAG: "usage_idle"}, scores(1), to_ns(at(1))))
    client.write_lines(lines)
    client.write_lines(
        [
            line(
                "motion_htm",
                {"component": "door", LEGACY_FIELD_TAG: "value"},
                {"anomaly_score_max": 0.5, "value": 3.0},
                to_ns(at(i * 10)),
            )
            for i in range(3)
        ],
        retention_policy="htm_10m",
    )
    return {
        ("autogen", "motion_htm"): _stored(client, "motion_htm"),
        ("autogen", "cpu_htm"): _stored(client, "cpu_htm"),
        ("htm_10m", "motion_htm"): _stored(client, "motion_htm", "htm_10m"),
    }


@pytest.fixture
def source_with_a_field_tag(client):
    """A source measurement with a `field` tag of its own: no result, never touched by the migration."""
    client.write_lines([line("cpu", {"host": "a", "field": "x"}, {"usage_idle": 1.0}, to_ns(at(1)))])
    before = _stored(client, "cpu")
    yield
    assert _stored(client, "cpu") == before


def test_migration_dry_run_changes_nothing(client, old_results):
    report = migrate_results(client, drop_old=True, dry_run=True)
    assert sorted((m.retention_policy, m.measurement, m.points) for m in report.copied) == [
        ("autogen", "cpu_htm", 5),
        ("autogen", "motion_htm", 46),
        ("htm_10m", "motion_htm", 3),
    ]
    assert sorted(report.dropped) == [
        """DROP SERIES FROM "cpu_htm" WHERE "field" != '' AND "source_field" = ''""",
        """DROP SERIES FROM "motion_htm" WHERE "field" != '' AND "source_field" = ''""",
    ]
    assert _stored(client, "motion_htm") == old_results[("autogen", "motion_htm")]
    assert _stored(client, "cpu_htm") == old_results[("autogen", "cpu_htm")]


@pytest.mark.parametrize("chunk_size", [1, 3, 5000])
def test_migration_copies_every_point_then_drops_the_old_series(
    client, old_results, source_with_a_field_tag, chunk_size
):
    report = migrate_results(client, chunk_size=chunk_size)
    assert sorted((m.retention_policy, m.measurement, m.points) for m in report.copied) == [
        ("autogen", "cpu_htm", 5),
        ("autogen", "motion_htm", 46),
        ("htm_10m", "motion_htm", 3),
    ]
    assert report.dropped == ()
    for (rp, measurement), before in old_results.items():  # old points kept, each copied under the new tag
        after = _stored(client, measurement, rp)
        assert {k: v for k, v in after.items() if k in before} == before
        copies = {k: v for k, v in after.items() if k not in before}
        assert copies == {k: v for k, v in _renamed(before).items() if k not in before}
    types = {row["fieldKey"]: row["fieldType"] for row in client.query('SHOW FIELD KEYS FROM "cpu_htm"').get_points()}
    assert types == {
        "kept": "integer",
        "note": "string",
        "up": "boolean",
        "value": "float",
        RAW_SCORE: "float",
        ANOMALY_LIKELIHOOD: "float",
        ANOMALY_SCORE: "float",
    }
    # readers see each point once meanwhile
    model = client.get_sensor("motion", "door").get_model()
    assert [r.value for r in model.get_results()] == [float(i) for i in range(23)]

    again = migrate_results(client, drop_old=True)  # idempotent copy, then the drop
    assert len(again.dropped) == 2
    for (rp, measurement), before in old_results.items():
        assert _stored(client, measurement, rp) == _renamed(before)
    assert series_keys(client, "cpu_htm") == [
        "cpu_htm,field=x,host=c,source_field=usage_idle",
        "cpu_htm,host=a\\ b,source_field=usage_idle",
    ]
    assert [r.value for r in model.get_results()] == [float(i) for i in range(23)]
    assert migrate_results(client, drop_old=True).copied == ()  # nothing left under the old tag


def test_migration_of_named_measurements_only(client, old_results):
    report = migrate_results(client, "cpu_htm", drop_old=True)
    assert [(m.retention_policy, m.measurement, m.points) for m in report.copied] == [("autogen", "cpu_htm", 5)]
    assert _stored(client, "cpu_htm") == _renamed(old_results[("autogen", "cpu_htm")])
    assert _stored(client, "motion_htm") == old_results[("autogen", "motion_htm")]


def test_migrate_results_command(client, old_results, influxdb_server, monkeypatch, capsys):
    monkeypatch.setenv("INFLUX_HOST", influxdb_server.host)
    monkeypatch.setenv("INFLUX_PORT", str(influxdb_server.port))
    monkeypatch.setenv("INFLUX_DATABASE", client.database)
    parser = argparse.ArgumentParser(prog="influxhtm")
    register(parser.add_subparsers(dest="command", required=True))

    def run(*argv):
        args = parser.parse_args(["migrate-results", *argv])
        return args.func(args)

    assert run("--dry-run", "--drop-old") == 0
    out = capsys.readouterr().out
    assert "autogen.motion_htm\t46 points to copy" in out and "(dry run)" in out
    assert _stored(client, "motion_htm") == old_results[("autogen", "motion_htm")]
    assert run("--measurement", "motion_htm") == 0
    captured = capsys.readouterr()
    assert "autogen.motion_htm\t46 points copied" in captured.out and "--drop-old" in captured.err
    assert run("--measurement", "motion_htm", "--drop-old", "--chunk-size", "7") == 0
    assert 'DROP SERIES FROM "motion_htm"' in capsys.readouterr().out
    for rp in ("autogen", "htm_10m"):
        assert _stored(client, "motion_htm", rp) == _renamed(old_results[(rp, "motion_htm")])
    assert run("--measurement", "motion_htm") == 0
    assert "no results under the old tag" in capsys.readouterr().err


def test_result_fields_are_the_reader_fields():
    assert tuple(f.name for f in fields(HtmModelResults))[1:] == RESULT_FIELDS
