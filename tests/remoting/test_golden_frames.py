"""Section 1's computed golden frames, byte for byte, and the section 13 quirks."""

from __future__ import annotations

import pytest

from rmqcore.remoting import (
    FrameDecoder,
    FrameError,
    LanguageCode,
    RemotingCommand,
    RequestCode,
    SerializeType,
    decode_frame,
    encode_command,
    encode_command_buffers,
    make_request,
)
from rmqcore.remoting.headers import GetRouteInfoRequestHeader

GOLDEN_JSON_HEADER = (
    b'{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":1,'
    b'"serializeTypeCurrentRPC":"JSON","version":479}'
)
GOLDEN_JSON_FRAME = bytes.fromhex("00000087 00000083") + GOLDEN_JSON_HEADER
GOLDEN_BINARY_FRAME = bytes.fromhex(
    "0000002d 01000029 0069 00 01df 00000001 00000000 00000000 00000014 0005 746f706963 00000009 546f70696354657374"
)


def _route_request() -> RemotingCommand:
    return make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader("TopicTest"), opaque=1)


def test_json_golden_frame_byte_for_byte() -> None:
    assert len(GOLDEN_JSON_HEADER) == 131
    assert encode_command(_route_request()) == GOLDEN_JSON_FRAME


def test_binary_golden_frame_byte_for_byte() -> None:
    assert encode_command(_route_request(), SerializeType.ROCKETMQ) == GOLDEN_BINARY_FRAME


@pytest.mark.parametrize("frame", [GOLDEN_JSON_FRAME, GOLDEN_BINARY_FRAME])
def test_golden_frames_decode(frame: bytes) -> None:
    cmd = decode_frame(frame)
    assert cmd.code == 105
    assert cmd.opaque == 1
    assert cmd.version == 479
    assert cmd.language is LanguageCode.JAVA
    assert cmd.flag == 0
    assert cmd.remark is None
    assert cmd.body is None
    assert cmd.ext_fields == {"topic": "TopicTest"}


def test_buffers_variant_matches_single_buffer() -> None:
    cmd = _route_request()
    cmd.body = bytes(range(256)) * 10
    for stype in SerializeType:
        assert b"".join(bytes(b) for b in encode_command_buffers(cmd, stype)) == encode_command(cmd, stype)
    assert encode_command_buffers(cmd)[1].obj is cmd.body  # body is not copied


def test_cpp_header_with_trailing_newline_and_any_field_order() -> None:
    # C++ 1.x: language CPP, version 63, the "\n" is counted in the header length (section 13).
    header = (
        b'{"version":63,"opaque":9,"language":"CPP","flag":0,"code":10,'
        b'"extFields":{"AccessKey":"","OnsChannel":"ALIYUN","Signature":"x","queueId":3,"unitMode":false}}\n'
    )
    body = b"hello"
    frame = (4 + len(header) + len(body)).to_bytes(4, "big") + len(header).to_bytes(4, "big") + header + body
    cmd = decode_frame(frame)
    assert (cmd.code, cmd.version, cmd.opaque, cmd.language) == (10, 63, 9, LanguageCode.CPP)
    assert cmd.ext_fields["queueId"] == "3"
    assert cmd.ext_fields["unitMode"] == "false"
    assert cmd.body == body


def test_numbers_and_booleans_in_ext_become_java_strings() -> None:
    header = b'{"code":11,"extFields":{"queueOffset":12345678901,"flag":true,"nothing":null,"s":"x"},"language":3}'
    frame = (4 + len(header)).to_bytes(4, "big") + len(header).to_bytes(4, "big") + header
    cmd = decode_frame(frame)
    assert cmd.ext_fields == {"queueOffset": "12345678901", "flag": "true", "s": "x"}
    assert cmd.language is LanguageCode.PYTHON


def test_remark_and_non_ascii_in_json_header() -> None:
    cmd = RemotingCommand(code=1, flag=1, opaque=4, remark="主题 not found", ext_fields={"k": "值"})
    frame = encode_command(cmd)
    assert '"remark":"主题 not found"'.encode() in frame
    assert decode_frame(frame) == cmd


def test_binary_header_empty_value_decodes_as_absent() -> None:
    cmd = RemotingCommand(code=10, ext_fields={"a": "", "b": "x"}, remark="", serialize_type=SerializeType.ROCKETMQ)
    back = decode_frame(encode_command(cmd))
    assert back.ext_fields == {"b": "x"}
    assert back.remark is None


def test_unknown_serialize_type_is_a_frame_error() -> None:
    frame = bytearray(GOLDEN_JSON_FRAME)
    frame[4] = 2
    with pytest.raises(FrameError, match="serialize type"):
        FrameDecoder().feed(bytes(frame))


def test_binary_code_and_version_are_java_short_casts() -> None:
    cmd = RemotingCommand(code=-1, version=479, opaque=-5, flag=3, serialize_type=SerializeType.ROCKETMQ)
    back = decode_frame(encode_command(cmd))
    assert (back.code, back.version, back.opaque, back.flag) == (-1, 479, -5, 3)


@pytest.mark.parametrize("header", [b'  {"code":7}', b'{"code":7}\n', b'\r\n{"code":7} \t\n'])
def test_json_header_surrounding_whitespace_is_accepted(header: bytes) -> None:
    frame = (4 + len(header)).to_bytes(4, "big") + len(header).to_bytes(4, "big") + header
    assert decode_frame(frame).code == 7


@pytest.mark.parametrize("header", [b'{"code":7}x', b'{"code":7}{}', b"", b"   "])
def test_json_header_trailing_garbage_is_rejected(header: bytes) -> None:
    frame = (4 + len(header)).to_bytes(4, "big") + len(header).to_bytes(4, "big") + header
    with pytest.raises(FrameError):
        decode_frame(frame)


def test_ext_with_escapes_matches_generic_json() -> None:
    import json

    ext = {"i": "UNIQ_KEY\x01A\x02TAGS\x01T\"a\\g\x02", "k\n": "ü😀"}
    cmd = RemotingCommand(code=1, ext_fields=ext)
    frame = encode_command(cmd)
    assert json.dumps(ext, ensure_ascii=False, separators=(",", ":")).encode() in frame
    assert decode_frame(frame).ext_fields == ext


def test_header_too_long_for_24_bit_length_is_an_encode_error() -> None:
    from rmqcore.remoting import EncodeError

    cmd = RemotingCommand(code=1, ext_fields={"big": "x" * (1 << 24)})
    with pytest.raises(EncodeError):
        encode_command(cmd)


def test_non_string_ext_values_are_rendered_like_java_on_encode() -> None:
    cmd = RemotingCommand(code=1, ext_fields={"n": 5, "b": True, "s": "x"})  # type: ignore[dict-item]
    assert decode_frame(encode_command(cmd)).ext_fields == {"n": "5", "b": "true", "s": "x"}


def test_body_may_be_any_buffer() -> None:
    for body in (bytearray(b"abc"), memoryview(b"abc")):
        cmd = RemotingCommand(code=1, body=body)  # type: ignore[arg-type]
        assert decode_frame(encode_command(cmd)).body == b"abc"
