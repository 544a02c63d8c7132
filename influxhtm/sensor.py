"""``Sensor``: one series in InfluxDB = measurement + one identifying tag + one field."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

from .influxql import field_key, format_float, qualified_measurement, series_key, to_ns, to_utc

__all__ = ["Sensor", "time_range"]


def time_range(since, until) -> tuple[int | None, int | None]:
    """``(since_ns, until_ns)`` from user times (naive = UTC); raises if since is after until."""
    since_ns = to_ns(since) if since is not None else None
    until_ns = to_ns(until) if until is not None else None
    if since_ns is not None and until_ns is not None and since_ns > until_ns:
        raise ValueError(f"since ({to_utc(since).isoformat()}) is after until ({to_utc(until).isoformat()})")
    return since_ns, until_ns


class Sensor:
    """A sensor: ``measurement`` where tag ``tag_key`` = ``component``, field ``field``.

    ``component=None`` means the whole measurement (no tag filter). Get one from
    :meth:`InfluxHtmClient.get_sensor` or :meth:`InfluxHtmClient.list_sensors`.
    """

    def __init__(
        self,
        client,
        measurement: str,
        component: str | None = None,
        *,
        tag_key: str | None = None,
        field: str | None = None,
        retention_policy: str | None = None,
    ):
        if not isinstance(measurement, str) or not measurement:
            raise ValueError(f"measurement must be a non-empty string, got {measurement!r}")
        if component is not None and (not isinstance(component, str) or not component):
            raise ValueError(f"component must be a non-empty string or None, got {component!r}")
        self.client = client
        self.measurement = measurement
        self.component = component
        self.tag_key = tag_key or client.tag_key
        self.field = field or client.field
        self.retention_policy = retention_policy

    @property
    def database(self) -> str:
        return self.client.database

    @property
    def tags(self) -> dict:
        """The identifying tags: ``{tag_key: component}`` (empty when component is None)."""
        return {} if self.component is None else {self.tag_key: self.component}

    def __repr__(self) -> str:
        return f"Sensor(measurement={self.measurement!r}, {self.tag_key}={self.component!r}, field={self.field!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Sensor) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self):
        return (self.database, self.retention_policy, self.measurement, self.tag_key, self.component, self.field)

    def _source(self) -> str:
        return qualified_measurement(self.measurement, self.database, self.retention_policy)

    # -- writing -----------------------------------------------------------------------------------

    def write(self, points: Iterable, batch_size: int | None = None) -> int:
        """Write points, in batches; returns how many were written.

        Each point is ``{"time": t, "value": v}`` (or the sensor's field name instead of ``"value"``) or
        a ``(time, value)`` pair; times are datetimes (naive = UTC), ISO strings or epoch seconds.
        Values are written as floats.
        """
        prefix = f"{series_key(self.measurement, self.tags)} {field_key(self.field)}="

        def lines():
            for point in points:
                if isinstance(point, dict):
                    if "time" not in point:
                        raise ValueError(f"point {point!r} has no 'time'")
                    key = self.field if self.field in point else "value"
                    if key not in point:
                        raise ValueError(f"point {point!r} has no {self.field!r} value")
                    time, value = point["time"], point[key]
                else:
                    time, value = point
                yield f"{prefix}{format_float(value)} {to_ns(time)}"

        kwargs = {"batch_size": batch_size} if batch_size else {}
        return self.client.write_lines(lines(), retention_policy=self.retention_policy, **kwargs)

    # -- reading -----------------------------------------------------------------------------------

    def get_time_bounds(self) -> tuple[_dt.datetime | None, _dt.datetime | None]:
        """``(first, last)`` time of the sensor's data as aware UTC datetimes; ``(None, None)`` if empty."""
        return self.client.series_time_bounds(self._source(), self.field, self.tags)

    def get_data(
        self, since=None, until=None, limit: int | None = None, aggregation: dict | None = None, fill="none"
    ) -> list[dict]:
        """The sensor's points as ``[{"time": aware UTC datetime, "value": float}, ...]``, oldest first.

        - ``since``/``until``: inclusive bounds (naive datetimes are UTC, aware ones are converted).
        - ``limit``: with ``since`` (or no bound) the FIRST ``limit`` points from ``since`` on; with only
          ``until`` the LAST ``limit`` points up to ``until`` (still returned oldest first).
        - ``aggregation``: ``{"method": m, "period": p}`` with m in mean, median, mode, min, max, sum,
          count, first, last, spread, stddev or percentile_N; ``period`` like ``"10m"`` (omit it for
          one aggregate over the whole range). ``fill``: none (default), null, previous, linear or a
          number, for empty periods.
        """
        rows = self.client.select_series(
            self._source(),
            [self.field],
            self.tags,
            since=since,
            until=until,
            limit=limit,
            aggregation=aggregation,
            fill=fill,
        )
        if self.field != "value":
            for row in rows:
                row["value"] = row.pop(self.field)
        return rows

    # -- models ------------------------------------------------------------------------------------

    def get_model(self, model_id: str | None = None, **options):
        """The :class:`HtmSensorModel` of this sensor (loaded from the model store, or new).

        ``options`` are the detector's (``min_value``, ``max_value``, ``probation``, ``tm``,
        ``timezone`` — an IANA name such as ``"Europe/Berlin"`` whose wall clock the date encoders see,
        default ``"UTC"`` — ...); they are recorded with a new model and ignored for an existing one.
        """
        from .sensor_model import HtmSensorModel

        return HtmSensorModel(self, model_id=model_id, **options)

    # camelCase names of the 2016 seed
    getTimeBounds = get_time_bounds
    getData = get_data
    getModel = get_model
