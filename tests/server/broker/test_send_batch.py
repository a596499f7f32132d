"""SEND_BATCH_MESSAGE: the wire body goes to the store undecoded; batches without UNIQ_KEYs fall back."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmqcore.message import Message, decode_offset_message_id, decode_stored_messages, encode_batch_body
from rmqcore.remoting import RequestCode, ResponseCode
from rmqcore.remoting.headers.send import SendMessageRequestHeader, encode_send_request_ext

from .conftest import connect, running_broker

pytestmark = pytest.mark.anyio

TOPIC = "TopicBatch"


def _batch_request_parts(messages: list[Message], queue_id: int = 0):
    header = SendMessageRequestHeader("PG", TOPIC, "TBW102", 4, queue_id, 0, 1_700_000_000_123, 0, batch=True)
    return encode_send_request_ext(header), encode_batch_body(messages)


@pytest.mark.parametrize("flush", ["ASYNC_FLUSH", "SYNC_FLUSH"])
@pytest.mark.parametrize("with_uniq_keys", [True, False])
async def test_batch_is_stored_with_each_inner_message_own_properties(tmp_path: Path, flush: str, with_uniq_keys: bool) -> None:
    messages = [Message(TOPIC, f"body-{i}".encode(), tags=f"Tag{i % 2}", keys=(f"key-{i}",)) for i in range(10)]
    if with_uniq_keys:
        for i, m in enumerate(messages):
            m.uniq_key = f"{i:032X}"
    async with running_broker(tmp_path, flushDiskType=flush) as broker, connect(broker.port) as client:
        ext, body = _batch_request_parts(messages)
        response = await client.request(RequestCode.SEND_BATCH_MESSAGE, ext, body)
        assert response.code == ResponseCode.SUCCESS, response.remark
        msg_ids = response.ext_fields["msgId"].split(",")
        assert len(msg_ids) == 10 and response.ext_fields["queueOffset"] == "0"

        pulled = await client.pull("CG", TOPIC, 0, 0)
        stored = decode_stored_messages(pulled.body)
        assert [m.body for m in stored] == [m.body for m in messages]
        assert [m.tags for m in stored] == [m.tags for m in messages]
        assert [m.queue_offset for m in stored] == list(range(10))
        assert all(m.born_timestamp == 1_700_000_000_123 for m in stored)
        assert [decode_offset_message_id(i)[1] for i in msg_ids] == [m.commitlog_offset for m in stored]
        keys = [m.uniq_key for m in stored]
        assert all(keys) and len(set(keys)) == 10
        if with_uniq_keys:
            assert keys == [f"{i:032X}" for i in range(10)]
        # Each inner message is findable by its own key (the index was written for it).
        found = broker.store.query_by_key(TOPIC, "key-7").messages
        assert [m.body for m in found] == [b"body-7"]


async def test_malformed_batch_body_is_message_illegal_and_nothing_is_stored(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        ext, body = _batch_request_parts([Message(TOPIC, b"x", properties={"UNIQ_KEY": "A" * 32})] * 3)
        response = await client.request(RequestCode.SEND_BATCH_MESSAGE, ext, body[:-5])
        assert response.code == ResponseCode.MESSAGE_ILLEGAL, response.remark
        assert broker.store.max_offset(TOPIC, 0) == 0
        ok = await client.request(RequestCode.SEND_BATCH_MESSAGE, ext, body)
        assert ok.code == ResponseCode.SUCCESS and broker.store.max_offset(TOPIC, 0) == 3
