"""Quoting, escaping, durations and time conversion; quoting checked against InfluxDB's own parser."""

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from influxhtm.client import InfluxHtmClient
from influxhtm.influxql import (
    Nanos,
    build_select,
    from_ns,
    line,
    parse_duration,
    quote_ident,
    quote_literal,
    to_ns,
    to_utc,
)

UTC = datetime.timezone.utc


def test_quoting():
    assert quote_ident('it\'s "odd"; DROP') == '"it\'s \\"odd\\"; DROP"'
    assert quote_literal('it\'s "odd"; DROP') == "'it\\'s \"odd\"; DROP'"
    assert quote_literal("a\\b") == "'a\\\\b'"
    assert quote_ident("new\nline") == '"new\\nline"'
    with pytest.raises(ValueError):
        quote_ident("")


def test_durations():
    assert parse_duration("10m") == 600 * 10**9
    assert parse_duration("1h30m") == 5400 * 10**9
    assert parse_duration("720h0m0s") == 720 * 3600 * 10**9  # as SHOW RETENTION POLICIES prints it
    assert parse_duration("INF") == 0
    for bad in ["", "10", "m", "10 m", "10m;", "1y", "-1h"]:
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_times_are_utc():
    naive = datetime.datetime(2024, 1, 1, 12, 0)
    assert to_utc(naive) == datetime.datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    tokyo = datetime.timezone(datetime.timedelta(hours=9))
    assert to_utc(datetime.datetime(2024, 1, 1, 21, 0, tzinfo=tokyo)) == to_utc(naive)
    assert to_utc("2024-01-01T12:00:00Z") == to_utc("2024-01-01T13:00:00+01:00") == to_utc(naive)
    assert to_utc(datetime.date(2024, 1, 1)) == datetime.datetime(2024, 1, 1, tzinfo=UTC)
    assert to_ns(naive) == 1704110400 * 10**9 == to_ns(1704110400) == to_ns(Nanos(1704110400 * 10**9))
    assert to_ns(1704110400.25) == 1704110400250000000
    assert from_ns(1704110400 * 10**9 + 123_456_789) == datetime.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    for bad in ["noon", None, float("nan")]:
        with pytest.raises((TypeError, ValueError)):
            to_ns(bad)


def test_line_protocol_floats_only():
    assert line("m", {"b": "2", "a": "1"}, {"value": 0}, 5) == "m,a=1,b=2 value=0.0 5"
    assert line("m", {}, {"value": 1e-05}, 5) == "m value=1e-05 5"
    with pytest.raises(ValueError):
        line("m", {}, {"value": float("inf")}, 5)
    with pytest.raises(ValueError):
        line("m", {}, {"value": None}, 5)


def test_build_select_binds_tag_values():
    query, params = build_select(
        '"m"', ["value"], {"component": "x'; DROP"}, since_ns=1, until_ns=2, limit=3, last_n=True
    )
    assert query == (
        'SELECT "value"::field AS "value" FROM "m" WHERE "component"::tag = $tag0 '
        "AND time >= 1 AND time <= 2 ORDER BY time DESC LIMIT 3"
    )
    assert params == {"tag0": "x'; DROP"}


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda s: not s.endswith("\\") and not any(s[i] == "\\" and s[i + 1] in ",= " for i in range(len(s) - 1))
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(component=names)
def test_any_component_round_trips_through_quoting(influxdb_server, component):
    client = InfluxHtmClient(influxdb_server.host, influxdb_server.port, database="quoting", create_database=True)
    client.write_lines([line("q", {"component": component}, {"value": 1.0}, 10**9)])
    rows = list(client.query(f'SELECT "value" FROM "q" WHERE "component" = {quote_literal(component)}').get_points())
    assert len(rows) == 1
    tags = [row["value"] for row in client.query('SHOW TAG VALUES FROM "q" WITH KEY = "component"').get_points()]
    assert component in tags
    assert client.get_sensor("q", component).get_data() == [{"time": from_ns(10**9), "value": 1.0}]
