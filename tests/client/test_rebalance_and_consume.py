"""Rebalance decisions and consume-result processing, called directly (no network, FakeClock)."""

from __future__ import annotations

import anyio

from rmqcore.client.consume_concurrently import ConcurrentlyConsumeService
from rmqcore.client.consume_orderly import OrderlyConsumeService
from rmqcore.client.listener import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    ConsumeOrderlyStatus,
)
from rmqcore.client.offset_store import OffsetStore
from rmqcore.client.process_queue import ProcessQueue
from rmqcore.client.rebalance_service import RebalanceHooks, Rebalancer
from rmqcore.clock import FakeClock
from rmqcore.message import MessageExt, MessageQueue
from rmqcore.rebalance import strategy_by_name
from rmqcore.remoting.bodies.heartbeat import MessageModel

T = "T"
QUEUES = {MessageQueue(T, b, q) for b in ("broker-b", "broker-a") for q in range(3)}


class World:
    """The outside world of a rebalance: live consumer ids, start offsets, and what happened."""

    def __init__(self, cids: list[str]) -> None:
        self.cids = cids
        self.added: list[tuple[MessageQueue, int]] = []
        self.removed: list[MessageQueue] = []
        self.locked: set[MessageQueue] = set()
        self.lock_refused: set[MessageQueue] = set()

    def hooks(self, orderly: bool = False) -> RebalanceHooks:
        async def find(topic: str) -> list[str]:
            return list(self.cids)

        async def start(mq: MessageQueue) -> int:
            return -1 if mq.queue_id == 99 else 10 * mq.queue_id

        async def removed(mq: MessageQueue, pq: ProcessQueue) -> bool:
            self.removed.append(mq)
            return True

        async def lock(mq: MessageQueue) -> bool:
            if mq in self.lock_refused:
                return False
            self.locked.add(mq)
            return True

        return RebalanceHooks(find, start, lambda mq, pq, off: self.added.append((mq, off)), removed, lock if orderly else None)


async def test_clustering_split_follows_sorted_lists_and_reconciles() -> None:
    world = World(["c1", "c0"])  # unsorted on purpose: the rebalancer sorts
    r = Rebalancer("g", "c1", MessageModel.CLUSTERING, strategy_by_name("AVG"), world.hooks(), clock=FakeClock())
    r.topic_queues[T] = set(QUEUES)
    assert await r.do_rebalance([T]) is True
    mine = sorted(QUEUES)[3:]  # sorted: broker-a 0..2, broker-b 0..2; c1 is second of two
    assert sorted(r.process_queues) == mine
    assert sorted(world.added) == [(mq, 10 * mq.queue_id) for mq in mine]
    # Nothing changed: nothing happens.
    assert await r.do_rebalance([T]) is False
    # c0 leaves: c1 takes everything; c2 joins later: the new split moves queues and releases the rest.
    world.cids = ["c1"]
    assert await r.do_rebalance([T]) is True and sorted(r.process_queues) == sorted(QUEUES)
    world.cids = ["c1", "c2", "c0"]
    await r.do_rebalance([T])
    assert sorted(r.process_queues) == sorted(QUEUES)[2:4]
    assert sorted(set(world.removed)) == sorted(set(QUEUES) - set(sorted(QUEUES)[2:4]))
    # Unsubscribing drops the topic's queues.
    await r.do_rebalance([])
    assert r.process_queues == {}


async def test_broadcasting_owns_everything_and_unknown_start_offsets_wait() -> None:
    world = World(["c0", "c1"])
    r = Rebalancer("g", "c0", MessageModel.BROADCASTING, strategy_by_name("AVG"), world.hooks())
    r.topic_queues[T] = set(QUEUES) | {MessageQueue(T, "broker-a", 99)}
    await r.do_rebalance([T])
    assert sorted(r.process_queues) == sorted(QUEUES)  # queue 99: start offset unknown, left for later


async def test_orderly_clustering_owns_only_locked_queues() -> None:
    world = World(["c0"])
    refused = MessageQueue(T, "broker-a", 1)
    world.lock_refused.add(refused)
    r = Rebalancer("g", "c0", MessageModel.CLUSTERING, strategy_by_name("AVG"), world.hooks(orderly=True), orderly=True)
    r.topic_queues[T] = set(QUEUES)
    await r.do_rebalance([T])
    assert set(r.process_queues) == set(QUEUES) - {refused} == world.locked
    assert all(pq.locked for pq in r.process_queues.values())


class MemoryStore(OffsetStore):
    async def read_offset(self, mq, how):  # type: ignore[no-untyped-def]
        return self.offset_table.get(mq, -1)

    async def _read_stored_offset(self, mq):  # type: ignore[no-untyped-def]
        return self.offset_table.get(mq, -1)

    async def persist(self, mq):  # type: ignore[no-untyped-def]
        pass

    async def persist_all(self, mqs):  # type: ignore[no-untyped-def]
        pass


def _msgs(*offsets: int, reconsume: int = 0) -> list[MessageExt]:
    return [MessageExt(T, b"b", queue_offset=o, reconsume_times=reconsume, commitlog_offset=100 + o) for o in offsets]


class _SendBack:
    """The consume service's send-back to the broker: records (queue offset, delay level),
    or refuses (False) the offsets in ``refuse``."""

    def __init__(self, refuse: set[int] | None = None) -> None:
        self.sent: list[tuple[int, int]] = []
        self.refuse: set[int] = refuse if refuse is not None else set()

    async def __call__(self, msg: MessageExt, delay: int) -> bool:
        if msg.queue_offset in self.refuse:
            return False
        self.sent.append((msg.queue_offset, delay))
        return True


async def test_concurrent_failures_are_sent_back_and_the_offset_moves_past_them() -> None:
    mq = MessageQueue(T, "broker-a", 0)
    send_back = _SendBack(refuse={3})
    sent_back = send_back.sent

    store = MemoryStore("g")
    async with anyio.create_task_group() as tg:
        service = ConcurrentlyConsumeService("g", lambda m, c: None, store, MessageModel.CLUSTERING, send_back, tg, FakeClock(), reconsume_pause_s=3600)
        pq = ProcessQueue()
        msgs = _msgs(0, 1, 2, 3)
        pq.put_messages(msgs)
        context = ConsumeConcurrentlyContext(mq, delay_level_when_next_consume=2, ack_index=0)
        await service.process_result(ConsumeConcurrentlyStatus.CONSUME_SUCCESS, context, msgs, pq, mq)
        # 0 acknowledged, 1 and 2 sent back with the asked delay, 3 could not be sent back:
        # it stays cached (consumed again here later), holding the committed offset at 3.
        assert sent_back == [(1, 2), (2, 2)]
        assert store.offset_table[mq] == 3 and pq.msg_count == 1
        assert msgs[3].reconsume_times == 1
        tg.cancel_scope.cancel()


async def test_messages_the_listener_holds_past_the_consume_timeout_are_sent_back() -> None:
    """cleanExpireMsg: a listener stuck on offsets 10 and 11 holds the queue's offset back until
    they are older than the timeout; then they go back to the broker (delay level 3) and the
    offset moves on. 12 was handed over later and stays; one that cannot be sent back stays too."""
    mq = MessageQueue(T, "broker-a", 0)
    clock = FakeClock(1_000_000)
    stuck = anyio.Event()
    send_back = _SendBack()
    sent_back, refuse = send_back.sent, send_back.refuse

    async def listener(msgs, context):  # type: ignore[no-untyped-def]
        await stuck.wait()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    store = MemoryStore("g")
    timeout_ms = 15 * 60_000
    async with anyio.create_task_group() as tg:
        service = ConcurrentlyConsumeService("g", listener, store, MessageModel.CLUSTERING, send_back, tg, clock)
        pq = ProcessQueue(clock)
        first = _msgs(10, 11)
        pq.put_messages(first)
        service.submit(first, pq, mq)
        await anyio.wait_all_tasks_blocked()
        clock.advance(10 * 60_000)
        later = _msgs(12)
        pq.put_messages(later)
        service.submit(later, pq, mq)
        await anyio.wait_all_tasks_blocked()

        assert await service.clean_expired({mq: pq}, timeout_ms) == 0  # nothing held 15 min yet
        clock.advance(6 * 60_000)  # 10 and 11: 16 min; 12: 6 min
        refuse.add(11)
        assert await service.clean_expired({mq: pq}, timeout_ms) == 1
        assert sent_back == [(10, 3)] and store.offset_table[mq] == 11 and pq.msg_count == 2
        refuse.clear()
        assert await service.clean_expired({mq: pq}, timeout_ms) == 1
        assert sent_back == [(10, 3), (11, 3)] and store.offset_table[mq] == 12 and pq.msg_count == 1

        stuck.set()  # the listener returns at last: 12 commits; 10 and 11 are not sent back twice
        await anyio.wait_all_tasks_blocked()
        assert store.offset_table[mq] == 13 and pq.msg_count == 0
        assert sent_back == [(10, 3), (11, 3)]


async def test_broadcast_failures_are_dropped_not_sent_back() -> None:
    mq = MessageQueue(T, "broker-a", 0)

    async def send_back(msg: MessageExt, delay: int) -> bool:
        raise AssertionError("broadcasting never sends back")

    store = MemoryStore("g")
    async with anyio.create_task_group() as tg:
        service = ConcurrentlyConsumeService("g", lambda m, c: None, store, MessageModel.BROADCASTING, send_back, tg, FakeClock())
        pq = ProcessQueue()
        msgs = _msgs(5, 6)
        pq.put_messages(msgs)
        await service.process_result(ConsumeConcurrentlyStatus.RECONSUME_LATER, ConsumeConcurrentlyContext(mq), msgs, pq, mq)
        assert store.offset_table[mq] == 7


async def test_orderly_listener_runs_one_batch_at_a_time_in_order_and_suspends() -> None:
    mq = MessageQueue(T, "broker-a", 0)
    seen: list[int] = []
    running = 0
    max_running = 0
    fail_once = {2}

    async def listener(msgs, context):  # type: ignore[no-untyped-def]
        nonlocal running, max_running
        running += 1
        max_running = max(max_running, running)
        await anyio.sleep(0)
        running -= 1
        offset = msgs[0].queue_offset
        if offset in fail_once:
            fail_once.discard(offset)
            context.suspend_current_queue_time_millis = 1
            return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
        seen.append(offset)
        return ConsumeOrderlyStatus.SUCCESS

    async def send_back(msg: MessageExt, delay: int) -> bool:
        return True

    store = MemoryStore("g")
    all_committed = anyio.Event()
    update = store.update_offset

    def update_offset(q: MessageQueue, offset: int, increase_only: bool = False) -> None:
        update(q, offset, increase_only)
        if offset == 5:
            all_committed.set()

    store.update_offset = update_offset  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        service = OrderlyConsumeService("g", listener, store, MessageModel.BROADCASTING, send_back, tg, FakeClock())
        pq = ProcessQueue()
        for offset in range(5):
            dispatch = pq.put_messages(_msgs(offset))
            service.submit([], pq, mq, dispatch)
        with anyio.fail_after(5):
            await all_committed.wait()
    assert seen == [0, 1, 2, 3, 4] and max_running == 1


async def test_orderly_gives_up_to_the_dlq_after_max_reconsume_times() -> None:
    mq = MessageQueue(T, "broker-a", 0)
    dlq: list[tuple[int, int]] = []

    async def send_back(msg: MessageExt, delay: int) -> bool:
        dlq.append((msg.queue_offset, delay))
        return True

    store = MemoryStore("g")
    async with anyio.create_task_group() as tg:
        service = OrderlyConsumeService("g", lambda m, c: None, store, MessageModel.CLUSTERING, send_back, tg, FakeClock(), max_reconsume_times=2)
        pq = ProcessQueue()
        pq.put_messages(_msgs(0))
        ctx = None
        for expected_commit in (False, False, True):
            batch = pq.take_messages(1)
            went_on = await service.process_result(ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT, ctx, batch, pq, mq)  # type: ignore[arg-type]
            assert went_on is expected_commit
        assert dlq == [(0, -1)] and store.offset_table[mq] == 1
        tg.cancel_scope.cancel()


async def test_broker_requests_consume_message_directly_and_running_info() -> None:
    import json

    from rmqcore.client import ClientConfig, PushConsumer
    from rmqcore.client.client_instance import ClientInstance
    from rmqcore.message import encode_stored_message
    from rmqcore.remoting import make_request

    calls: list[bytes] = []

    def listener(msgs, context):  # type: ignore[no-untyped-def]
        calls.extend(m.body for m in msgs)
        return ConsumeConcurrentlyStatus.RECONSUME_LATER if msgs[0].body == b"later" else ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer("direct", config=ClientConfig(namesrv_addr="127.0.0.1:1", instance_name="d"))
    consumer.subscribe(T, "TagA")
    consumer.register_message_listener(listener)
    instance = ClientInstance(consumer.config)
    instance.consumers["direct"] = consumer
    for body, expected in ((b"now", "CR_SUCCESS"), (b"later", "CR_LATER")):
        stored = encode_stored_message(MessageExt(T, body, tags="TagA", queue_id=2, queue_offset=7))
        cmd = make_request(309, {"consumerGroup": "direct", "clientId": "d", "msgId": "X", "brokerName": "broker-a"}, stored)
        response = await instance.remoting._dispatch(None, cmd)  # type: ignore[arg-type]
        assert response.code == 0 and json.loads(response.body)["consumeResult"] == expected
    assert calls == [b"now", b"later"]
    info = instance.remoting._dispatch(None, make_request(307, {"consumerGroup": "direct", "clientId": "d"}))  # type: ignore[arg-type]
    body = json.loads(info.body)
    assert body["subscriptionSet"][0]["tagsSet"] == ["TagA"] and body["properties"]["messageModel"] == "CLUSTERING"
    unknown = instance.remoting._dispatch(None, make_request(307, {"consumerGroup": "nobody", "clientId": "d"}))  # type: ignore[arg-type]
    assert unknown.code == 1 and "nobody" in unknown.remark
