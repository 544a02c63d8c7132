"""Kapacitor UDF agent library: protocol messages, framing, per-connection agent, socket server, process mode.

Write a Handler, then serve it::

    class Echo(Handler):
        def __init__(self, emitter):
            self.emitter = emitter
        def info(self):
            return udf_pb2.InfoResponse(wants=udf_pb2.STREAM, provides=udf_pb2.STREAM)
        def init(self, request):
            return udf_pb2.InitResponse(success=True)
        def point(self, point):
            self.emitter.emit_point(point)

    UdfServer("/run/influxhtm/udf.sock", Echo).serve_forever()   # socket UDF
    sys.exit(run_process(Echo))                                   # process UDF

Threading: each connection has a reader thread (decodes frames, answers keepalives itself), one worker
thread that calls every handler method in request order, and a writer thread. Emitter methods are
thread-safe. Logs go to the ``influxhtm.udf.*`` loggers, never to stdout.
"""

from . import udf_pb2
from .connection import Emitter, HandlerFactory
from .framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, ProtocolError, encode_frame
from .handler import Handler
from .process import run_process
from .server import SocketInUseError, UdfServer

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "Emitter",
    "FrameDecoder",
    "Handler",
    "HandlerFactory",
    "ProtocolError",
    "SocketInUseError",
    "UdfServer",
    "encode_frame",
    "run_process",
    "udf_pb2",
]
