"""The pass-through UDF handler the agent and end-to-end benchmarks measure: a stream in, each point echoed."""

from influxhtm.kapacitor_udf import Handler, udf_pb2


class PassThrough(Handler):
    """Wants and provides a stream, takes no options, echoes every point."""

    def __init__(self, emitter):
        self.emitter = emitter

    def info(self):
        return udf_pb2.InfoResponse(wants=udf_pb2.STREAM, provides=udf_pb2.STREAM)

    def init(self, request):
        return udf_pb2.InitResponse(success=True)

    def point(self, point):
        self.emitter.emit_point(point)
