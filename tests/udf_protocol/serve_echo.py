"""Test entry point: serve EchoHandler as a process UDF (default) or a socket UDF (--socket PATH).

``--events FILE`` appends one line per handler close and one ``shutdown`` line from on_shutdown.
"""

import argparse
import logging
import sys

from influxhtm.kapacitor_udf import UdfServer, run_process

from .handlers import EchoHandler


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket")
    parser.add_argument("--events")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s %(levelname)s %(message)s")

    def record(event):
        if args.events:
            with open(args.events, "a") as events:
                events.write(event + "\n")

    def factory(emitter):
        return EchoHandler(emitter, events=record)

    if args.socket is None:
        return run_process(factory)
    UdfServer(args.socket, factory, on_shutdown=lambda: record("shutdown")).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
