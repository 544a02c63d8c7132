"""Kapacitor UDF agent library: framing, the per-connection agent, socket server and process mode (no HTM)."""

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
