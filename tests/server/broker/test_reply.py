"""SEND_REPLY_MESSAGE (324/325): the broker pushes a reply to the requesting client's
connection as PUSH_REPLY_MESSAGE_TO_CLIENT (326) and answers the responder with the push's
outcome; it also stores the reply in ``<cluster>_REPLY_TOPIC`` unless told not to."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmqcore.message import constants as C
from rmqcore.message import decode_offset_message_id, decode_properties, decode_stored_messages
from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting.headers.client import ReplyMessageRequestHeader
from tests.server.broker.conftest import connect, running_broker

pytestmark = pytest.mark.anyio

REQUESTER_ID = "10.0.0.7@requester"
REPLY_TOPIC = "DefaultCluster_REPLY_TOPIC"
REPLY_V2 = RequestCode.SEND_REPLY_MESSAGE_V2


def reply_properties(**extra: str) -> dict[str, str]:
    props = {
        C.PROPERTY_MESSAGE_TYPE: C.REPLY_MESSAGE_FLAG,
        C.PROPERTY_CORRELATION_ID: "corr-1",
        C.PROPERTY_MESSAGE_REPLY_TO_CLIENT: REQUESTER_ID,
        C.PROPERTY_MESSAGE_TTL: "3000",
    }
    props.update(extra)
    return props


def accept(cmd: RemotingCommand) -> RemotingCommand:
    return make_response(cmd, ResponseCode.SUCCESS)


@pytest.mark.parametrize("code", [RequestCode.SEND_REPLY_MESSAGE_V2, RequestCode.SEND_REPLY_MESSAGE])
async def test_reply_is_pushed_to_the_requester_and_stored(tmp_path: Path, code: int) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port, answer=accept) as requester, connect(broker.port) as responder:
        assert (await requester.heartbeat(REQUESTER_ID, producer_group="RequestPG")).code == ResponseCode.SUCCESS
        answer = await responder.send(REPLY_TOPIC, b"the answer", properties=reply_properties(), code=code, producer_group="ReplyPG")
        assert answer.code == ResponseCode.SUCCESS, answer.remark

        [push] = await requester.requests.wait_for(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT)
        header = ReplyMessageRequestHeader.from_ext(push.ext_fields)
        assert push.body == b"the answer"
        assert (header.topic, header.producer_group, header.queue_id) == (REPLY_TOPIC, "ReplyPG", 0)
        assert header.store_host == f"/{broker.broker_addr}"
        assert header.born_host.startswith("/127.0.0.1:")
        pushed = decode_properties(header.properties or "")
        assert pushed[C.PROPERTY_CORRELATION_ID] == "corr-1"
        assert int(pushed[C.PROPERTY_PUSH_REPLY_TIME]) == header.store_timestamp

        # The answer names the stored copy, which keeps the properties as sent.
        (host, port), commitlog_offset = decode_offset_message_id(answer.ext_fields["msgId"])
        assert f"{host}:{port}" == broker.broker_addr
        assert answer.ext_fields["queueOffset"] == "0"
        pulled = await responder.pull("ReplyReader", REPLY_TOPIC, 0, 0)
        assert pulled.code == ResponseCode.SUCCESS
        [stored] = decode_stored_messages(pulled.body or b"")
        assert stored.body == b"the answer" and stored.commitlog_offset == commitlog_offset
        assert C.PROPERTY_PUSH_REPLY_TIME not in stored.properties
        assert stored.properties[C.PROPERTY_CORRELATION_ID] == "corr-1"


async def test_reply_topic_exists_from_start_with_one_queue(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker:
        config = broker.topics.select(REPLY_TOPIC)
        assert config is not None
        assert (config.read_queue_nums, config.write_queue_nums) == (1, 1)
        assert config.perm & C.PERM_WRITE and config.perm & C.PERM_READ


async def test_requester_not_connected_fails_the_reply_with_system_error(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as responder:
        answer = await responder.send(REPLY_TOPIC, b"late", properties=reply_properties(), code=REPLY_V2)
    assert answer.code == ResponseCode.SYSTEM_ERROR
    assert answer.remark == f"push reply message fail, channel of <{REQUESTER_ID}> not found."


async def test_reply_without_reply_to_client_fails_with_system_error(tmp_path: Path) -> None:
    props = reply_properties()
    del props[C.PROPERTY_MESSAGE_REPLY_TO_CLIENT]
    async with running_broker(tmp_path) as broker, connect(broker.port) as responder:
        answer = await responder.send(REPLY_TOPIC, b"x", properties=props, code=REPLY_V2)
    assert answer.code == ResponseCode.SYSTEM_ERROR
    assert answer.remark == "reply message properties[REPLY_TO_CLIENT] is null"


async def test_requester_refusing_the_push_fails_the_reply(tmp_path: Path) -> None:
    def refuse(cmd: RemotingCommand) -> RemotingCommand:
        return make_response(cmd, ResponseCode.SYSTEM_ERROR, "process reply message fail")

    async with running_broker(tmp_path) as broker, connect(broker.port, answer=refuse) as requester, connect(broker.port) as responder:
        await requester.heartbeat(REQUESTER_ID, producer_group="RequestPG")
        answer = await responder.send(REPLY_TOPIC, b"x", properties=reply_properties(), code=REPLY_V2)
    assert answer.code == ResponseCode.SYSTEM_ERROR
    assert answer.remark == f"push reply message to {REQUESTER_ID} fail."


async def test_store_reply_message_disabled_pushes_without_storing(tmp_path: Path) -> None:
    async with running_broker(tmp_path, storeReplyMessageEnable="false") as broker, connect(
        broker.port, answer=accept
    ) as requester, connect(broker.port) as responder:
        await requester.heartbeat(REQUESTER_ID, producer_group="RequestPG")
        answer = await responder.send(REPLY_TOPIC, b"x", properties=reply_properties(), code=REPLY_V2)
        assert answer.code == ResponseCode.SUCCESS
        assert (answer.ext_fields["msgId"], answer.ext_fields["queueOffset"]) == ("0", "0")
        await requester.requests.wait_for(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT)
        assert broker.store.max_offset(REPLY_TOPIC, 0) == 0


async def test_reply_to_a_forbidden_topic_is_refused_before_any_push(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port, answer=accept) as requester, connect(broker.port) as responder:
        await requester.heartbeat(REQUESTER_ID, producer_group="RequestPG")
        answer = await responder.send(C.SCHEDULE_TOPIC, b"x", properties=reply_properties(), code=REPLY_V2)
        assert answer.code == ResponseCode.NO_PERMISSION
        assert not [c for c in requester.requests.received if c.code == RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT]
