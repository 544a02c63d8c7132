import pytest

from influxhtm.stack.kapacitord import find_kapacitord


@pytest.fixture(scope="session")
def kapacitord_path():
    """The kapacitord binary (built by scripts/build-kapacitor when missing), as tests/e2e uses it."""
    return find_kapacitord(build=True)
