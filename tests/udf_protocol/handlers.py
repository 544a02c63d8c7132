"""Test handlers: a pass-through UDF whose behaviour is steered by the data it receives."""

import time

from influxhtm.kapacitor_udf import Handler, udf_pb2


class EchoHandler(Handler):
    """Echoes every point and batch back.

    Steering: a point with field ``sleep`` sleeps that many seconds before echoing; a point named ``raise``
    raises RuntimeError; init with option ``print`` writes that text to stdout (which must not reach the
    protocol stream). ``events`` (a list, or a callable taking a string) records ``close`` calls.
    """

    def __init__(self, emitter, events=None):
        self.emitter = emitter
        self.events = events
        self.points = 0

    def info(self):
        return udf_pb2.InfoResponse(
            wants=udf_pb2.STREAM,
            provides=udf_pb2.STREAM,
            options={"print": udf_pb2.OptionInfo(valueTypes=[udf_pb2.STRING])},
        )

    def init(self, request):
        for option in request.options:
            if option.name == "print":
                print(option.values[0].stringValue)
            else:
                return udf_pb2.InitResponse(success=False, error=f"unknown option {option.name!r}")
        return udf_pb2.InitResponse(success=True)

    def snapshot(self):
        return udf_pb2.SnapshotResponse(snapshot=f"points={self.points}".encode())

    def restore(self, request):
        if not request.snapshot.startswith(b"points="):
            return udf_pb2.RestoreResponse(success=False, error="not an echo snapshot")
        self.points = int(request.snapshot[len(b"points=") :])
        return udf_pb2.RestoreResponse(success=True)

    def begin_batch(self, begin):
        self.emitter.emit_begin(begin)

    def point(self, point):
        if point.name == "raise":
            raise RuntimeError("echo handler was told to fail")
        if "sleep" in point.fieldsDouble:
            time.sleep(point.fieldsDouble["sleep"])
        self.points += 1
        self.emitter.emit_point(point)

    def end_batch(self, end):
        self.emitter.emit_end(end)

    def close(self):
        self._record(f"close points={self.points}")

    def _record(self, event):
        if callable(self.events):
            self.events(event)
        elif self.events is not None:
            self.events.append(event)
