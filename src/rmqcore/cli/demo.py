"""The quick produce/consume that ``rmqcore local --demo`` runs against its own broker.

Sends messages synchronously (printing the first few send results, as the tutorial's
quickstart does), consumes them with a push consumer, checks every body came back
exactly once, and prints the figures.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import anyio

from rmqcore.client import ConsumeConcurrentlyStatus, Message, Producer, PushConsumer

TOPIC = "TopicTest"


async def run_demo(namesrv_addr: str, count: int, say: Callable[[str], None]) -> int:
    bodies = [f"Hello RocketMQ {i}".encode() for i in range(count)]
    latencies: list[float] = []
    async with Producer("demo_producer_group", namesrv_addr=namesrv_addr) as producer:
        started = time.perf_counter()
        for i, body in enumerate(bodies):
            t0 = time.perf_counter()
            result = await producer.send(Message(TOPIC, body, tags="TagA", keys=(f"demo-{i}",)))
            latencies.append(time.perf_counter() - t0)
            if i < 3 or i == count - 1:
                say(
                    f"SendResult [sendStatus={result.status.value}, msgId={result.msg_id}, "
                    f"offsetMsgId={result.offset_msg_id}, messageQueue={result.message_queue}, "
                    f"queueOffset={result.queue_offset}]"
                )
        send_seconds = time.perf_counter() - started

    received: dict[bytes, int] = {}
    all_in = anyio.Event()

    def listener(msgs, context):  # type: ignore[no-untyped-def]
        for msg in msgs:
            received[msg.body] = received.get(msg.body, 0) + 1
        if len(received) >= count:
            all_in.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer("demo_consumer_group", namesrv_addr=namesrv_addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(TOPIC, "TagA")
    consumer.register_message_listener(listener)
    started = time.perf_counter()
    async with consumer:
        with anyio.move_on_after(60):
            await all_in.wait()
    consume_seconds = time.perf_counter() - started

    missing = [b for b in bodies if b not in received]
    duplicates = sum(1 for n in received.values() if n > 1)
    p50 = statistics.median(latencies) * 1e6
    p99 = sorted(latencies)[max(0, int(len(latencies) * 0.99) - 1)] * 1e6
    say(f"sent {count} messages to {TOPIC} in {send_seconds:.2f}s: {count / send_seconds:,.0f} msg/s, "
        f"sync round trip p50 {p50:.0f} us, p99 {p99:.0f} us")
    say(f"consumed {len(received)} of {count} in {consume_seconds:.2f}s (including rebalance), "
        f"{len(missing)} missing, {duplicates} delivered twice")
    return 0 if not missing else 1
