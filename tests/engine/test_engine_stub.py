"""influxhtm/_engine.pyi describes the extension as it is: mypy's stubtest compares every class, method,
signature and attribute of the stub with the built module."""

import subprocess
import sys

# The TypedDicts of the stub describe the plain dicts ModelConfig takes; they exist in the stub only.
STUB_ONLY = [
    "BacktrackingParams",
    "ClassifierParams",
    "DayOfWeekEncoder",
    "EncoderParams",
    "FieldEncoder",
    "RdseEncoder",
    "SpatialPoolerParams",
    "TemporalMemoryParams",
    "TimeOfDayEncoder",
    "WeekendEncoder",
]


def test_the_stub_matches_the_extension(tmp_path):
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("".join(f"influxhtm._engine.{name}\n" for name in STUB_ONLY))
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "influxhtm._engine", "--allowlist", str(allowlist)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
