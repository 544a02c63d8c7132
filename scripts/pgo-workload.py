"""The workload scripts/install-engine records the engine's profile on: default NAB models over three
NAB files, one in a single engine call, the others a record at a time as the UDF feeds them. The files
are not machine_temperature_system_failure, the file the speed benchmarks report."""

from pathlib import Path

from influxhtm.detect import nab_detector, read_series
from influxhtm.htm.timestamps import wall_clock_seconds

DATA = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nab" / "data" / "realKnownCause"
FILES = (
    "cpu_utilization_asg_misconfiguration.csv",
    "ambient_temperature_system_failure.csv",
    "ec2_request_latency_system_failure.csv",
)


def main() -> None:
    for i, name in enumerate(FILES):
        series = read_series(str(DATA / name))
        detector = nab_detector(series)
        if i == 0:
            detector._engine.handle_many([wall_clock_seconds(t) for t in series.times], series.values)
        else:
            for t, v in zip(series.times, series.values):
                detector.handle(t, v)


if __name__ == "__main__":
    main()
