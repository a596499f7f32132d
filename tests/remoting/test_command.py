"""RemotingCommand helpers, OpaqueCounter, and the request-header dispatcher."""

from __future__ import annotations

import threading

import pytest

from rmqcore.remoting import (
    HeaderError,
    OpaqueCounter,
    RemotingCommand,
    RequestCode,
    ResponseCode,
    SerializeType,
    decode_frame,
    encode_command,
    make_request,
    make_response,
)
from rmqcore.remoting.headers import (
    PullMessageRequestHeader,
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    decode_request_header,
)


def test_flags() -> None:
    request = make_request(RequestCode.END_TRANSACTION, oneway=True)
    assert request.is_oneway and not request.is_response
    response = make_response(make_request(11, opaque=5), ResponseCode.PULL_NOT_FOUND)
    assert response.is_response and not response.is_oneway
    assert (response.code, response.opaque, response.flag) == (19, 5, 1)
    cmd = RemotingCommand(code=1)
    cmd.mark_response()
    cmd.mark_oneway()
    assert cmd.flag == 3


def test_response_uses_server_serialize_type_not_the_requests() -> None:
    request = make_request(105, {"topic": "T"}, serialize_type=SerializeType.ROCKETMQ)
    assert make_response(request, 0).serialize_type is SerializeType.JSON
    assert make_response(request, 0, serialize_type=SerializeType.ROCKETMQ).serialize_type is SerializeType.ROCKETMQ


def test_response_body_and_remark_survive_the_wire() -> None:
    response = make_response(make_request(105, opaque=3), ResponseCode.TOPIC_NOT_EXIST, remark="No topic route info in name server for the topic: T", body=b"{}")
    for stype in SerializeType:
        back = decode_frame(encode_command(response, stype))
        assert (back.code, back.remark, back.body, back.opaque, back.is_response) == (17, response.remark, b"{}", 3, True)


def test_opaque_counter_wraps_and_is_thread_safe() -> None:
    counter = OpaqueCounter()
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        local = [counter.next() for _ in range(2000)]
        with lock:
            seen.extend(local)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(16000))
    wrap = OpaqueCounter(start=2**31 - 2)
    assert [next(wrap) for _ in range(3)] == [2**31 - 2, 2**31 - 1, 0]


def test_decode_request_header_dispatch() -> None:
    v2 = SendMessageRequestHeaderV2("PG", "T", "TBW102", 4, 0, 0, 1, 0)
    for code in (310, 320):
        assert decode_request_header(code, v2.to_ext()) == v2.to_v1()
    assert isinstance(decode_request_header(10, v2.to_v1().to_ext()), SendMessageRequestHeader)
    pull = PullMessageRequestHeader("CG", "T", 0, 0, 32, 0, 0, 0, 0)
    assert decode_request_header(361, pull.to_ext()) == pull
    with pytest.raises(HeaderError) as info:
        decode_request_header(34, {})
    assert info.value.response_code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
