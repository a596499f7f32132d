"""Producer and consumer behaviour against a real name server and broker."""

from __future__ import annotations

import anyio
import pytest

from rmqcore.client import (
    Admin,
    ConsumeConcurrentlyStatus,
    MQBrokerError,
    Message,
    MessageExt,
    Producer,
    PullConsumer,
    PullStatus,
    PushConsumer,
    RemotingConnectError,
    SendStatus,
    sync,
)
from rmqcore.message import MessageQueue, decode_offset_message_id
from tests.client.conftest import Cluster

pytestmark = pytest.mark.integration


class Collector:
    """A listener that records messages and lets a test wait until enough arrived."""

    def __init__(self, want: int, fail_first: int = 0) -> None:
        self.want = want
        self.fail_first = fail_first
        self.messages: list[MessageExt] = []
        self.attempts: dict[str, int] = {}
        self.done = anyio.Event()

    async def __call__(self, msgs: list[MessageExt], context: object) -> ConsumeConcurrentlyStatus:
        for msg in msgs:
            seen = self.attempts.get(msg.msg_id or "", 0)
            self.attempts[msg.msg_id or ""] = seen + 1
            if seen < self.fail_first:
                return ConsumeConcurrentlyStatus.RECONSUME_LATER
        self.messages.extend(msgs)
        if len(self.messages) >= self.want:
            self.done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS


async def test_send_result_and_compressed_body(cluster: Cluster) -> None:
    topic = cluster.name("ResultTopic")
    big = bytes(range(256)) * 40  # 10 KiB: compressed on the wire
    async with Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr) as producer:
        results = [await producer.send(Message(topic, big if i == 0 else f"m{i}".encode(), tags="T"), mq=MessageQueue(topic, "broker-a", 0)) for i in range(3)]
    assert [r.status for r in results] == [SendStatus.SEND_OK] * 3
    assert [r.queue_offset for r in results] == [0, 1, 2]
    (host, port), commitlog_offset = decode_offset_message_id(results[0].offset_msg_id or "")
    assert f"{host}:{port}" == cluster.broker.addr and commitlog_offset >= 0
    async with PullConsumer(cluster.name("raw"), namesrv_addr=cluster.namesrv_addr) as consumer:
        mq = MessageQueue(topic, "broker-a", 0)
        found = await consumer.pull(mq, "*", 0, 32)
        assert found.status is PullStatus.FOUND and found.next_begin_offset == 3
        assert [m.body for m in found.msg_found_list] == [big, b"m1", b"m2"]
        assert [m.msg_id for m in found.msg_found_list] == [r.msg_id for r in results]
        assert (await consumer.pull(mq, "*", 3, 32)).status is PullStatus.NO_NEW_MSG
        assert (await consumer.pull(mq, "*", 99, 32)).status is PullStatus.OFFSET_ILLEGAL
        unmatched = await consumer.pull(mq, "Other", 0, 32)
        assert unmatched.status is PullStatus.NO_MATCHED_MSG and unmatched.next_begin_offset == 3 and not unmatched.msg_found_list


async def test_failed_messages_come_back_then_go_to_the_dlq(cluster: Cluster) -> None:
    topic, group = cluster.name("RetryTopic"), cluster.name("retry")
    async with Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr) as producer:
        await producer.send(Message(topic, b"retry me"))
        await producer.send(Message(topic, b"never works"))
    collector = Collector(want=1, fail_first=1)
    always_fail = {"never works"}

    async def listener(msgs, context):  # type: ignore[no-untyped-def]
        if any(m.body.decode() in always_fail for m in msgs):
            for m in msgs:
                collector.attempts[m.msg_id] = collector.attempts.get(m.msg_id, 0) + 1
            return ConsumeConcurrentlyStatus.RECONSUME_LATER
        return await collector(msgs, context)

    consumer = PushConsumer(group, namesrv_addr=cluster.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET", max_reconsume_times=1)
    consumer.subscribe(topic, "*")
    consumer.register_message_listener(listener)
    async with consumer:
        with anyio.fail_after(30):
            await collector.done.wait()
        (retried,) = collector.messages
        # Redelivered through %RETRY%group, shown with its own topic, one reconsume later.
        assert retried.body == b"retry me" and retried.topic == topic and retried.reconsume_times == 1
        # "never works": first try, one retry (max 1), then the DLQ.
        dead = Collector(want=1)
        dlq_reader = PushConsumer(cluster.name("dlqreader"), namesrv_addr=cluster.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        dlq_reader.subscribe(f"%DLQ%{group}", "*")
        dlq_reader.register_message_listener(dead)
        async with dlq_reader:
            with anyio.fail_after(30):
                await dead.done.wait()
        assert [m.body for m in dead.messages] == [b"never works"]


async def test_offsets_survive_a_restart_without_skip_or_replay(cluster: Cluster) -> None:
    topic, group = cluster.name("OffsetTopic"), cluster.name("offsets")
    async with Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr) as producer:
        for i in range(20):
            await producer.send(Message(topic, f"first {i}".encode()))

        async def consume(want: int) -> list[bytes]:
            collector = Collector(want)
            consumer = PushConsumer(group, namesrv_addr=cluster.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
            consumer.subscribe(topic, "*")
            consumer.register_message_listener(collector)
            async with consumer:
                with anyio.fail_after(30):
                    await collector.done.wait()
                # Everything wanted arrived; nothing more is pending on the broker for this group.
            return sorted(m.body for m in collector.messages)

        assert await consume(20) == sorted(f"first {i}".encode() for i in range(20))
        for i in range(5):
            await producer.send(Message(topic, f"second {i}".encode()))
        assert await consume(5) == sorted(f"second {i}".encode() for i in range(5))
    async with Admin(cluster.namesrv_addr) as admin:
        progress = await admin.consumer_progress(group, [topic])
    assert sum(p.lag for p in progress) == 0 and sum(p.consumer_offset for p in progress) == 25


async def test_two_consumers_share_the_queues(cluster: Cluster) -> None:
    topic, group = cluster.name("ShareTopic"), cluster.name("share")
    async with Admin(cluster.namesrv_addr) as admin:
        await admin.create_topic(topic, read_queue_nums=4, write_queue_nums=4)
    got: list[list[MessageExt]] = [[], []]
    total = anyio.Event()

    def make_listener(i: int):  # type: ignore[no-untyped-def]
        async def listener(msgs, context):  # type: ignore[no-untyped-def]
            got[i].extend(msgs)
            if len(got[0]) + len(got[1]) >= 40:
                total.set()
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS
        return listener

    consumers = []
    for i in range(2):
        c = PushConsumer(group, namesrv_addr=cluster.namesrv_addr, instance_name=f"share{i}", consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        c.subscribe(topic, "*")
        c.register_message_listener(make_listener(i))
        consumers.append(c)
    async with consumers[0], consumers[1]:
        # Both members are known to the broker once started; one more rebalance each settles the split.
        await consumers[0].rebalance()
        await consumers[1].rebalance()
        owned = [sorted(mq.queue_id for mq in c._rebalancer.process_queues if mq.topic == topic) for c in consumers]
        assert owned == [[0, 1], [2, 3]]
        async with Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr) as producer:
            for i in range(40):
                await producer.send(Message(topic, f"m{i}".encode()))
        with anyio.fail_after(30):
            await total.wait()
    bodies = [m.body for m in got[0] + got[1]]
    assert sorted(bodies) == sorted(f"m{i}".encode() for i in range(40))
    assert {m.queue_id for m in got[0]}.isdisjoint({m.queue_id for m in got[1]})


async def test_typed_errors(cluster: Cluster) -> None:
    async with Admin(cluster.namesrv_addr) as admin:
        with pytest.raises(MQBrokerError) as info:
            await admin.create_topic("bad topic!", broker_addr=cluster.broker.addr)
        assert info.value.code != 0 and info.value.remark
    async with Producer(cluster.name("pg"), namesrv_addr="127.0.0.1:1", send_msg_timeout=1.0) as producer:
        with pytest.raises(RemotingConnectError):
            await producer.send(Message("AnyTopic", b"x"))


def test_synchronous_facade(cluster: Cluster) -> None:
    import threading

    topic = cluster.name("SyncFacade")
    with sync.Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr) as producer:
        results = [producer.send(Message(topic, f"s{i}".encode())) for i in range(5)]
        handle = producer.send_async(Message(topic, b"s5"))
        assert producer.call(handle.result).status is SendStatus.SEND_OK
        # After the first send's route lookup, sends ran on this thread's own connection.
        assert producer._channels.open_count == 1
        batch = producer.send([Message(topic, b"s6"), Message(topic, b"s7")])
        assert batch.status is SendStatus.SEND_OK and len(batch.msg_id.split(",")) == 2
        producer.send_oneway(Message(topic, b"s8"))  # on the same connection, ahead of anything sent after it
        assert producer._channels.open_count == 1
    assert all(r.status is SendStatus.SEND_OK for r in results)
    assert len({r.msg_id for r in results}) == 5 and all(r.offset_msg_id for r in results)
    seen: list[bytes] = []
    enough = threading.Event()

    def listener(msgs, context):  # type: ignore[no-untyped-def]
        seen.extend(m.body for m in msgs)
        if len(seen) >= 9:
            enough.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = sync.PushConsumer(cluster.name("syncc"), namesrv_addr=cluster.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(topic, "*")
    consumer.register_message_listener(listener)
    with consumer:
        assert enough.wait(30)
    assert sorted(seen) == sorted(f"s{i}".encode() for i in range(9))


async def test_second_consumer_of_a_group_needs_its_own_instance_name(cluster: Cluster) -> None:
    from rmqcore.client import MQClientError

    topic, group = cluster.name("DupTopic"), cluster.name("dup")

    def consumer(instance_name: str | None) -> PushConsumer:
        c = PushConsumer(group, namesrv_addr=cluster.namesrv_addr, instance_name=instance_name)
        c.subscribe(topic, "*")
        c.register_message_listener(Collector(1))
        return c

    async with consumer(None):
        with pytest.raises(MQClientError, match="instance_name"):
            async with consumer(None):
                pass
        async with consumer("second"):
            pass
    # Once the first is gone, the default name is free again.
    async with consumer(None):
        pass


async def test_flow_control_caps_cached_messages_per_queue(cluster: Cluster) -> None:
    topic, group = cluster.name("FlowTopic"), cluster.name("flow")
    async with Admin(cluster.namesrv_addr) as admin:
        await admin.create_topic(topic, read_queue_nums=1, write_queue_nums=1)
    async with Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr) as producer:
        await producer.send([Message(topic, f"m{i}".encode()) for i in range(100)])
    consumer = PushConsumer(
        group, namesrv_addr=cluster.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET",
        pull_threshold_for_queue=10, pull_batch_size=4,
    )
    mq = MessageQueue(topic, "broker-a", 0)
    release = anyio.Event()
    stalled = anyio.Event()
    all_done = anyio.Event()
    waiting = 0
    consumed = 0
    max_cached = 0

    async def listener(msgs, context):  # type: ignore[no-untyped-def]
        nonlocal waiting, consumed, max_cached
        max_cached = max(max_cached, consumer._rebalancer.process_queues[mq].msg_count)
        waiting += 1
        if waiting == 12:
            stalled.set()
        await release.wait()
        consumed += len(msgs)
        if consumed == 100:
            all_done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer.subscribe(topic, "*")
    consumer.register_message_listener(listener)
    async with consumer:
        with anyio.fail_after(20):
            await stalled.wait()
        # Three pulls of 4 took the cache past 10; with nothing consumed the loop pulls no more.
        assert consumer._rebalancer.process_queues[mq].msg_count == 12
        release.set()
        with anyio.fail_after(30):
            await all_done.wait()
    assert max_cached <= 10 + 4


async def test_orderly_consumers_lock_their_queues_and_keep_order(cluster: Cluster) -> None:
    from rmqcore.client import ConsumeOrderlyStatus

    topic, group = cluster.name("OrderlyTopic"), cluster.name("orderly")
    async with Admin(cluster.namesrv_addr) as admin:
        await admin.create_topic(topic, read_queue_nums=4, write_queue_nums=4)
    seen: dict[int, list[tuple[int, int]]] = {0: [], 1: []}  # consumer -> (queue, offset)
    all_done = anyio.Event()

    def make_listener(i: int):  # type: ignore[no-untyped-def]
        async def listener(msgs, context):  # type: ignore[no-untyped-def]
            seen[i].extend((m.queue_id, m.queue_offset) for m in msgs)
            if len(seen[0]) + len(seen[1]) >= 40:
                all_done.set()
            return ConsumeOrderlyStatus.SUCCESS
        return listener

    consumers = []
    for i in range(2):
        c = PushConsumer(group, namesrv_addr=cluster.namesrv_addr, instance_name=f"orderly{i}", consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        c.subscribe(topic, "*")
        c.register_message_listener(make_listener(i), orderly=True)
        consumers.append(c)
    async with consumers[0], consumers[1]:
        await consumers[0].rebalance()
        await consumers[1].rebalance()
        for c in consumers:
            await c.lock_all()
        owned = [sorted(mq.queue_id for mq, pq in c._rebalancer.process_queues.items() if mq.topic == topic and pq.locked) for c in consumers]
        assert owned == [[0, 1], [2, 3]]
        async with Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr) as producer:
            for i in range(40):
                await producer.send(Message(topic, f"m{i}".encode()), mq=MessageQueue(topic, "broker-a", i % 4))
        with anyio.fail_after(30):
            await all_done.wait()
    for i in range(2):
        assert {q for q, _ in seen[i]} == set(owned[i])
        for q in owned[i]:
            assert [o for qq, o in seen[i] if qq == q] == list(range(10))


def test_synchronous_pull_consumer_pulls_on_the_calling_thread(cluster: Cluster) -> None:
    import threading

    from rmqcore.remoting import ResponseCode

    topic = cluster.name("SyncPull")
    with sync.Producer(cluster.name("pg"), namesrv_addr=cluster.namesrv_addr, default_topic_queue_nums=1) as producer:
        sent = [producer.send(Message(topic, f"p{i}".encode(), tags="TagA" if i % 2 else "TagB")) for i in range(40)]
        with sync.PullConsumer(cluster.name("spc"), namesrv_addr=cluster.namesrv_addr) as consumer:
            [mq] = consumer.fetch_subscribe_message_queues(topic)
            assert {r.message_queue for r in sent} == {mq}
            bodies, offset = [], 0
            while offset < 40:
                result = consumer.pull(mq, "*", offset, 32)
                assert result.status is PullStatus.FOUND
                bodies += [m.body for m in result.msg_found_list]
                offset = result.next_begin_offset
            assert bodies == [f"p{i}".encode() for i in range(40)]
            assert consumer._channels.open_count == 1  # the pulls went over this thread's connection
            tagged = consumer.pull(mq, "TagA", 0, 32)
            assert [m.body for m in tagged.msg_found_list] == [f"p{i}".encode() for i in range(1, 40, 2)]
            assert consumer.pull(mq, "*", 40, 32).status is PullStatus.NO_NEW_MSG
            with pytest.raises(MQBrokerError) as refused:  # the broker's answer, typed as on the async path
                consumer.pull(MessageQueue(cluster.name("NoSuchTopic"), mq.broker_name, 0), "*", 0, 32)
            assert refused.value.code == ResponseCode.TOPIC_NOT_EXIST

            # A pull that blocks until a message arrives: the send comes from another thread.
            arrived: list[object] = []
            waiter = threading.Thread(target=lambda: arrived.append(consumer.pull_block_if_not_found(mq, "*", 40, 32)))
            waiter.start()
            producer.send(Message(topic, b"late"))
            waiter.join(30)
            [late] = arrived
            assert [m.body for m in late.msg_found_list] == [b"late"]  # type: ignore[attr-defined]


async def test_a_message_the_listener_never_finishes_comes_back_after_the_consume_timeout(cluster: Cluster) -> None:
    """consumeTimeout: the listener hangs on the first delivery; after the timeout the consumer
    sends the message back (delay level 3: 2 s on the test broker) and it is consumed again,
    and the hung delivery no longer holds the queue's offset."""
    topic, group = cluster.name("HungTopic"), cluster.name("hung_cg")
    retried = anyio.Event()
    deliveries: list[int] = []

    async def listener(msgs: list[MessageExt], context: object) -> ConsumeConcurrentlyStatus:
        for msg in msgs:
            deliveries.append(msg.reconsume_times)
            if msg.reconsume_times == 0:
                await anyio.sleep_forever()  # a listener stuck on this message
            retried.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    async with Producer(cluster.name("hung_pg"), namesrv_addr=cluster.namesrv_addr) as producer:
        sent = await producer.send(Message(topic, b"stuck once"), mq=MessageQueue(topic, "broker-a", 0))
    consumer = PushConsumer(
        group, namesrv_addr=cluster.namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET",
        consume_timeout_min=0.02,  # 1.2 s
    )  # fmt: skip
    consumer.subscribe(topic, "*")
    consumer.register_message_listener(listener)
    async with consumer:
        with anyio.fail_after(30):
            await retried.wait()
        assert deliveries == [0, 1]
        await consumer.persist_offsets()
        async with Admin(cluster.namesrv_addr) as admin:
            [progress] = [p for p in await admin.consumer_progress(group, [topic]) if p.message_queue.queue_id == 0]
        assert progress.consumer_offset == sent.queue_offset + 1
