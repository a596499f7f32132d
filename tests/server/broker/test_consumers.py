"""Consumer groups over the wire: membership and notify, offsets across restart, locks, retry and DLQ."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from rmqcore.clock import FakeClock
from rmqcore.message import MessageQueue, decode_offset_message_id, decode_stored_messages
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode, ResponseCode
from rmqcore.remoting.bodies.client import ConsumerListBody
from rmqcore.remoting.bodies.lock import LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody
from rmqcore.remoting.headers.client import (
    ConsumerSendMsgBackRequestHeader,
    GetConsumerListByGroupRequestHeader,
    UnregisterClientRequestHeader,
)
from rmqcore.remoting.headers.offset import QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader

from .conftest import connect, running_broker

pytestmark = pytest.mark.anyio

TOPIC = "TopicTest"
GROUP = "CG"


async def _consumer_ids(client, group: str = GROUP) -> list[str] | None:
    response = await client.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, GetConsumerListByGroupRequestHeader(group))
    if response.code != ResponseCode.SUCCESS:
        return None
    return sorted(ConsumerListBody.decode(response.body).consumer_id_list)


async def test_members_join_and_leave_with_notifications(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as c1, connect(broker.port) as c2:
        assert (await c1.heartbeat("c1", consumer_group=GROUP, topics={TOPIC: "*"})).code == 0
        await c1.requests.wait_for(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, 1)
        assert (await c2.heartbeat("c2", consumer_group=GROUP, topics={TOPIC: "*"})).code == 0
        # Both members hear about the join (one-way requests naming the group).
        [note] = (await c1.requests.wait_for(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, 2))[1:]
        assert note.is_oneway and note.ext_fields == {"consumerGroup": GROUP}
        await c2.requests.wait_for(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, 1)
        assert await _consumer_ids(c1) == ["c1", "c2"]
        # The heartbeat created the group's retry topic with one queue (reference section 10).
        assert broker.topics.select(f"%RETRY%{GROUP}").write_queue_nums == 1

        # c2 leaves by closing its connection: c1 is told.
        await c2.channel.close()
        await c1.requests.wait_for(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, 3)
        assert await _consumer_ids(c1) == ["c1"]

        async with connect(broker.port) as c3:
            await c3.heartbeat("c3", consumer_group=GROUP, topics={TOPIC: "*"})
            await c1.requests.wait_for(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, 4)
            # c1 keeps beating; c3 falls silent for more than 120 s and is dropped.
            clock.advance(100_000)
            await c1.heartbeat("c1", consumer_group=GROUP, topics={TOPIC: "*"})
            clock.advance(20_001)
            expired = broker.scan_expired_clients()
            assert len(expired) == 1
            await c1.requests.wait_for(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, 5)
            assert await _consumer_ids(c1) == ["c1"]
            with anyio.fail_after(5):
                await c3.channel.closed_event.wait()  # the broker closed the expired connection

        response = await c1.request(
            RequestCode.UNREGISTER_CLIENT, UnregisterClientRequestHeader("c1", consumer_group=GROUP)
        )
        assert response.code == 0
        assert await _consumer_ids(c1) is None


async def test_offsets_persist_across_restart(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000_000)
    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as client:
        await client.send(TOPIC, b"x", queue_id=1)
        missing = await client.request(RequestCode.QUERY_CONSUMER_OFFSET, QueryConsumerOffsetRequestHeader(GROUP, TOPIC, 2))
        assert missing.code == ResponseCode.QUERY_NOT_FOUND
        # No commit yet, but message 0 is still stored: start at 0.
        fresh = await client.request(RequestCode.QUERY_CONSUMER_OFFSET, QueryConsumerOffsetRequestHeader(GROUP, TOPIC, 1))
        assert (fresh.code, fresh.ext_fields["offset"]) == (0, "0")
        for queue_id, offset in ((0, 17), (1, 1), (3, 250)):
            update = await client.request(
                RequestCode.UPDATE_CONSUMER_OFFSET, UpdateConsumerOffsetRequestHeader(GROUP, TOPIC, queue_id, offset)
            )
            assert update.code == 0
        # A pull can commit too (PullSysFlag COMMIT_OFFSET).
        await client.pull(GROUP, TOPIC, 2, 0, commit_offset=5)
        assert broker.flush_consumer_offsets() is True
        on_disk = json.loads((tmp_path / "config" / "consumerOffset.json").read_text())
        assert on_disk["offsetTable"] == {f"{TOPIC}@{GROUP}": {"0": 17, "1": 1, "2": 5, "3": 250}}
        assert on_disk["dataVersion"]["timestamp"] == 1_700_000_000_000
        await client.request(RequestCode.UPDATE_CONSUMER_OFFSET, UpdateConsumerOffsetRequestHeader(GROUP, TOPIC, 0, 18))
        # Not flushed yet: shutdown must write it.

    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as client:
        got = await client.request(RequestCode.QUERY_CONSUMER_OFFSET, QueryConsumerOffsetRequestHeader(GROUP, TOPIC, 0))
        assert (got.code, got.ext_fields["offset"]) == (0, "18")
        all_offsets = await client.request(RequestCode.GET_ALL_CONSUMER_OFFSET)
        assert json.loads(all_offsets.body)["offsetTable"][f"{TOPIC}@{GROUP}"]["3"] == 250
        # Messages survive the restart too.
        assert broker.store.max_offset(TOPIC, 1) == 1


async def test_lock_unlock_and_expiry(tmp_path: Path) -> None:
    clock = FakeClock()
    queues = [MessageQueue(TOPIC, "broker-test", q) for q in range(3)]

    async def lock(client, client_id: str, mqs: list[MessageQueue]) -> list[MessageQueue]:
        response = await client.request(RequestCode.LOCK_BATCH_MQ, None, LockBatchRequestBody(GROUP, client_id, mqs).encode())
        assert response.code == 0
        return LockBatchResponseBody.decode(response.body).lock_ok_mq_set

    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as client:
        assert await lock(client, "c1", queues[:2]) == queues[:2]
        assert await lock(client, "c2", queues) == [queues[2]]
        clock.advance(30_000)
        assert await lock(client, "c1", queues[:1]) == queues[:1]  # renews queue 0 only
        clock.advance(30_001)  # queue 1 (c1) and queue 2 (c2) are now 60 s + 1 ms old
        assert await lock(client, "c2", queues) == queues[1:]
        unlock = await client.request(
            RequestCode.UNLOCK_BATCH_MQ, None, UnlockBatchRequestBody(GROUP, "c2", queues).encode()
        )
        assert unlock.code == 0
        assert await lock(client, "c3", queues) == queues[1:]  # c1 still holds queue 0
        clock.advance(60_001)
        assert broker.expire_locks() == 3


async def test_send_back_retry_through_schedule_topic_then_dlq(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000_000)
    retry = f"%RETRY%{GROUP}"
    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as client:
        await client.heartbeat("c1", consumer_group=GROUP, topics={TOPIC: "*", retry: "*"})
        sent = await client.send(TOPIC, b"fails twice", tags="TagA", keys="order-7")
        _, commitlog_offset = decode_offset_message_id(sent.ext_fields["msgId"])

        back = await client.request(
            RequestCode.CONSUMER_SEND_MSG_BACK,
            ConsumerSendMsgBackRequestHeader(commitlog_offset, GROUP, 0, origin_topic=TOPIC, max_reconsume_times=2),
        )
        assert back.code == 0, back.remark
        # Delay level 3 + reconsumeTimes(0) = level 3 (10 s): parked in SCHEDULE_TOPIC_XXXX queue 2.
        assert broker.store.max_offset(C.SCHEDULE_TOPIC, 2) == 1
        assert broker.store.max_offset(retry, 0) == 0
        clock.advance(9_999)
        assert broker.tick_delay() == 0
        clock.advance(1)
        assert broker.tick_delay() == 1
        first_retry = decode_stored_messages((await client.pull(GROUP, retry, 0, 0)).body)
        [m] = first_retry
        assert (m.body, m.reconsume_times, m.tags) == (b"fails twice", 1, "TagA")
        assert m.properties["RETRY_TOPIC"] == TOPIC
        assert m.properties["ORIGIN_MESSAGE_ID"] == sent.ext_fields["msgId"]

        # Second failure: level 3 + 1 = 4 (30 s).
        back = await client.request(
            RequestCode.CONSUMER_SEND_MSG_BACK,
            ConsumerSendMsgBackRequestHeader(m.commitlog_offset, GROUP, 0, max_reconsume_times=2),
        )
        assert back.code == 0
        assert broker.store.max_offset(C.SCHEDULE_TOPIC, 3) == 1
        clock.advance(30_000)
        assert broker.tick_delay() == 1
        [m2] = decode_stored_messages((await client.pull(GROUP, retry, 0, 1)).body)
        assert m2.reconsume_times == 2

        # Third failure: reconsumeTimes 2 >= max 2 → %DLQ%CG at once, no delay.
        back = await client.request(
            RequestCode.CONSUMER_SEND_MSG_BACK,
            ConsumerSendMsgBackRequestHeader(m2.commitlog_offset, GROUP, 0, max_reconsume_times=2),
        )
        assert back.code == 0
        dlq = f"%DLQ%{GROUP}"
        assert broker.topics.select(dlq).read_queue_nums == 1
        [dead] = decode_stored_messages((await client.pull(GROUP, dlq, 0, 0)).body)
        assert (dead.body, dead.reconsume_times) == (b"fails twice", 3)
        assert dead.properties["ORIGIN_MESSAGE_ID"] == sent.ext_fields["msgId"]
        assert dead.properties[C.PROPERTY_DLQ_ORIGIN_TOPIC] == retry
        assert C.PROPERTY_DELAY_TIME_LEVEL not in dead.properties


async def test_default_max_reconsume_is_16(tmp_path: Path) -> None:
    """Without a header max (clients older than V3_4_9), the group's retryMaxTimes (16) applies."""
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        sent = await client.send(TOPIC, b"x", reconsume_times=None)
        _, offset = decode_offset_message_id(sent.ext_fields["msgId"])
        old_client = await client.request(
            RequestCode.CONSUMER_SEND_MSG_BACK, ConsumerSendMsgBackRequestHeader(offset, GROUP, 0, max_reconsume_times=0), version=100
        )
        assert old_client.code == 0
        assert broker.store.max_offset(C.SCHEDULE_TOPIC, 2) == 1  # retried (0 < 16), not DLQ
        # A direct send to the retry topic past the max goes to the DLQ (reference section 10).
        direct = await client.send(f"%RETRY%{GROUP}", b"y", reconsume_times=17)
        assert direct.code == 0
        assert broker.store.max_offset(f"%DLQ%{GROUP}", 0) == 1


async def test_sql_heartbeat_subscription_used_by_pull_without_subscription(tmp_path: Path) -> None:
    async with running_broker(tmp_path, enablePropertyFilter="true") as broker, connect(broker.port) as client:
        for i in range(4):
            await client.send(TOPIC, b"%d" % i, properties={"n": str(i)})
        await client.heartbeat("c1", consumer_group=GROUP, topics={TOPIC: "n > 1"}, expression_type="SQL92")
        response = await client.pull(GROUP, TOPIC, 0, 0, subscription=None)
        assert response.code == 0
        assert [m.body for m in decode_stored_messages(response.body)] == [b"2", b"3"]
        no_group = await client.pull("OtherGroup", TOPIC, 0, 0, subscription=None)
        assert no_group.code == ResponseCode.SUBSCRIPTION_NOT_EXIST
        await client.heartbeat("c1", consumer_group="BadSql", topics={TOPIC: "n >"}, expression_type="SQL92")
        broken = await client.pull("BadSql", TOPIC, 0, 0, subscription=None)
        assert broken.code == ResponseCode.FILTER_DATA_NOT_EXIST
