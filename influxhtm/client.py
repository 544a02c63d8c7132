"""``InfluxHtmClient``: an ``influxdb.InfluxDBClient`` that knows sensors, their HTM models and results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from influxdb import InfluxDBClient

from .influxql import build_select, from_ns, quote_ident, to_ns
from .retry import RetryPolicy
from .schema import RAW_SCORE, RESULT_SUFFIX
from .sensor import Sensor, time_range
from .store import default_state_dir

if TYPE_CHECKING:
    from .store import ModelStore

__all__ = ["InfluxHtmClient"]

DEFAULT_DATABASE = "htm"
WRITE_BATCH_SIZE = 5000
READ_PAGE_SIZE = 10000
REQUEST_TIMEOUT = 60.0  # seconds per HTTP request (InfluxDBClient's default is to wait forever)


class InfluxHtmClient(InfluxDBClient):
    """InfluxDB client for HTM work: discover sensors, read and write their data and their HTM results.

    Takes ``InfluxDBClient``'s connection arguments (``host``, ``port``, ``username``, ``password``,
    ``ssl``, ...) plus:

    - ``database``: the database of the sensors (default ``"htm"``);
    - ``create_database``: create it now (the only case in which the constructor talks to the server);
    - ``tag_key``: the tag that identifies a sensor within a measurement (default ``"component"``);
    - ``field``: the field that holds a sensor's value (default ``"value"``);
    - ``model_dir``: the model store directory (default: the state dir `influxhtm udf` uses,
      :func:`influxhtm.store.default_state_dir`; the store is shared);
    - ``result_suffix``: suffix of result measurements (default ``"_htm"``);
    - ``retry_timeout``: seconds to keep retrying a request while InfluxDB is unreachable or answers
      5xx (default 300; 0: no retries), or ``retry``: a whole :class:`influxhtm.retry.RetryPolicy`
      (backoff 0.5 s doubling to 30 s by default). Every request of the client goes through it; 4xx
      answers are never retried. ``timeout`` (seconds per request) defaults to 60.

    Times are UTC: naive datetimes are taken as UTC, aware ones are converted; returned datetimes are
    timezone-aware UTC.
    """

    def __init__(
        self,
        host="localhost",
        port=8086,
        username="root",
        password="root",
        database=DEFAULT_DATABASE,
        *,
        create_database=False,
        tag_key="component",
        field="value",
        model_dir=None,
        result_suffix=RESULT_SUFFIX,
        retry: RetryPolicy | None = None,
        retry_timeout: float | None = None,
        **kwargs,
    ):
        if not database:
            raise ValueError("InfluxHtmClient needs a database name")
        if retry is not None and retry_timeout is not None:
            raise ValueError("pass retry= or retry_timeout=, not both")
        self.retry = retry if retry is not None else RetryPolicy(**_deadline(retry_timeout))
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        kwargs["retries"] = 1  # one attempt per request(): self.retry does the retrying, with backoff
        super().__init__(host=host, port=port, username=username, password=password, database=database, **kwargs)
        self.tag_key = tag_key
        self.field = field
        self.model_dir = Path(model_dir) if model_dir is not None else Path(default_state_dir())
        self.result_suffix = result_suffix
        self.page_size = READ_PAGE_SIZE
        self._model_store: ModelStore | None = None
        if create_database:
            self.create_database(database)

    @property
    def database(self) -> str:
        """The database this client reads and writes."""
        return self._database

    @property
    def model_store(self):
        """The :class:`influxhtm.store.ModelStore` holding this client's models (opened on first use)."""
        if self._model_store is None:
            from .store import ModelStore

            self._model_store = ModelStore(self.model_dir)
        return self._model_store

    # -- every HTTP request: retried by self.retry -------------------------------------------------

    def request(
        self, url, method="GET", params=None, data=None, stream=False, expected_response_code=200, headers=None
    ):
        """``InfluxDBClient.request`` under :attr:`retry`: transient faults are retried with backoff until its
        deadline, permanent ones raise at once (see :mod:`influxhtm.retry`). ``/ping`` is not retried."""

        def attempt():
            return super(InfluxHtmClient, self).request(
                url, method, params, data, stream, expected_response_code, headers
            )

        if url == "ping":
            return attempt()
        return self.retry.call(attempt, _describe_request(url, params, data), f"InfluxDB at {self._baseurl}")

    # -- raw helpers used by Sensor / HtmSensorModel ------------------------------------------------

    def query_points(self, query: str, bind_params: dict | None = None, *, time_as_ns: bool = False) -> list:
        """Rows of a single-statement query as dicts, ``time`` as an aware UTC datetime (or int ns)."""
        result = self.query(query, bind_params=bind_params or None, epoch="ns")
        if result.raw.get("series") and any(series.get("partial") for series in result.raw["series"]):
            raise ValueError("InfluxDB truncated the result (max-row-limit); narrow the query")
        rows = list(result.get_points())
        if time_as_ns:
            return rows
        for row in rows:
            if "time" in row:
                row["time"] = from_ns(row["time"])
        return rows

    def write_lines(self, lines, *, retention_policy: str | None = None, batch_size: int = WRITE_BATCH_SIZE) -> int:
        """Write line-protocol lines (nanosecond times) in batches; returns the number written."""
        count, batch = 0, []
        for text in lines:
            batch.append(text)
            if len(batch) >= batch_size:
                self.write_points(batch, time_precision="n", retention_policy=retention_policy, protocol="line")
                count += len(batch)
                batch = []
        if batch:
            self.write_points(batch, time_precision="n", retention_policy=retention_policy, protocol="line")
            count += len(batch)
        return count

    def series_time_bounds(self, source: str, field: str, tags):
        """``(first, last)`` times of ``field`` in ``source`` (quoted) under ``tags`` (a dict, or a list of
        dicts of which any one may match); ``(None, None)`` if empty."""
        first_q, params = build_select(source, [field], tags, limit=1)
        last_q, _ = build_select(source, [field], tags, limit=1, last_n=True)
        first = self.query_points(first_q, params)
        if not first:
            return None, None
        last = self.query_points(last_q, params)
        return first[0]["time"], last[0]["time"]

    def select_series(
        self,
        source: str,
        fields: list,
        tags,
        *,
        since=None,
        until=None,
        limit: int | None = None,
        aggregation: dict | None = None,
        fill="none",
        time_as_ns: bool = False,
        tag_columns=(),
    ) -> list:
        """Rows of ``fields`` from ``source`` (quoted) under ``tags``, oldest first (see Sensor.get_data).

        ``tags`` is a dict, or a list of dicts of which any one may match; ``tag_columns`` (not with an
        aggregation) adds those tags' values to each row.
        """
        since_ns, until_ns = time_range(since, until)
        if aggregation is not None and not isinstance(aggregation, dict):
            raise ValueError(
                f'aggregation must be a dict like {{"method": "mean", "period": "10m"}}, got {aggregation!r}'
            )
        if aggregation is not None and aggregation.get("period") is not None and (since_ns is None or until_ns is None):
            # GROUP BY time() needs both bounds (InfluxDB would otherwise stop at now()): use the data's.
            first, last = self.series_time_bounds(source, fields[0], tags)
            if first is None:
                return []
            since_ns = to_ns(first) if since_ns is None else since_ns
            until_ns = to_ns(last) if until_ns is None else until_ns
            if since_ns > until_ns:
                return []
        last_n = limit is not None and until_ns is not None and since is None
        query, params = build_select(
            source,
            fields,
            tags,
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
            aggregation=aggregation,
            fill=fill,
            last_n=last_n,
            tag_columns=tag_columns,
        )
        if aggregation is None and limit is None:
            rows = self._select_paged(source, fields, tags, since_ns, until_ns, tag_columns)
        else:
            rows = self.query_points(query, params, time_as_ns=True)
        if last_n:
            rows.reverse()
        if not time_as_ns:
            for row in rows:
                row["time"] = from_ns(row["time"])
        return rows

    def _select_paged(self, source: str, fields: list, tags, since_ns, until_ns, tag_columns=()) -> list:
        """All rows in pages of ``page_size`` (a server's max-row-limit cannot truncate the result)."""
        rows, cursor, seen_at_cursor, page = [], since_ns, 0, self.page_size
        while True:
            query, params = build_select(
                source, fields, tags, since_ns=cursor, until_ns=until_ns, limit=page, tag_columns=tag_columns
            )
            batch = self.query_points(query, params, time_as_ns=True)
            if len(batch) == page and batch[0]["time"] == batch[-1]["time"]:
                page *= 2  # one instant (several series) fills the page: read it whole
                continue
            rows.extend(batch[seen_at_cursor:])
            if len(batch) < page:
                return rows
            cursor = batch[-1]["time"]
            seen_at_cursor = sum(1 for row in batch if row["time"] == cursor)
            page = self.page_size

    # -- sensors ------------------------------------------------------------------------------------

    def _field_keys(self) -> dict:
        result = self.query("SHOW FIELD KEYS")
        return {key[0]: {row["fieldKey"]: row["fieldType"] for row in rows} for key, rows in result.items()}

    def list_sensors(self, measurement: str | None = None) -> list[Sensor]:
        """All sensors of the database: one per (measurement, value of ``tag_key``) having ``field``.

        Measurements with the field but without the tag give one sensor for the whole measurement
        (``component=None``). Result measurements (``*_htm``) are not sensors.
        """
        numeric = {"float", "integer"}
        fields = self._field_keys()
        suffix = f"FROM {quote_ident(measurement)} " if measurement else ""
        tag_values = {}
        for key, rows in self.query(f"SHOW TAG VALUES {suffix}WITH KEY = {quote_ident(self.tag_key)}").items():
            tag_values[key[0]] = [row["value"] for row in rows]
        sensors: list[Sensor] = []
        for name in sorted(fields):
            if measurement is not None and name != measurement:
                continue
            if fields[name].get(self.field) not in numeric or self._is_result_measurement(name, fields[name]):
                continue
            components = tag_values.get(name) or [None]
            sensors.extend(Sensor(self, name, component) for component in components)
        return sensors

    def _is_result_measurement(self, name: str, field_types: dict) -> bool:
        return name.endswith(self.result_suffix) and RAW_SCORE in field_types

    def get_sensor(
        self,
        measurement: str,
        component: str | None = None,
        *,
        tag_key: str | None = None,
        field: str | None = None,
        retention_policy: str | None = None,
    ) -> Sensor:
        """The sensor ``measurement`` / ``tag_key=component`` / ``field`` (no server round trip)."""
        return Sensor(self, measurement, component, tag_key=tag_key, field=field, retention_policy=retention_policy)

    def list_models(self) -> list:
        """The library's :class:`HtmSensorModel` objects in the model store for this client's database."""
        from .sensor_model import HtmSensorModel

        store = self.model_store
        models = []
        from .store import StoreError

        for model_id in store.model_ids():
            try:
                meta = store.metadata(model_id)
            except StoreError:  # unreadable: quarantined when the model is opened
                continue
            if meta.origin != "library" or meta.database != self.database:
                continue
            sensor = Sensor(
                self,
                meta.measurement,
                meta.component,
                tag_key=meta.tag_key,
                field=meta.source_field,
                retention_policy=meta.retention_policy,
            )
            models.append(HtmSensorModel(sensor, model_id=model_id))
        return models

    def migrate_results(self, measurements=None, *, drop_old: bool = False, dry_run: bool = False, **kwargs):
        """Rewrite results stored under the old tag ``field`` under ``source_field``: see
        :func:`influxhtm.results.migrate_results` (``influxhtm migrate-results`` on the command line)."""
        from .results import migrate_results

        return migrate_results(self, measurements, drop_old=drop_old, dry_run=dry_run, **kwargs)

    # camelCase names of the 2016 seed
    listSensors = list_sensors
    getSensor = get_sensor
    listModels = list_models


def _deadline(retry_timeout) -> dict:
    if retry_timeout is None:
        return {}
    try:
        seconds = float(retry_timeout)
    except (TypeError, ValueError):
        raise ValueError(f"retry_timeout must be a number of seconds, got {retry_timeout!r}") from None
    if not seconds >= 0:
        raise ValueError(f"retry_timeout must be >= 0 seconds, got {retry_timeout!r}")
    return {"deadline": seconds}


def _describe_request(url: str, params, data) -> str:
    """``write of 5000 points to database "htm"``, ``query SELECT ...``: the request, for messages."""
    params = params or {}
    db = f' to database "{params["db"]}"' if params.get("db") else ""
    if url == "write":
        if isinstance(data, str):
            data = data.encode()
        count = data.count(b"\n") + (not data.endswith(b"\n")) if isinstance(data, bytes) and data else None
        return f"write of {count} points{db}" if count else f"write{db}"
    if url == "query" and params.get("q"):
        text = " ".join(str(params["q"]).split())
        return "query " + (text if len(text) <= 120 else text[:117] + "...")
    return f"{url} request"
