from __future__ import annotations

import json

from rmqcore.client.errors import MQBrokerError, RemotingConnectError
from rmqcore.client.offset_store import LocalFileOffsetStore, ReadOffsetType, RemoteBrokerOffsetStore
from rmqcore.client.process_queue import ProcessQueue
from rmqcore.clock import FakeClock
from rmqcore.message import MessageExt, MessageQueue

MQ0, MQ1 = MessageQueue("T", "b", 0), MessageQueue("T", "b", 1)


def _msgs(*offsets: int) -> list[MessageExt]:
    return [MessageExt("T", b"xx", queue_offset=o) for o in offsets]


def test_commit_offset_is_held_back_by_the_oldest_unconsumed_message() -> None:
    pq = ProcessQueue()
    m = _msgs(10, 11, 12, 13)
    pq.put_messages(m)
    assert pq.msg_count == 4 and pq.msg_size == 8 and pq.max_span() == 3
    assert pq.remove_messages([m[3], m[1]]) == 10
    assert pq.remove_messages([m[0]]) == 12
    assert pq.remove_messages([m[2]]) == 14
    assert pq.msg_count == 0 and pq.msg_size == 0
    assert pq.remove_messages([m[2]]) == -1


def test_orderly_take_commit_and_retry() -> None:
    pq = ProcessQueue()
    assert pq.put_messages(_msgs(0, 1, 2)) is True
    assert pq.put_messages(_msgs(3)) is False  # already consuming
    batch = pq.take_messages(2)
    assert [m.queue_offset for m in batch] == [0, 1]
    pq.make_messages_to_consume_again(batch)
    again = pq.take_messages(2)
    assert [m.queue_offset for m in again] == [0, 1]
    assert pq.commit() == 2
    assert [m.queue_offset for m in pq.take_messages(10)] == [2, 3]
    assert pq.commit() == 4
    assert pq.take_messages(1) == [] and pq.consuming is False


def test_lock_expiry_follows_the_clock() -> None:
    clock = FakeClock(start_ms=0)
    pq = ProcessQueue(clock)
    clock.advance(30_000)
    assert not pq.is_lock_expired()
    clock.advance(1)
    assert pq.is_lock_expired()


async def test_remote_store_reads_maps_not_found_and_persists_only_assigned() -> None:
    broker: dict[MessageQueue, int] = {MQ0: 7}
    reachable = True

    async def query(mq: MessageQueue) -> int:
        if not reachable:
            raise RemotingConnectError("down")
        if mq not in broker:
            raise MQBrokerError(22, "Not found")
        return broker[mq]

    async def update(mq: MessageQueue, offset: int) -> None:
        broker[mq] = offset

    store = RemoteBrokerOffsetStore("g", query, update)
    assert await store.read_offset(MQ0, ReadOffsetType.READ_FROM_STORE) == 7
    assert await store.read_offset(MQ1, ReadOffsetType.READ_FROM_STORE) == -1
    reachable = False
    assert await store.read_offset(MQ1, ReadOffsetType.READ_FROM_STORE) == -2
    assert await store.read_offset(MQ0, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == 7
    reachable = True
    store.update_offset(MQ0, 9)
    store.update_offset(MQ1, 4)
    await store.persist_all([MQ0])
    assert broker == {MQ0: 9}


async def test_local_store_survives_a_restart(tmp_path) -> None:
    store = LocalFileOffsetStore("g", "127.0.0.1@1", tmp_path)
    store.update_offset(MQ0, 3)
    store.update_offset(MQ1, 5)
    await store.persist_all([])
    store.update_offset(MQ0, 4)
    await store.persist_all([])
    assert json.loads(store.path.read_text())["offsetTable"][0] == {"topic": "T", "brokerName": "b", "queueId": 0, "offset": 4}
    assert store.path.with_suffix(".json.bak").exists()

    again = LocalFileOffsetStore("g", "127.0.0.1@1", tmp_path)
    await again.load()
    assert await again.read_offset(MQ0, ReadOffsetType.READ_FROM_MEMORY) == 4
    assert await again.read_offset(MQ1, ReadOffsetType.READ_FROM_STORE) == 5
    assert await again.read_offset(MessageQueue("T", "b", 9), ReadOffsetType.MEMORY_FIRST_THEN_STORE) == -1


