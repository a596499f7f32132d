"""ProtocolChannel reads common JSON-header frames itself; it must see exactly what the FrameDecoder sees.

The fast path (``decode_common_json_header`` on whole frames straight from a read) hands
anything it does not take to the FrameDecoder. These properties check, over generated
headers and streams cut at random points, that the commands, their order and the point
where a broken stream is rejected are the FrameDecoder's.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.remoting import RESPONSE_FLAG, FrameDecoder, FrameError, RemotingCommand, SerializeType, encode_command
from rmqcore.remoting.json_header import decode_common_json_header, decode_json_header
from rmqcore.transport.protocol_channel import ProtocolChannel

INT32 = st.integers(-(2**31), 2**31 - 1)
ODD_INTS = st.sampled_from([2**31, -(2**31) - 1, 2**40])
TEXT = st.text(max_size=12)
SCALARS = st.one_of(TEXT, st.integers(-5, 2**40), st.booleans(), st.none(), st.floats(allow_nan=False, width=32))


@st.composite
def json_headers(draw: Any) -> bytes:
    """Mostly headers clients send, with every kind of departure from the common shape."""
    header: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        header["code"] = draw(st.one_of(INT32, INT32, INT32, ODD_INTS, SCALARS))
    if draw(st.booleans()):
        header["extFields"] = draw(
            st.one_of(
                st.dictionaries(TEXT, TEXT, max_size=6),
                st.dictionaries(TEXT, SCALARS, max_size=4),
                st.lists(TEXT, max_size=2),
                st.none(),
            )
        )
    for name in ("flag", "opaque", "version"):
        if draw(st.booleans()):
            header[name] = draw(st.one_of(INT32, INT32, ODD_INTS, SCALARS))
    if draw(st.booleans()):
        header["language"] = draw(st.one_of(st.sampled_from(["JAVA", "CPP", "GO", "PYTHON", "NOPE"]), SCALARS))
    if draw(st.booleans()):
        header["remark"] = draw(SCALARS)
    if draw(st.booleans()):
        header["serializeTypeCurrentRPC"] = "JSON"
    keys = list(header)
    order = draw(st.permutations(keys))
    ensure_ascii = draw(st.booleans())
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = json.dumps({k: header[k] for k in order}, ensure_ascii=ensure_ascii, separators=separators)
    text = draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", "", "\n", " x"]))
    return text.encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(json_headers())
def test_a_common_header_decodes_to_what_decode_json_header_returns(header: bytes) -> None:
    common = decode_common_json_header(header)
    try:
        reference: RemotingCommand | None = decode_json_header(header)
    except FrameError:
        reference = None
    if common is not None:
        assert common == reference


def test_headers_clients_send_take_the_common_path() -> None:
    sent = encode_command(RemotingCommand(code=310, opaque=7, ext_fields={"a": "PG", "i": "TAGS\x01A\x02"}))
    header = sent[8:]
    assert decode_common_json_header(header) == decode_json_header(header)
    cpp = b'{"code":11,"extFields":{"topic":"T"},"flag":0,"language":"CPP","opaque":1,"serializeTypeCurrentRPC":"JSON","version":0}'
    assert decode_common_json_header(cpp) == decode_json_header(cpp)
    for unusual in (cpp + b"\n", b" " + cpp, cpp.replace(b'"T"', b"5"), cpp.replace(b'"CPP"', b"1"), b"\xff" + cpp):
        assert decode_common_json_header(unusual) is None


def _frame(header: bytes, body: bytes, serialize_type: int = 0) -> bytes:
    return struct.pack(">iI", 4 + len(header) + len(body), (serialize_type << 24) | len(header)) + header + body


@st.composite
def streams(draw: Any) -> bytes:
    frames = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 11))
        body = draw(st.sampled_from([b"", b"body", b"x" * 300]))
        if kind >= 10:  # what clients send
            ext = draw(st.dictionaries(TEXT, TEXT, max_size=6))
            cmd = RemotingCommand(code=draw(INT32), opaque=draw(INT32), flag=draw(st.sampled_from([0, 2])), ext_fields=ext)
            cmd.body = body or None
            frames.append(encode_command(cmd))
        elif kind <= 5:
            frames.append(_frame(draw(json_headers()), body))
        elif kind == 6:
            cmd = RemotingCommand(code=draw(INT32), opaque=draw(INT32), ext_fields={"k": "v"}, body=body or None)
            frames.append(encode_command(cmd, SerializeType.ROCKETMQ))
        elif kind == 7:
            frames.append(draw(st.binary(max_size=20)))  # junk: a broken stream from here on
        elif kind == 8:
            frames.append(struct.pack(">iI", draw(st.sampled_from([0, 3, 2**30])), 0))  # bad or oversize length
        else:
            header = draw(json_headers())
            frames.append(struct.pack(">iI", 4 + len(header), len(header) + 5) + header)  # header past the frame
    return b"".join(frames)


class _Recording:
    def __init__(self) -> None:
        self.closed = False

    def write(self, data: bytes) -> None:
        pass

    def writelines(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("10.0.0.1", 1) if name == "peername" else default


@settings(max_examples=300, deadline=None)
@given(streams(), st.lists(st.integers(1, 400), max_size=6))
def test_the_channel_sees_the_frame_decoders_commands_for_any_stream_cut_anywhere(data: bytes, cuts: list[int]) -> None:
    chunks, pos = [], 0
    for size in cuts:
        chunks.append(data[pos : pos + size])
        pos += size
    chunks.append(data[pos:])
    chunks = [c for c in chunks if c]

    expected: list[RemotingCommand] = []
    decoder = FrameDecoder()
    reference_broken_at = None
    for i, chunk in enumerate(chunks):
        try:
            expected.extend(decoder.feed(chunk))
        except FrameError as exc:
            expected.extend(getattr(exc, "decoded_before", []))
            reference_broken_at = i
            break

    seen: list[RemotingCommand] = []
    channel = ProtocolChannel(lambda ch, cmd: seen.append(cmd))
    transport = _Recording()
    channel._transport = transport  # type: ignore[assignment]  # no event loop needed to read
    broken_at = None
    for i, chunk in enumerate(chunks):
        channel.data_received(chunk)
        if transport.closed:
            broken_at = i
            break
    requests = [cmd for cmd in expected if not cmd.flag & RESPONSE_FLAG]  # responses go to pending requests
    assert seen == requests
    assert broken_at == reference_broken_at
