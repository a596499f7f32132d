"""Hot-path costs of rmqcore.remoting: decode frame -> typed header, and encode the response.

Run: .venv/bin/pytest benchmarks/test_remoting_bench.py --benchmark-only
"""

from __future__ import annotations

import pytest

from rmqcore.remoting import (
    FrameDecoder,
    RemotingCommand,
    RequestCode,
    ResponseCode,
    encode_command,
    encode_command_buffers,
    make_request,
    make_response,
)
from rmqcore.remoting.headers import (
    PullMessageRequestHeader,
    PullMessageResponseHeader,
    SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
    decode_send_request_header,
)

SEND_V2_HEADER = SendMessageRequestHeaderV2(
    producer_group="please_rename_unique_group_name",
    topic="TopicTest",
    default_topic="TBW102",
    default_topic_queue_nums=4,
    queue_id=3,
    sys_flag=0,
    born_timestamp=1700000000000,
    flag=0,
    properties="UNIQ_KEY\x017F000001A1B218B4AAC25A1C6D200000\x02WAIT\x01true\x02TAGS\x01TagA\x02",
    reconsume_times=0,
    unit_mode=False,
    max_reconsume_times=16,
    batch=False,
    broker_name="broker-a",
)
SEND_V2_FRAME = encode_command(make_request(RequestCode.SEND_MESSAGE_V2, SEND_V2_HEADER, b"x" * 128, opaque=1234))
PULL_HEADER = PullMessageRequestHeader(
    consumer_group="please_rename_unique_group_name_4", topic="TopicTest", queue_id=2, queue_offset=123456,
    max_msg_nums=32, sys_flag=0x7, commit_offset=123400, suspend_timeout_millis=15000, sub_version=1700000000000,
    subscription="TagA || TagB", expression_type="TAG",
)  # fmt: skip
PULL_FRAME = encode_command(make_request(RequestCode.PULL_MESSAGE, PULL_HEADER, opaque=99))
PULL_BODY = b"m" * (32 * 250)  # 32 stored messages of ~250 bytes


def _decode_one(frame: bytes) -> RemotingCommand:
    [cmd] = FrameDecoder().feed(frame)
    return cmd


def test_decode_send_v2_request_frame_and_header(benchmark: pytest.FixtureRequest) -> None:
    def run() -> object:
        cmd = _decode_one(SEND_V2_FRAME)
        return decode_send_request_header(cmd.code, cmd.ext_fields)

    header = benchmark(run)
    assert header.topic == "TopicTest"


def test_encode_send_response(benchmark: pytest.FixtureRequest) -> None:
    request = _decode_one(SEND_V2_FRAME)

    def run() -> bytes:
        response_header = SendMessageResponseHeader("0A00000100002A9F0000000000000BB8", 3, 4711, "7F000001A1B218B4AAC25A1C6D200000")
        return encode_command(make_response(request, ResponseCode.SUCCESS, ext=response_header))

    frame = benchmark(run)
    assert _decode_one(frame).opaque == 1234


def test_encode_send_v2_request(benchmark: pytest.FixtureRequest) -> None:
    frame = benchmark(lambda: encode_command(make_request(RequestCode.SEND_MESSAGE_V2, SEND_V2_HEADER, b"x" * 128, opaque=1234)))
    assert frame == SEND_V2_FRAME


def test_decode_pull_request_frame_and_header(benchmark: pytest.FixtureRequest) -> None:
    def run() -> PullMessageRequestHeader:
        return PullMessageRequestHeader.from_ext(_decode_one(PULL_FRAME).ext_fields)

    assert benchmark(run) == PULL_HEADER


def test_encode_pull_request(benchmark: pytest.FixtureRequest) -> None:
    assert benchmark(lambda: encode_command(make_request(RequestCode.PULL_MESSAGE, PULL_HEADER, opaque=99))) == PULL_FRAME


def test_encode_pull_response_buffers(benchmark: pytest.FixtureRequest) -> None:
    request = _decode_one(PULL_FRAME)

    def run() -> list[object]:
        header = PullMessageResponseHeader(0, 123488, 0, 200000)
        return encode_command_buffers(make_response(request, ResponseCode.SUCCESS, ext=header, body=PULL_BODY))

    buffers = benchmark(run)
    assert len(buffers) == 2


def test_decode_pull_response(benchmark: pytest.FixtureRequest) -> None:
    request = _decode_one(PULL_FRAME)
    frame = encode_command(make_response(request, ResponseCode.SUCCESS, ext=PullMessageResponseHeader(0, 123488, 0, 200000), body=PULL_BODY))

    def run() -> PullMessageResponseHeader:
        cmd = _decode_one(frame)
        return PullMessageResponseHeader.from_ext(cmd.ext_fields)

    assert benchmark(run).next_begin_offset == 123488


def test_decode_send_v2_request_binary_header(benchmark: pytest.FixtureRequest) -> None:
    from rmqcore.remoting import SerializeType

    frame = encode_command(make_request(RequestCode.SEND_MESSAGE_V2, SEND_V2_HEADER, b"x" * 128, opaque=1234), SerializeType.ROCKETMQ)

    def run() -> object:
        cmd = _decode_one(frame)
        return decode_send_request_header(cmd.code, cmd.ext_fields)

    assert benchmark(run).topic == "TopicTest"


def test_decode_send_v2_json_header_common_shape(benchmark: pytest.FixtureRequest) -> None:
    """decode_common_json_header (what ProtocolChannel reads a request's header with) on a V2 send header."""
    from rmqcore.remoting.json_header import decode_common_json_header, decode_json_header

    header = SEND_V2_FRAME[8 : 8 + int.from_bytes(SEND_V2_FRAME[5:8], "big")]
    cmd = benchmark(decode_common_json_header, header)
    assert cmd == decode_json_header(header)


@pytest.mark.parametrize("codec", ["c", "python"])
def test_json_header_codec(benchmark: pytest.FixtureRequest, codec: str) -> None:
    """One send's worth of JSON header work, C against the interpreter in the same run: read a
    V2 send request header (common shape) and write its send response header."""
    from rmqcore.remoting import json_header

    if codec == "c" and json_header._c_encode is None:
        pytest.skip("rmqcore.remoting._json_header is not built")
    header = SEND_V2_FRAME[8 : 8 + int.from_bytes(SEND_V2_FRAME[5:8], "big")]
    request = _decode_one(SEND_V2_FRAME)
    response = make_response(request, ResponseCode.SUCCESS, ext=SendMessageResponseHeader(
        msg_id="7F00000100002A9F0000000000001234", queue_id=3, queue_offset=123456,
        transaction_id="7F000001A1B218B4AAC25A1C6D200000",
    ))  # fmt: skip
    if codec == "c":
        decode, encode = json_header.decode_common_json_header, json_header.encode_json_header
    else:
        decode, encode = json_header.decode_common_json_header_py, json_header.encode_json_header_py

    def run() -> tuple[object, bytes]:
        return decode(header), encode(response)

    benchmark.extra_info["messages"] = 1
    if codec == "c":
        benchmark.extra_info["targets"] = [["test_json_header_codec[python]", None, "msgs/s"]]
    cmd, out = benchmark(run)
    assert cmd == json_header.decode_common_json_header_py(header)
    assert out == json_header.encode_json_header_py(response)


def test_channel_reads_a_send_and_writes_its_answer(benchmark: pytest.FixtureRequest) -> None:
    """ProtocolChannel.data_received of one V2 send frame, a handler answering a send response
    at once, and the answer written to the transport: the transport's share of a send."""
    from rmqcore.transport.protocol_channel import ProtocolChannel

    written: list[object] = []

    class Transport:
        def write(self, data: bytes) -> None:
            written.append(data)

        def writelines(self, data: object) -> None:
            written.append(data)

        def is_closing(self) -> bool:
            return False

    ext = {"msgId": "0A00000100002A9F0000000000000BB8", "queueId": "3", "queueOffset": "4711",
           "transactionId": "7F000001A1B218B4AAC25A1C6D200000", "MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}  # fmt: skip

    def handler(channel: object, cmd: RemotingCommand) -> RemotingCommand:
        return RemotingCommand(code=0, opaque=cmd.opaque, flag=1, ext_fields=dict(ext))

    channel = ProtocolChannel(handler)
    channel._transport = Transport()  # type: ignore[assignment]
    benchmark(channel.data_received, SEND_V2_FRAME)
    assert _decode_one(written[-1]).ext_fields == ext  # type: ignore[arg-type]
