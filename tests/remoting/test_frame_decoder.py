"""The incremental FrameDecoder: chunking, limits, error behaviour."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.remoting import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameDecoder,
    FrameError,
    LanguageCode,
    RemotingCommand,
    SerializeType,
    encode_command,
)


def _commands() -> list[RemotingCommand]:
    return [
        RemotingCommand(code=105, opaque=1, ext_fields={"topic": "TopicTest"}),
        RemotingCommand(code=310, opaque=2, ext_fields={"a": "PG", "b": "T"}, body=b"x" * 128, serialize_type=SerializeType.ROCKETMQ),
        RemotingCommand(code=0, opaque=2, flag=1, remark="ok", body=b"\x00" * 3000),
        RemotingCommand(code=34, opaque=3, flag=2, language=LanguageCode.GO, version=317),
        RemotingCommand(code=11, opaque=4, ext_fields={"k": "ü" * 50}, body=b"b"),
    ]


def _stream() -> bytes:
    return b"".join(encode_command(c) for c in _commands())


def test_whole_stream_at_once() -> None:
    assert FrameDecoder().feed(_stream()) == _commands()


def test_byte_by_byte() -> None:
    decoder = FrameDecoder()
    out: list[RemotingCommand] = []
    for i, byte in enumerate(_stream()):
        out.extend(decoder.feed(bytes([byte])))
    assert out == _commands()
    assert decoder.buffered == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=60), st.sampled_from([bytes, bytearray, memoryview]))
def test_random_chunks(sizes: list[int], kind: type) -> None:
    data = _stream()
    decoder = FrameDecoder()
    out: list[RemotingCommand] = []
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        out.extend(decoder.feed(kind(data[pos : pos + size])))
        pos += size
        i += 1
    assert out == _commands()


def test_h11_style_receive_and_next() -> None:
    decoder = FrameDecoder()
    data = _stream()
    decoder.receive_data(data[:50])
    assert decoder.next_command() is None  # the first frame is 139 bytes
    decoder.receive_data(data[50:])
    out = []
    while (cmd := decoder.next_command()) is not None:
        out.append(cmd)
    assert out == _commands()


def test_default_limit_is_16_mib_including_length_field() -> None:
    assert DEFAULT_MAX_FRAME_SIZE == 16 * 1024 * 1024
    body_len = DEFAULT_MAX_FRAME_SIZE - 8 - 10  # header of 10 bytes below
    header = b'{"code":0}'
    assert len(header) == 10
    prefix = (4 + len(header) + body_len).to_bytes(4, "big") + len(header).to_bytes(4, "big")
    decoder = FrameDecoder()
    assert decoder.feed(prefix + header) == []  # exactly at the limit: accepted, waiting for the body
    too_big = (4 + len(header) + body_len + 1).to_bytes(4, "big") + len(header).to_bytes(4, "big")
    with pytest.raises(FrameError, match="frame length"):
        FrameDecoder().feed(too_big)


def test_oversize_frame_rejected_without_allocating_it() -> None:
    decoder = FrameDecoder(max_frame_size=1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(FrameError):
            decoder.feed((2**31 - 1).to_bytes(4, "big") + b"\x00\x00\x00\x10" + b"x" * 100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_oversize_detected_from_prefix_alone_then_decoder_stays_broken() -> None:
    decoder = FrameDecoder(max_frame_size=1000)
    assert decoder.feed(b"\x00\x00") == []
    with pytest.raises(FrameError):
        decoder.feed(b"\x10\x00")
    with pytest.raises(FrameError):
        decoder.feed(encode_command(RemotingCommand(code=1)))
    assert decoder.buffered == 0


@pytest.mark.parametrize("length", [0, 3, -1])
def test_length_too_small_or_negative(length: int) -> None:
    with pytest.raises(FrameError):
        FrameDecoder().feed(length.to_bytes(4, "big", signed=True) + b"\x00" * 8)


def test_header_length_past_frame() -> None:
    with pytest.raises(FrameError, match="header length"):
        FrameDecoder().feed((8).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"abcd")


@pytest.mark.parametrize(
    "header",
    [b"not json", b"[1,2]", b'{"opaque":1}', b'{"code":"x"}', b'{"code":true}', b'{"code":1,"extFields":[1]}',
     b'{"code":99999999999}', b"\xff\xfe", b'{"code":1,"language":{}}', b"[" * 100000],
)
def test_unparsable_json_headers_are_frame_errors(header: bytes) -> None:
    frame = (4 + len(header)).to_bytes(4, "big") + len(header).to_bytes(4, "big") + header
    with pytest.raises(FrameError):
        FrameDecoder().feed(frame)


def test_frames_before_an_error_are_reported_on_the_error() -> None:
    good = encode_command(RemotingCommand(code=34, opaque=8))
    bad = (2).to_bytes(4, "big") + b"xx"
    with pytest.raises(FrameError) as info:
        FrameDecoder().feed(good + bad)
    assert [c.opaque for c in info.value.decoded_before] == [8]


def test_large_body_in_chunks() -> None:
    body = random.Random(1).randbytes(5 * 1024 * 1024)
    frame = encode_command(RemotingCommand(code=0, flag=1, body=body))
    decoder = FrameDecoder()
    out = []
    for pos in range(0, len(frame), 65536):
        out.extend(decoder.feed(frame[pos : pos + 65536]))
    assert len(out) == 1 and out[0].body == body
