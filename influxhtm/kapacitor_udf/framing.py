"""Length-prefixed framing of the UDF stream: an unsigned varint byte count, then the message bytes."""

from __future__ import annotations

from collections.abc import Iterator

DEFAULT_MAX_FRAME_SIZE = 64 << 20
_MAX_VARINT_BYTES = 10
_UINT64_LIMIT = 1 << 64


class ProtocolError(Exception):
    """The peer sent something that is not a valid UDF frame or message; the connection cannot go on."""


def encode_varint(value: int) -> bytes:
    """Encode an unsigned 64-bit integer as a protobuf (LEB128) varint."""
    if 0 <= value < 0x4000:  # fast path: every frame length up to 16 KiB
        return bytes((value,)) if value < 0x80 else bytes(((value & 0x7F) | 0x80, value >> 7))
    if value < 0:
        raise ValueError(f"varint value must not be negative, got {value}")
    if value >= _UINT64_LIMIT:
        raise ValueError(f"varint value {value} does not fit in 64 bits")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_frame(payload: bytes) -> bytes:
    """Prefix one serialized message with its length."""
    return encode_varint(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: feed it the stream in chunks of any size, get back whole frames.

    A frame longer than ``max_frame_size`` is rejected as soon as its length prefix is read, before any of
    its body is buffered. After a ProtocolError the decoder stays failed.
    """

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE):
        if max_frame_size < 0:
            raise ValueError(f"max_frame_size must not be negative, got {max_frame_size}")
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._body_size: int | None = None  # length of the frame being received, once its prefix is complete
        self._error: ProtocolError | None = None

    @property
    def mid_frame(self) -> bool:
        """True when part of a frame (prefix or body) has been received but not the whole frame."""
        return bool(self._buffer) or self._body_size is not None

    def feed(self, data) -> Iterator[bytes]:
        """Add bytes from the stream; iterate over the bodies of the frames now complete.

        Consume the iterator before the next feed(). A ProtocolError is raised by the iterator after the
        frames that came before the fault.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        return self._complete_frames()

    def _complete_frames(self) -> Iterator[bytes]:
        buffer = self._buffer
        pos = 0
        end = len(buffer)
        try:
            while True:
                if self._body_size is None:
                    first = buffer[pos] if pos < end else 0x80
                    second = buffer[pos + 1] if pos + 1 < end else 0x80
                    if first < 0x80 and first <= self.max_frame_size:  # fast path: one-byte prefix
                        self._body_size, pos = first, pos + 1
                    elif second < 0x80 and self.max_frame_size >= 0x4000:  # two bytes, under any limit
                        self._body_size, pos = (first & 0x7F) | (second << 7), pos + 2
                    else:
                        decoded = self._read_length(buffer, pos, end)
                        if decoded is None:
                            return
                        self._body_size, pos = decoded
                size = self._body_size
                if end - pos < size:
                    return
                frame = bytes(buffer[pos : pos + size])
                pos += size
                self._body_size = None
                yield frame
        except ProtocolError as error:
            self._error = error
            raise
        finally:
            del buffer[:pos]

    def finish(self) -> None:
        """Declare end of stream; raise ProtocolError if it ended in the middle of a frame."""
        if self._error is not None:
            raise self._error
        if self._body_size is not None:
            self._error = ProtocolError(
                f"stream ended in the middle of a frame: {len(self._buffer)} of {self._body_size} body bytes received"
            )
            raise self._error
        if self._buffer:
            self._error = ProtocolError(
                f"stream ended in the middle of a frame length prefix ({len(self._buffer)} bytes)"
            )
            raise self._error

    def _read_length(self, buffer, pos, end):
        """Decode the length prefix at pos: (length, position after it), or None if incomplete."""
        value = 0
        shift = 0
        for index in range(_MAX_VARINT_BYTES):
            if pos + index >= end:
                return None
            byte = buffer[pos + index]
            if index == _MAX_VARINT_BYTES - 1 and byte > 1:
                raise ProtocolError("frame length prefix overflows 64 bits (corrupt stream?)")
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if value > self.max_frame_size:
                    raise ProtocolError(
                        f"frame of {value} bytes exceeds the maximum frame size of {self.max_frame_size} bytes"
                    )
                return value, pos + index + 1
            shift += 7
        raise AssertionError("unreachable: a 10th varint byte either ends the varint or overflows")
