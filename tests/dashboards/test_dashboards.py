"""The dashboards in dashboards/: importable as their importers expect, and every query they run works.

Structure tests read the JSON only. Query tests run every query of a dashboard (panel/cell queries,
annotation queries, template variable queries) against a real InfluxDB holding the demo's results
(tests/demo_results.py), after substituting macros and variables the way Grafana and Chronograf do, with
variable values taken from the dashboard's own variable queries; each must return rows.

Queries on the boolean ``learning`` and integer ``records_seen`` result fields return rows only once the
library writes those fields (DESIGN.md §4).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.demo_results import DEMO_FIELD, DEMO_HOST, DEMO_MEASUREMENT

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
GRAFANA = DASHBOARDS / "grafana" / "influxhtm.json"
CHRONOGRAF = DASHBOARDS / "chronograf" / "influxhtm.json"

DEMO_RESULTS = DEMO_MEASUREMENT + "_htm"
VARIABLES = ("measurement", "host", "source_field")
RESULT_FIELDS = (
    "value",
    "raw_score",
    "anomaly_likelihood",
    "anomaly_score",
    "prediction",
    "learning",
    "records_seen",
)
INTERVAL_GRAFANA = "5m"
INTERVAL_CHRONOGRAF = "300000ms"  # Chronograf renders :interval: in milliseconds


def load(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


GRAFANA_DASHBOARD = load(GRAFANA)
CHRONOGRAF_EXPORT = load(CHRONOGRAF)


# -- what each dashboard runs ---------------------------------------------------------------------


def grafana_queries(dashboard: dict) -> dict[str, str]:
    """Every InfluxQL query of the panels and annotations, by a readable id."""
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queries[f"panel{panel['id']}-{target['refId']}"] = target["query"]
    for n, annotation in enumerate(dashboard["annotations"]["list"]):
        if annotation.get("builtIn"):
            continue
        queries[f"annotation{n}"] = annotation["query"]
    return queries


def grafana_variables(dashboard: dict) -> list[dict]:
    return dashboard["templating"]["list"]


def chronograf_queries(export: dict) -> dict[str, str]:
    """Every InfluxQL query of the cells, by a readable id."""
    queries = {}
    for n, cell in enumerate(export["dashboard"]["cells"]):
        for m, query in enumerate(cell["queries"]):
            queries[f"cell{n}-{m}"] = query["query"]
    return queries


def chronograf_templates(export: dict) -> list[dict]:
    return export["dashboard"]["templates"]


# -- (a) structure ---------------------------------------------------------------------------------

GRAFANA_BUILTINS = {
    "timeFilter",
    "__interval",
    "__interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
    "__from",
    "__to",
    "__dashboard",
}
GRAFANA_VAR = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}")


def grafana_references(text: str) -> set[str]:
    return {a or b for a, b in GRAFANA_VAR.findall(text)}


def test_grafana_dashboard_has_what_import_needs():
    d = GRAFANA_DASHBOARD
    assert d["schemaVersion"] >= 36  # Grafana 9 and later (timeseries/stat panels, datasource objects)
    assert d["title"] and d["uid"]
    inputs = {i["name"]: i for i in d["__inputs"]}
    assert inputs["DS_INFLUXDB"]["type"] == "datasource"
    assert inputs["DS_INFLUXDB"]["pluginId"] == "influxdb"
    required = {(r["type"], r["id"]) for r in d["__requires"]}
    assert {("grafana", "grafana"), ("datasource", "influxdb")} <= required
    assert {("panel", p["type"]) for p in d["panels"]} <= required

    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for panel in d["panels"]:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": "influxdb", "uid": "${DS_INFLUXDB}"}, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["rawQuery"] is True and target["query"].strip(), panel["title"]
            assert "$timeFilter" in target["query"], panel["title"]
    for annotation in d["annotations"]["list"]:
        if not annotation.get("builtIn"):
            assert annotation["datasource"]["uid"] == "${DS_INFLUXDB}"
            assert "$timeFilter" in annotation["query"], annotation["name"]
            # Grafana 9+ runs the target; the top-level query is the legacy form older versions read
            assert annotation["target"]["query"] == annotation["query"], annotation["name"]
            assert annotation["target"]["rawQuery"] is True, annotation["name"]


def test_grafana_panels_show_the_result_schema():
    panels = {p["title"]: p for p in GRAFANA_DASHBOARD["panels"]}
    text = json.dumps(GRAFANA_DASHBOARD["panels"])
    for field in RESULT_FIELDS:
        assert f'\\"{field}\\"' in text, f"no panel shows {field}"
    kinds = {p["type"] for p in panels.values()}
    assert {"timeseries", "stat"} <= kinds
    # the anomaly score panel draws the 0.5 alert threshold
    (score,) = [p for p in panels.values() if "anomaly_score" in json.dumps(p["targets"]) and p["type"] == "timeseries"]
    defaults = score["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"] != "off"
    assert 0.5 in [step["value"] for step in defaults["thresholds"]["steps"]]
    # learning periods: annotated from InfluxQL queries on learning = true, and shaded in the score panel
    annotations = [a for a in GRAFANA_DASHBOARD["annotations"]["list"] if not a.get("builtIn")]
    assert any('"learning" = true' in a["query"] for a in annotations)
    assert any('"learning" = true' in t["query"] for t in score["targets"])


def test_grafana_variables_are_defined_and_used():
    variables = {v["name"]: v for v in grafana_variables(GRAFANA_DASHBOARD)}
    assert set(VARIABLES) <= set(variables)
    assert variables["measurement"]["query"] == "SHOW MEASUREMENTS WITH MEASUREMENT =~ /_htm$/"
    assert 'WITH KEY = "host"' in variables["host"]["query"]
    assert 'WITH KEY = "source_field"' in variables["source_field"]["query"]
    for name in ("host", "source_field"):
        assert variables[name]["multi"] and variables[name]["includeAll"]
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"]["uid"] == "${DS_INFLUXDB}", v["name"]
            assert v["query"].startswith("SHOW "), v["name"]
    defined = set(variables) | GRAFANA_BUILTINS
    texts = list(grafana_queries(GRAFANA_DASHBOARD).values()) + [
        v["query"] for v in variables.values() if v["type"] == "query"
    ]
    for text in texts:
        assert grafana_references(text) <= defined, f"undefined variable in {text!r}"
    for query in grafana_queries(GRAFANA_DASHBOARD).values():
        # regex match, so "All" and multi-value selections work
        assert '"host" =~ /^$host$/' in query and '"source_field" =~ /^$source_field$/' in query, query
        assert '"$measurement"' in query, query
        if "GROUP BY time(" in query:
            assert "GROUP BY time($__interval)" in query, query


CHRONOGRAF_RESERVED = {
    ":dashboardTime:",
    ":upperDashboardTime:",
    ":interval:",
    ":lower:",
    ":upper:",
    ":zoomedLower:",
    ":zoomedUpper:",
}
CHRONOGRAF_VAR = re.compile(r":[A-Za-z_][\w-]*:")
CHRONOGRAF_CELL_TYPES = {
    "line",
    "line-stacked",
    "line-stepplot",
    "line-plus-single-stat",
    "bar",
    "single-stat",
    "gauge",
    "table",
    "note",
}
CHRONOGRAF_TEMPLATE_TYPES = {
    "databases",
    "measurements",
    "fieldKeys",
    "tagKeys",
    "tagValues",
    "csv",
    "map",
    "influxql",
    "text",
    "constant",
}


def test_chronograf_export_has_what_import_needs():
    export = CHRONOGRAF_EXPORT
    assert isinstance(export["meta"], dict) and export["meta"]["chronografVersion"]
    dashboard = export["dashboard"]
    assert dashboard["name"]
    assert dashboard["cells"] and isinstance(dashboard["templates"], list)
    ids = [c["i"] for c in dashboard["cells"]]
    assert len(ids) == len(set(ids))
    for cell in dashboard["cells"]:
        assert all(isinstance(cell[k], int) for k in ("x", "y", "w", "h")), cell["name"]
        assert cell["x"] + cell["w"] <= 12, cell["name"]
        assert cell["type"] in CHRONOGRAF_CELL_TYPES, cell["name"]
        assert cell["name"] and isinstance(cell["axes"], dict)
        assert cell["queries"], f"cell {cell['name']!r} has no query"
        for query in cell["queries"]:
            assert query["type"] == "influxql" and query["query"].strip(), cell["name"]
            assert query["queryConfig"]["rawText"] == query["query"], cell["name"]
            assert ":dashboardTime:" in query["query"], cell["name"]
    template_ids = [t["id"] for t in dashboard["templates"]]
    assert len(template_ids) == len(set(template_ids))
    for template in dashboard["templates"]:
        assert template["type"] in CHRONOGRAF_TEMPLATE_TYPES, template["tempVar"]
        assert isinstance(template["values"], list), template["tempVar"]
        if template["type"] not in {"csv", "map", "text", "constant"}:
            assert template["query"]["influxql"].startswith("SHOW "), template["tempVar"]


def test_chronograf_variables_are_defined_and_used():
    templates = {t["tempVar"]: t for t in chronograf_templates(CHRONOGRAF_EXPORT)}
    assert {f":{name}:" for name in VARIABLES} <= set(templates)
    assert not set(templates) & CHRONOGRAF_RESERVED
    assert "WITH MEASUREMENT =~ /_htm$/" in templates[":measurement:"]["query"]["influxql"]
    assert 'WITH KEY = "host"' in templates[":host:"]["query"]["influxql"]
    assert 'WITH KEY = "source_field"' in templates[":source_field:"]["query"]["influxql"]
    defined = set(templates) | CHRONOGRAF_RESERVED
    texts = list(chronograf_queries(CHRONOGRAF_EXPORT).values())
    texts += [t["query"]["influxql"] for t in templates.values() if t.get("query")]
    texts += [c["name"] for c in CHRONOGRAF_EXPORT["dashboard"]["cells"]]
    for text in texts:
        assert set(CHRONOGRAF_VAR.findall(text)) <= defined, f"undefined template variable in {text!r}"
    text = json.dumps(chronograf_queries(CHRONOGRAF_EXPORT))
    for field in RESULT_FIELDS:
        assert f'\\"{field}\\"' in text, f"no cell shows {field}"
    assert any('"learning" = true' in q for q in chronograf_queries(CHRONOGRAF_EXPORT).values())


# -- (b) every query against a real InfluxDB -------------------------------------------------------


def time_range(series):
    """An absolute dashboard time range covering the demo's data, as the operator would pick it."""
    return series.timestamps[0] - timedelta(hours=1), series.timestamps[-1] + timedelta(hours=1)


def run(client, query: str) -> list:
    """The series of a query's answer (raises on an InfluxQL error)."""
    return client.query(query).raw.get("series", [])


def has_rows(series: list) -> bool:
    return any(s.get("values") for s in series)


def column(series: list, name: str) -> list[str]:
    values = []
    for s in series:
        index = s["columns"].index(name)
        values += [row[index] for row in s.get("values", [])]
    return values


def meta_values(series: list, query: str) -> list[str]:
    """The choices a SHOW query offers as variable values (what Grafana and Chronograf take from it)."""
    words = query.split()
    kind = " ".join(words[:3]).upper()
    if kind.startswith("SHOW DATABASES") or kind.startswith("SHOW MEASUREMENTS"):
        return column(series, "name")
    if kind == "SHOW TAG VALUES":
        return column(series, "value")
    raise AssertionError(f"no parser for variable query {query!r}")


# Grafana ------------------------------------------------------------------------------------------

GRAFANA_REGEX_SPECIALS = re.compile(r"[\\^$*+?.()|\[\]{}/]")


def grafana_format(variable: dict, selected: list[str]) -> str:
    """What Grafana's InfluxDB data source puts in a raw query for a variable (interpolateQueryExpr)."""
    if not variable.get("multi") and not variable.get("includeAll"):
        (value,) = selected
        return value
    escaped = [GRAFANA_REGEX_SPECIALS.sub(lambda m: "\\" + m.group(0), v) for v in selected]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def grafana_render(query: str, values: dict[str, str]) -> str:
    def replace(match):
        name = match.group(1) or match.group(2)
        if name not in values:
            raise AssertionError(f"{name!r} has no value in {query!r}")
        return values[name]

    return GRAFANA_VAR.sub(replace, query)


@pytest.fixture(scope="module")
def grafana_values(demo):
    """Macro and variable values as Grafana has them: variables from their own queries, "All" selected."""
    client, series = demo
    start, end = time_range(series)
    values = {
        "timeFilter": f"time >= {int(start.timestamp() * 1000)}ms and time <= {int(end.timestamp() * 1000)}ms",
        "__interval": INTERVAL_GRAFANA,
    }
    variable_rows = {}
    for variable in grafana_variables(GRAFANA_DASHBOARD):  # in dashboard order: each may use the ones before
        name = variable["name"]
        if variable["type"] == "constant":
            values[name] = variable["query"]
            continue
        query = grafana_render(variable["query"], values)
        answer = run(client, query)
        variable_rows[name] = answer
        choices = meta_values(answer, query)
        if name == "measurement":
            assert DEMO_RESULTS in choices, choices
            selected = [DEMO_RESULTS]  # the operator picks the demo's result measurement
        else:
            selected = choices  # "All"
        values[name] = grafana_format(variable, selected)
    return values, variable_rows


@pytest.mark.parametrize("name", [v["name"] for v in grafana_variables(GRAFANA_DASHBOARD) if v["type"] == "query"])
def test_grafana_variable_query_returns_rows(grafana_values, name):
    _, variable_rows = grafana_values
    assert has_rows(variable_rows[name]), f"variable {name} has no values"
    expected = {"measurement": DEMO_RESULTS, "host": DEMO_HOST, "source_field": DEMO_FIELD}
    if name in expected:
        assert expected[name] in column(variable_rows[name], "name" if name == "measurement" else "value")


@pytest.mark.parametrize("query_id", list(grafana_queries(GRAFANA_DASHBOARD)))
def test_grafana_query_returns_rows(demo, grafana_values, query_id):
    client, _ = demo
    values, _ = grafana_values
    query = grafana_render(grafana_queries(GRAFANA_DASHBOARD)[query_id], values)
    assert has_rows(run(client, query)), f"no rows: {query}"


# Chronograf ---------------------------------------------------------------------------------------


def chronograf_render(query: str, values: dict[str, tuple[str, str]]) -> str:
    """A query with Chronograf's substitutions (ui/src/tempVars/utils/replace.ts: value quoted by type)."""
    quoted = {"tagKey": '"', "fieldKey": '"', "measurement": '"', "database": '"', "tagValue": "'", "timeStamp": "'"}
    for var, (value, kind) in values.items():
        if kind in quoted:
            # inside a regular expression the value goes in unquoted
            query = re.sub(
                r"(=~|!~)(\s*)/([^/]*)/",
                lambda m, var=var, value=value: f"{m.group(1)}{m.group(2)}/{m.group(3).replace(var, value, 1)}/",
                query,
            )
            query = query.replace(var, quoted[kind] + value + quoted[kind])
        else:  # csv, constant, influxql (custom meta query), map: as they are
            query = query.replace(var, value)
    return query


@pytest.fixture(scope="module")
def chronograf_values(demo):
    """Template values as Chronograf resolves them, the operator choosing the demo's database and results."""
    client, series = demo
    start, end = time_range(series)
    values = {
        ":dashboardTime:": (start.strftime("'%Y-%m-%dT%H:%M:%S.000Z'"), "constant"),
        ":upperDashboardTime:": (end.strftime("'%Y-%m-%dT%H:%M:%S.000Z'"), "constant"),
        ":interval:": (INTERVAL_CHRONOGRAF, "constant"),
    }
    value_types = {
        "databases": "database",
        "measurements": "measurement",
        "tagValues": "tagValue",
        "tagKeys": "tagKey",
        "fieldKeys": "fieldKey",
        "influxql": "influxql",
    }
    wanted = {
        ":database:": client.database,
        ":measurement:": DEMO_RESULTS,
        ":host:": DEMO_HOST,
        ":source_field:": DEMO_FIELD,
    }
    template_rows = {}
    pending = list(chronograf_templates(CHRONOGRAF_EXPORT))
    while pending:  # dependencies first, as Chronograf's template graph does
        ready = [
            t
            for t in pending
            if not t.get("query") or set(CHRONOGRAF_VAR.findall(t["query"]["influxql"])) <= set(values)
        ]
        assert ready, f"cyclic or undefined template dependencies: {[t['tempVar'] for t in pending]}"
        for template in ready:
            pending.remove(template)
            var = template["tempVar"]
            if not template.get("query"):
                (value,) = [v for v in template["values"] if v["selected"]]
                values[var] = (value["value"], value["type"])
                continue
            query = chronograf_render(template["query"]["influxql"], values)
            answer = run(client, query)
            template_rows[var] = answer
            choices = meta_values(answer, query)
            choice = wanted.get(var, choices[0] if choices else None)
            assert choice in choices, f"{var}: {choice!r} not among {choices}"
            values[var] = (choice, value_types[template["type"]])
    return values, template_rows


@pytest.mark.parametrize("var", [t["tempVar"] for t in chronograf_templates(CHRONOGRAF_EXPORT) if t.get("query")])
def test_chronograf_template_query_returns_rows(chronograf_values, var):
    _, template_rows = chronograf_values
    assert has_rows(template_rows[var]), f"template {var} has no values"


@pytest.mark.parametrize("query_id", list(chronograf_queries(CHRONOGRAF_EXPORT)))
def test_chronograf_query_returns_rows(demo, chronograf_values, query_id):
    client, _ = demo
    values, _ = chronograf_values
    query = chronograf_render(chronograf_queries(CHRONOGRAF_EXPORT)[query_id], values)
    assert has_rows(run(client, query)), f"no rows: {query}"
