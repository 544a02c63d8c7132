"""Write/read throughput of the InfluxDB library against a private influxd (points per second)."""

import argparse
import datetime
import tempfile
import time

from influxhtm.client import InfluxHtmClient
from influxhtm.stack.influxd import InfluxServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp, InfluxServer(tmp) as server:
        client = InfluxHtmClient(server.host, server.port, database="bench", create_database=True, model_dir=tmp)
        sensor = client.get_sensor("bench", "s1")
        points = [(start + datetime.timedelta(seconds=10 * i), float(i % 977)) for i in range(args.points)]
        t0 = time.perf_counter()
        sensor.write(points)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = sensor.get_data()
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        hourly = sensor.get_data(aggregation={"method": "mean", "period": "1h"})
        t_agg = time.perf_counter() - t0
        assert len(rows) == args.points
    print(f"write {args.points} points: {t_write:.2f} s ({args.points / t_write:,.0f} points/s)")
    print(f"read  {args.points} points: {t_read:.2f} s ({args.points / t_read:,.0f} points/s)")
    print(f"hourly mean ({len(hourly)} buckets): {t_agg:.3f} s")


if __name__ == "__main__":
    main()
