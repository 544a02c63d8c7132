"""Frame encoding and the incremental frame decoder, including property-based fuzzing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from influxhtm.kapacitor_udf import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, ProtocolError, encode_frame
from influxhtm.kapacitor_udf.connection import decode_request
from influxhtm.kapacitor_udf.framing import encode_varint

from .client import encode_length


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (2**32, b"\x80\x80\x80\x80\x10"),
        (2**64 - 1, b"\xff" * 9 + b"\x01"),
    ],
)
def test_varint_encoding(value, encoded):
    assert encode_varint(value) == encoded
    assert encode_length(value) == encoded  # the test client's independent encoder agrees


@pytest.mark.parametrize("value", [-1, 2**64])
def test_varint_out_of_range_is_rejected(value):
    with pytest.raises(ValueError):
        encode_varint(value)


def test_frames_split_anywhere_are_reassembled():
    stream = encode_frame(b"abc") + encode_frame(b"") + encode_frame(b"x" * 300)
    decoder = FrameDecoder()
    frames = []
    for byte in stream:
        frames.extend(decoder.feed(bytes([byte])))
    decoder.finish()
    assert frames == [b"abc", b"", b"x" * 300]


@pytest.mark.parametrize("size", [127, 128, 16383, 16384, 100_000])
def test_length_prefix_sizes_round_trip(size):
    payload = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    decoder = FrameDecoder()
    stream = encode_frame(payload) * 2
    assert list(decoder.feed(stream[:5])) + list(decoder.feed(stream[5:])) == [payload, payload]


def test_oversized_frame_is_rejected_from_its_length_prefix_alone():
    decoder = FrameDecoder(max_frame_size=1000)
    assert list(decoder.feed(encode_frame(b"y" * 1000))) == [b"y" * 1000]
    with pytest.raises(ProtocolError, match="1001 bytes exceeds the maximum frame size of 1000"):
        list(decoder.feed(encode_varint(1001)))  # no body bytes needed to refuse it


def test_default_maximum_is_64_mib():
    with pytest.raises(ProtocolError, match="exceeds the maximum frame size of 67108864"):
        list(FrameDecoder().feed(encode_varint((64 << 20) + 1)))
    assert list(FrameDecoder().feed(encode_varint(64 << 20))) == []  # allowed, waits for the body


def test_full_64_bit_lengths_are_decoded_and_overflow_is_an_error():
    decoder = FrameDecoder(max_frame_size=2**64 - 1)
    assert list(decoder.feed(b"\xff" * 9 + b"\x01")) == []
    assert decoder.mid_frame
    with pytest.raises(ProtocolError, match="overflows 64 bits"):
        list(FrameDecoder(max_frame_size=2**64 - 1).feed(b"\xff" * 9 + b"\x02"))
    with pytest.raises(ProtocolError, match="overflows 64 bits"):
        list(FrameDecoder().feed(b"\x80" * 11))


def test_decoder_stays_failed_after_an_error():
    decoder = FrameDecoder(max_frame_size=10)
    with pytest.raises(ProtocolError):
        list(decoder.feed(b"\x0b"))
    with pytest.raises(ProtocolError):
        list(decoder.feed(encode_frame(b"ok")))


def test_end_of_stream_between_frames_is_clean():
    decoder = FrameDecoder()
    assert list(decoder.feed(encode_frame(b"abc"))) == [b"abc"]
    decoder.finish()


def test_end_of_stream_inside_a_length_prefix_is_an_error():
    decoder = FrameDecoder()
    assert list(decoder.feed(b"\x80\x80")) == []
    with pytest.raises(ProtocolError, match="middle of a frame length prefix"):
        decoder.finish()


def test_end_of_stream_inside_a_body_is_an_error():
    decoder = FrameDecoder()
    assert list(decoder.feed(encode_varint(10) + b"12345")) == []
    with pytest.raises(ProtocolError, match="5 of 10 body bytes"):
        decoder.finish()


def test_undecodable_request_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="undecodable Request"):
        decode_request(b"\x0a\xff")  # field 1 claims 255 bytes that are not there
    with pytest.raises(ProtocolError, match="no known message case"):
        decode_request(b"")


def split_at(data, cuts):
    positions = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for position in positions:
        pieces.append(data[start:position])
        start = position
    pieces.append(data[start:])
    return pieces


def decode_all(pieces, max_frame_size):
    """Frames decoded from the pieces, and whether the decoder failed (only ProtocolError may escape it)."""
    decoder = FrameDecoder(max_frame_size)
    frames = []
    try:
        for piece in pieces:
            frames.extend(decoder.feed(piece))
        decoder.finish()
    except ProtocolError:
        return frames, True
    return frames, False


def reference_decode(stream, max_frame_size):
    """A plain whole-stream decoder written from the framing rules, as the oracle for the fuzz tests."""
    frames, pos = [], 0
    while pos < len(stream):
        length, shift = 0, 0
        for _ in range(10):
            if pos >= len(stream):
                return frames, True  # ends inside a length prefix
            byte = stream[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        else:
            return frames, True  # prefix longer than 10 bytes
        if length >= 2**64 or length > max_frame_size or pos + length > len(stream):
            return frames, True  # overflow, too big, or ends inside a body
        frames.append(stream[pos : pos + length])
        pos += length
    return frames, False


MAX_FRAME_SIZES = st.one_of(st.integers(min_value=0, max_value=2000), st.just(DEFAULT_MAX_FRAME_SIZE))


@settings(max_examples=300, deadline=1000)
@given(st.lists(st.binary(max_size=300), max_size=20), st.lists(st.integers(min_value=0), max_size=10))
def test_random_frame_sequences_round_trip_at_any_split(payloads, cuts):
    stream = b"".join(encode_frame(payload) for payload in payloads)
    assert decode_all(split_at(stream, cuts), max_frame_size=300) == (payloads, False)
    assert decode_all(split_at(stream, cuts), DEFAULT_MAX_FRAME_SIZE) == (payloads, False)


@settings(max_examples=1000, deadline=1000)
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=10), MAX_FRAME_SIZES)
def test_arbitrary_bytes_decode_as_the_reference_does_at_any_split(stream, cuts, max_frame_size):
    assert decode_all(split_at(stream, cuts), max_frame_size) == reference_decode(stream, max_frame_size)


@settings(max_examples=300, deadline=1000)
@given(
    st.lists(st.binary(max_size=40), max_size=8),
    st.binary(min_size=1, max_size=12),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_valid_frames_followed_by_garbage(payloads, garbage, cuts):
    stream = b"".join(encode_frame(payload) for payload in payloads) + b"\xff" * 10 + garbage
    frames, failed = decode_all(split_at(stream, cuts), max_frame_size=2**64 - 1)
    assert failed and frames == payloads


@settings(max_examples=500, deadline=1000)
@given(st.binary(max_size=500))
def test_arbitrary_frame_bodies_give_a_request_or_a_protocol_error(body):
    try:
        request = decode_request(body)
    except ProtocolError:
        return
    assert request.WhichOneof("message") is not None
