"""Client benchmarks: what the Python client costs per message, and end-to-end throughput.

Run: .venv/bin/pytest benchmarks/test_client_bench.py --benchmark-only

A name server and a broker run as ``rmqcore`` subprocesses (ASYNC_FLUSH, temporary store),
so the CPU time of *this* process is the client's own cost (codec, message model, client
logic, event loop). Rounds run on one event loop in a background thread (a blocking portal).

* ``sync_send``: serial ``Producer.send`` of 128-byte bodies; extra_info has the client's user
  and system CPU per send (user = Python; system = mostly loopback TCP) and the round trip p50/p99.
* ``consume``: a ``PushConsumer`` (fresh group each round) consumes a backlog of messages;
  extra_info has the client's user and system CPU per consumed message.
* ``produce_throughput[1|4|16]``: that many producers (one connection each) sending at once.
* ``profile``: cProfile of serial sends and of consumption; asserts that the codec
  (``rmqcore.remoting``) and the message model (``rmqcore.message``) together stay below
  half of the client's profiled time, and puts the top functions in extra_info.

Figures go to pytest-benchmark's table and conftest.py's msgs/s summary (medians).
"""

from __future__ import annotations

import cProfile
import itertools
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rmqcore.client import Admin, ConsumeConcurrentlyStatus, Message, Producer, PushConsumer, split_batch  # noqa: E402
from rmqcore.logs import configure_logging  # noqa: E402
from tests.integration.servers import start_broker, start_namesrv, write_broker_conf  # noqa: E402

BODY = b"x" * 128
SENDS_PER_ROUND = 500
CONSUME_BACKLOG = 5_000
THROUGHPUT_MESSAGES = 3_200
ROUNDS = 5
_names = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    configure_logging("error", stream=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="rmqcore-client-bench-"))
    namesrv = start_namesrv(work / "logs")
    broker = None
    try:
        conf = write_broker_conf(work / "broker.conf", work / "store", namesrv.addr, mapedFileSizeCommitLog=1024 * 1024 * 1024)
        broker = start_broker(conf, work / "logs")
        with anyio.from_thread.start_blocking_portal() as portal:
            yield {"namesrv": namesrv.addr, "portal": portal}
    finally:
        if broker is not None:
            broker.stop()
        namesrv.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _topic(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


async def _create_topic(namesrv: str, topic: str, queues: int = 8) -> None:
    async with Admin(namesrv) as admin:
        await admin.create_topic(topic, read_queue_nums=queues, write_queue_nums=queues)


async def _serial_sends(producer: Producer, topic: str, n: int, latencies: list[int]) -> None:
    for _ in range(n):
        t0 = time.perf_counter_ns()
        await producer.send(Message(topic, BODY, tags="TagA"))
        latencies.append(time.perf_counter_ns() - t0)


def _median_us(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2] * 1e6, 1)


def _p(values: list[int], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] / 1e3


def test_sync_send(benchmark: Any, cluster: dict[str, Any]) -> None:
    portal = cluster["portal"]
    topic = _topic("BenchSync")
    portal.call(_create_topic, cluster["namesrv"], topic)
    producer = Producer("bench_sync", namesrv_addr=cluster["namesrv"])
    latencies: list[int] = []
    user: list[float] = []
    system: list[float] = []
    with portal.wrap_async_context_manager(producer):
        portal.call(_serial_sends, producer, topic, 200, [])  # warm up: route, connection

        def one_round() -> None:
            t0 = os.times()
            portal.call(_serial_sends, producer, topic, SENDS_PER_ROUND, latencies)
            t1 = os.times()
            user.append((t1.user - t0.user) / SENDS_PER_ROUND)
            system.append((t1.system - t0.system) / SENDS_PER_ROUND)

        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        messages=SENDS_PER_ROUND,
        bytes=SENDS_PER_ROUND * len(BODY),
        # User time is the client's Python; system time is mostly the loopback TCP send/receive.
        client_user_cpu_us_per_send_median=_median_us(user),
        client_system_cpu_us_per_send_median=_median_us(system),
        rtt_p50_us=round(_p(latencies, 0.5), 1),
        rtt_p99_us=round(_p(latencies, 0.99), 1),
    )


async def _fill(namesrv: str, topic: str, n: int) -> None:
    async with Producer("bench_fill", namesrv_addr=namesrv) as producer:
        msgs = [Message(topic, BODY, tags="TagA") for _ in range(n)]
        for batch in split_batch(msgs, 256 * 1024):
            await producer.send(batch)


async def _consume_all(namesrv: str, topic: str, n: int) -> tuple[float, float]:
    """Consume ``n`` messages with a fresh group; returns the client's user and system CPU seconds."""
    done = anyio.Event()
    count = 0

    async def listener(msgs, context):  # type: ignore[no-untyped-def]
        nonlocal count
        count += len(msgs)
        if count >= n:
            done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        _topic("bench_consume_"), namesrv_addr=namesrv, consume_from_where="CONSUME_FROM_FIRST_OFFSET",
        consume_message_batch_max_size=32,
    )
    consumer.subscribe(topic, "*")
    consumer.register_message_listener(listener)
    t0 = os.times()
    async with consumer:
        with anyio.fail_after(120):
            await done.wait()
    t1 = os.times()
    return t1.user - t0.user, t1.system - t0.system


def test_consume(benchmark: Any, cluster: dict[str, Any]) -> None:
    portal = cluster["portal"]
    topic = _topic("BenchConsume")
    portal.call(_create_topic, cluster["namesrv"], topic)
    portal.call(_fill, cluster["namesrv"], topic, CONSUME_BACKLOG)
    user: list[float] = []
    system: list[float] = []

    def one_round() -> None:
        u, s = portal.call(_consume_all, cluster["namesrv"], topic, CONSUME_BACKLOG)
        user.append(u / CONSUME_BACKLOG)
        system.append(s / CONSUME_BACKLOG)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        messages=CONSUME_BACKLOG,
        bytes=CONSUME_BACKLOG * len(BODY),
        client_user_cpu_us_per_message_median=_median_us(user),
        client_system_cpu_us_per_message_median=_median_us(system),
        note="round includes consumer start, rebalance and shutdown",
    )


async def _concurrent_producers(producers: list[Producer], topic: str, total: int) -> None:
    per = total // len(producers)
    async with anyio.create_task_group() as tg:
        for p in producers:
            tg.start_soon(_serial_sends, p, topic, per, [])


@pytest.mark.parametrize("producer_count", [1, 4, 16])
def test_produce_throughput(benchmark: Any, cluster: dict[str, Any], producer_count: int) -> None:
    portal = cluster["portal"]
    topic = _topic("BenchTput")
    portal.call(_create_topic, cluster["namesrv"], topic)
    producers = [
        Producer(f"bench_tput_{i}", namesrv_addr=cluster["namesrv"], instance_name=f"tput{producer_count}_{i}")
        for i in range(producer_count)
    ]
    from contextlib import ExitStack

    with ExitStack() as stack:
        for p in producers:
            stack.enter_context(portal.wrap_async_context_manager(p))
        portal.call(_concurrent_producers, producers, topic, 16 * producer_count)  # warm up
        benchmark.pedantic(lambda: portal.call(_concurrent_producers, producers, topic, THROUGHPUT_MESSAGES), rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(messages=THROUGHPUT_MESSAGES, bytes=THROUGHPUT_MESSAGES * len(BODY), producers=producer_count)


def _profile_share(profile: cProfile.Profile) -> tuple[float, list[str]]:
    stats = pstats.Stats(profile)
    total = 0.0
    codec_and_model = 0.0
    rows = []
    for (filename, line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        if "/rmqcore/remoting/" in filename or "/rmqcore/message/" in filename:
            codec_and_model += tottime
        rows.append((tottime, f"{tottime * 1e3:8.1f} ms  {Path(filename).name}:{line}({name})"))
    rows.sort(reverse=True)
    return codec_and_model / total, [r for _, r in rows[:12]]


def test_profile(benchmark: Any, cluster: dict[str, Any]) -> None:
    """Where the client's time goes; the codec and the message model must not dominate."""
    portal = cluster["portal"]
    topic = _topic("BenchProfile")
    portal.call(_create_topic, cluster["namesrv"], topic)
    producer = Producer("bench_profile", namesrv_addr=cluster["namesrv"])
    with portal.wrap_async_context_manager(producer):
        portal.call(_serial_sends, producer, topic, 100, [])
        send_profile = cProfile.Profile()

        async def profiled_sends() -> None:
            send_profile.enable()
            try:
                await _serial_sends(producer, topic, 2000, [])
            finally:
                send_profile.disable()

        benchmark.pedantic(lambda: portal.call(profiled_sends), rounds=1, iterations=1)
    consume_profile = cProfile.Profile()

    async def profiled_consume() -> None:
        consume_profile.enable()
        try:
            await _consume_all(cluster["namesrv"], topic, 2100)
        finally:
            consume_profile.disable()

    portal.call(profiled_consume)
    send_share, send_top = _profile_share(send_profile)
    consume_share, consume_top = _profile_share(consume_profile)
    benchmark.extra_info.update(
        send_codec_and_model_share=round(send_share, 3),
        consume_codec_and_model_share=round(consume_share, 3),
        send_top=send_top,
        consume_top=consume_top,
    )
    print("\nsync send profile (tottime):\n  " + "\n  ".join(send_top))
    print(f"codec + message model share of send: {send_share:.1%}")
    print("consume profile (tottime):\n  " + "\n  ".join(consume_top))
    print(f"codec + message model share of consume: {consume_share:.1%}")
    assert send_share < 0.5 and consume_share < 0.5
