"""Process UDF mode: Kapacitor spawns the UDF and talks to it over stdin and stdout."""

import contextlib
import logging
import sys

from .connection import Connection, HandlerFactory, StreamTransport
from .framing import DEFAULT_MAX_FRAME_SIZE

log = logging.getLogger("influxhtm.udf.process")


def run_process(
    handler_factory: HandlerFactory, *, stdin=None, stdout=None, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
) -> int:
    """Serve one connection on binary streams (default: this process's stdin and stdout).

    Returns the exit code: 0 when the input ended cleanly, 1 after a protocol, handler or write error.
    While it runs, ``sys.stdout`` is redirected to stderr so that a stray print() cannot corrupt the frames.
    Handler methods are called on the calling thread.
    """
    stdin = sys.stdin.buffer if stdin is None else stdin
    stdout = sys.stdout.buffer if stdout is None else stdout
    connection = Connection(
        StreamTransport(stdin, stdout), handler_factory, max_frame_size=max_frame_size, name="udf process"
    )
    with contextlib.redirect_stdout(sys.stderr):
        clean = connection.run()
    return 0 if clean else 1
