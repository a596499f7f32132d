"""A broker with brokerRole=SLAVE serves reads and refuses every write of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmqcore.message import Message, decode_stored_messages
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode, ResponseCode
from rmqcore.remoting.headers.client import ConsumerSendMsgBackRequestHeader
from rmqcore.remoting.headers.transaction import EndTransactionRequestHeader
from rmqcore.server.broker.topics import TopicConfig

from .conftest import connect, running_broker

pytestmark = pytest.mark.anyio

TOPIC = "SlaveTopic"


async def test_sends_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async with running_broker(tmp_path, brokerRole="SLAVE", brokerId="1") as broker, connect(broker.port) as client:
        for code in (RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2):
            answer = await client.send(TOPIC, b"m", code=code)
            assert answer.code == ResponseCode.SERVICE_NOT_AVAILABLE
            assert answer.remark and "slave mode, so putMessage is forbidden" in answer.remark
        batch = await client.send_batch(TOPIC, [Message(TOPIC, b"b1"), Message(TOPIC, b"b2")])
        assert batch.code == ResponseCode.SERVICE_NOT_AVAILABLE
        delayed = await client.send(TOPIC, b"d", properties={C.PROPERTY_DELAY_TIME_LEVEL: "1"})
        assert delayed.code == ResponseCode.SERVICE_NOT_AVAILABLE
        assert broker.store.max_phy_offset == 0


async def test_reads_of_replicated_messages_are_served(tmp_path: Path) -> None:
    async with running_broker(tmp_path, brokerRole="SLAVE", brokerId="1") as broker, connect(broker.port) as client:
        # What replication from the master would have written (topic configs and messages).
        broker.topics.update(TopicConfig(TOPIC, 4, 4, 6))
        for i in range(3):
            broker.store.put(Message(TOPIC, f"r{i}".encode(), tags="TagA"), 0)
        pulled = await client.pull("CG", TOPIC, 0, 0)
        assert pulled.code == ResponseCode.SUCCESS
        assert [m.body for m in decode_stored_messages(pulled.body or b"")] == [b"r0", b"r1", b"r2"]
        max_offset = await client.request(RequestCode.GET_MAX_OFFSET, {"topic": TOPIC, "queueId": "0"})
        assert max_offset.code == 0 and max_offset.ext_fields["offset"] == "3"


async def test_send_back_and_end_transaction_are_refused(tmp_path: Path) -> None:
    async with running_broker(tmp_path, brokerRole="SLAVE", brokerId="1") as broker, connect(broker.port) as client:
        result = broker.store.put(Message(TOPIC, b"failed once"), 0)
        back = await client.request(
            RequestCode.CONSUMER_SEND_MSG_BACK, ConsumerSendMsgBackRequestHeader(result.commitlog_offset, "CG", 3), version=400
        )
        assert back.code == ResponseCode.SERVICE_NOT_AVAILABLE
        end = EndTransactionRequestHeader("PG", 0, result.commitlog_offset, C.TRANSACTION_COMMIT_TYPE, "tx", topic=TOPIC)
        answer = await client.request(RequestCode.END_TRANSACTION, end)
        assert answer.code == ResponseCode.SLAVE_NOT_AVAILABLE and answer.remark and "slave mode" in answer.remark
        assert broker.store.max_phy_offset == result.commitlog_offset + result.wrote_bytes


async def test_a_master_still_takes_writes(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        assert not broker.is_slave
        assert (await client.send(TOPIC, b"m")).code == ResponseCode.SUCCESS
