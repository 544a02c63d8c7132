"""TEST ONLY: the HTM UDF server (`python -m influxhtm.udf`) with the engine's fault injection armed.

    python -m tests.htm_udf.faulty_udf TRIGGER [influxhtm.udf arguments...]

Every model step that sees exactly the value TRIGGER panics inside the engine (a real Rust panic, half-way
through the step), so the tests can check that one model's panic stays with that model.
"""

import sys

from influxhtm import _engine
from influxhtm.udf.main import main

if __name__ == "__main__":
    _engine._inject_panic_on_value(float(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
