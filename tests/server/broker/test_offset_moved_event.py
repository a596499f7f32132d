"""PULL_OFFSET_MOVED answers store an OffsetMovedEvent in the system topic OFFSET_MOVED_EVENT
(RocketMQ's pull result handler, ``generateOffsetMovedEvent``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from rmqcore.message import Message, tags_code
from rmqcore.remoting import ResponseCode
from rmqcore.server.broker.topics import TopicConfig

from .conftest import connect, running_broker

pytestmark = pytest.mark.anyio

TOPIC = "TopicTest"
GROUP = "CG"
EVENTS = "OFFSET_MOVED_EVENT"


def _events(broker: object) -> list:  # type: ignore[type-arg]
    return broker.store.get_raw(EVENTS, 0, 0, 32).messages  # type: ignore[attr-defined]


async def test_offset_moved_answer_stores_the_event(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        # The system topic exists from the start: one read and one write queue, not for clients.
        config = broker.topics.select(EVENTS)
        assert config is not None and (config.read_queue_nums, config.write_queue_nums) == (1, 1)
        refused = await client.send(EVENTS, b"x", queue_id=0)
        assert refused.code == ResponseCode.NO_PERMISSION

        for i in range(2):
            assert (await client.send(TOPIC, b"m%d" % i, queue_id=2)).code == 0
        # answers that are not PULL_OFFSET_MOVED store nothing
        assert (await client.pull(GROUP, TOPIC, 2, 0)).code == ResponseCode.SUCCESS
        assert (await client.pull(GROUP, TOPIC, 2, 2)).code == ResponseCode.PULL_NOT_FOUND
        assert (await client.pull(GROUP, TOPIC, 2, 0, subscription="TagZ")).code == ResponseCode.PULL_RETRY_IMMEDIATELY
        assert (await client.pull(GROUP, TOPIC, 3, 0)).code == ResponseCode.PULL_NOT_FOUND  # empty queue, offset 0
        assert broker.store.max_offset(EVENTS, 0) == 0

        with structlog.testing.capture_logs() as logs:
            past_end = await client.pull(GROUP, TOPIC, 2, 9)
        assert (past_end.code, past_end.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_OFFSET_MOVED, "2")
        assert [e for e in logs if e["event"] == "pull_offset_moved"] == [
            {
                "event": "pull_offset_moved", "log_level": "warning", "topic": TOPIC, "group": GROUP, "queue_id": 2,
                "request_offset": 9, "new_offset": 2, "suggest_broker_id": "0",
            }
        ]  # fmt: skip
        (event,) = _events(broker)
        assert (event.topic, event.queue_id, event.flag, event.sys_flag, event.reconsume_times) == (EVENTS, 0, 0, 0, 0)
        assert event.born_host == event.store_host == broker.store_host
        assert event.properties == {"KEYS": GROUP, "DELAY": "0", "TAGS": GROUP}
        assert list(event.properties) == ["KEYS", "DELAY", "TAGS"]  # Java HashMap order of the three keys
        assert event.body == (
            b'{"consumerGroup":"CG","messageQueue":{"brokerName":"%s","queueId":2,"topic":"TopicTest"},'
            b'"offsetNew":2,"offsetRequest":9}' % broker.broker_name.encode()
        )
        # tag code = hash of the group (SINGLE_TAG), keys indexed
        assert broker.store.get_raw(EVENTS, 0, 0, 32, frozenset({tags_code(GROUP)})).message_count == 1
        assert len(broker.store.query_by_key(EVENTS, GROUP).messages) == 1

        # an empty queue pulled at a non-zero offset moves too: offsetNew 0
        empty = await client.pull("Other", TOPIC, 1, 5)
        assert (empty.code, empty.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_OFFSET_MOVED, "0")
        body = json.loads(_events(broker)[1].body)
        assert body == {
            "consumerGroup": "Other",
            "messageQueue": {"brokerName": broker.broker_name, "queueId": 1, "topic": TOPIC},
            "offsetNew": 0,
            "offsetRequest": 5,
        }


async def test_offset_moved_event_under_sync_flush(tmp_path: Path) -> None:
    """Under SYNC_FLUSH the event's put (which waits for its flush) runs off the event loop;
    the answer still says PULL_OFFSET_MOVED and the event is durable by then."""
    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        assert (await client.send(TOPIC, b"m", queue_id=0)).code == 0
        moved = await client.pull(GROUP, TOPIC, 0, 7, suspend_ms=1000)  # not parked: it moved
        assert (moved.code, moved.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_OFFSET_MOVED, "1")
        (event,) = _events(broker)
        assert json.loads(event.body)["offsetRequest"] == 7
        assert broker.store.flushed_offset >= broker.store.max_phy_offset


async def test_slave_suggests_the_master_instead_of_moving_the_offset(tmp_path: Path) -> None:
    """A slave's store may lag its master: a pull past its end must not make the consumer
    reset its offset (RocketMQ answers PULL_RETRY_IMMEDIATELY, suggesting the master)."""
    async with running_broker(tmp_path, brokerRole="SLAVE", brokerId="1") as broker, connect(broker.port) as client:
        # A slave's topics and store are written by replication only.
        broker.topics.update(TopicConfig(TOPIC, 4, 4, 6))
        broker.store.put(Message(TOPIC, b"m"), 0)
        answer = await client.pull(GROUP, TOPIC, 0, 7)
        assert (answer.code, answer.ext_fields["suggestWhichBrokerId"]) == (ResponseCode.PULL_RETRY_IMMEDIATELY, "0")
        parked = await client.pull(GROUP, TOPIC, 0, 7, suspend_ms=1000)
        assert parked.code == ResponseCode.PULL_RETRY_IMMEDIATELY
        assert broker.store.max_offset(EVENTS, 0) == 0


async def test_slave_with_offset_check_moves_the_offset_but_stores_no_event(tmp_path: Path) -> None:
    async with running_broker(tmp_path, brokerRole="SLAVE", offsetCheckInSlave="true") as broker, connect(broker.port) as client:
        broker.topics.update(TopicConfig(TOPIC, 4, 4, 6))
        broker.store.put(Message(TOPIC, b"m"), 0)
        assert (await client.pull(GROUP, TOPIC, 0, 7)).code == ResponseCode.PULL_OFFSET_MOVED
        assert broker.store.max_offset(EVENTS, 0) == 0
