"""SYNC_FLUSH sends: put on the event loop, answered once a group commit covered the record,
with no worker thread per send (FlushWaiter)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from rmqcore.message import Message
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode, ResponseCode
from rmqcore.server.broker.flush_waiter import FlushWaiter
from rmqcore.store import MessageStore, StoreConfig

from .conftest import connect, running_broker

pytestmark = pytest.mark.anyio

TOPIC = "TopicTest"


def _forbid_send_threads(monkeypatch: pytest.MonkeyPatch, store: Any) -> list[Any]:
    """Make a worker thread started for a send put fail (other broker jobs may still use them)."""
    real = anyio.to_thread.run_sync
    used: list[Any] = []

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(func, "__module__", "").endswith("processors.send") or getattr(func, "__self__", None) is store:
            used.append(func)
            raise AssertionError("a SYNC_FLUSH send put ran in a worker thread")
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)
    return used


def _count_registrations(monkeypatch: pytest.MonkeyPatch, waiter: FlushWaiter, expected: int) -> asyncio.Event:
    """An event set once ``expected`` sends wait for their flush."""
    registered = asyncio.Event()
    real = waiter.wait
    count = 0

    def wait(end: int) -> Any:
        nonlocal count
        count += 1
        if count == expected:
            registered.set()
        return real(end)

    monkeypatch.setattr(waiter, "wait", wait)
    return registered


def _answers_at_flush(monkeypatch: pytest.MonkeyPatch, broker: Any) -> list[tuple[str, bool]]:
    """(status, whether the flushed offset covered the put) for every send answer, when it is built."""
    processor = broker.handler_table()[RequestCode.SEND_MESSAGE_V2].__self__
    seen: list[tuple[str, bool]] = []
    for name in ("_response", "_batch_response"):
        real = getattr(processor, name)

        def spy(cmd: Any, result: Any, queue_id: int, uniq: Any, real: Any = real) -> Any:
            seen.append((result.status.name, broker.store.flushed_offset >= result.end_offset))
            return real(cmd, result, queue_id, uniq)

        monkeypatch.setattr(processor, name, spy)
    return seen


async def test_answers_wait_for_the_flush_that_covers_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        assert (await client.send(TOPIC, b"create the topic")).code == ResponseCode.SUCCESS
        store = broker.store
        threads_used = _forbid_send_threads(monkeypatch, store)
        waiter = broker.flush_waiter()
        waiter._timeout_s = 60.0  # the held-back flush must not time out on a slow machine
        answers = _answers_at_flush(monkeypatch, broker)
        singles, batches, ext_puts = 40, 5, 5
        registered = _count_registrations(monkeypatch, waiter, singles + batches + ext_puts)
        # Hold the flush back: the waiter's thread cannot ask for a sync until released.
        release = threading.Event()
        wait_flushed = store.wait_flushed

        def held_back(end: int, timeout_s: float) -> int:
            release.wait(30)
            return wait_flushed(end, timeout_s)

        monkeypatch.setattr(store, "wait_flushed", held_back)
        responses: list[Any] = []

        async def send(i: int) -> None:
            responses.append(await client.send(TOPIC, b"single %d" % i, queue_id=i % 4))

        async def send_ext(i: int) -> None:
            # a CLUSTER property of the client's takes the MessageExt put
            responses.append(await client.send(TOPIC, b"ext %d" % i, queue_id=1, properties={C.PROPERTY_CLUSTER: "x"}))

        async def send_batch(i: int) -> None:
            batch = [Message(TOPIC, b"batch %d-%d" % (i, k)) for k in range(3)]
            responses.append(await client.send_batch(TOPIC, batch, queue_id=2))

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for i in range(singles):
                    tg.start_soon(send, i)
                for i in range(ext_puts):
                    tg.start_soon(send_ext, i)
                for i in range(batches):
                    tg.start_soon(send_batch, i)
                await registered.wait()
                # every message is stored, none durable, none answered
                assert sum(store.max_offset(TOPIC, q) for q in range(4)) == 1 + singles + ext_puts + 3 * batches
                assert store.flushed_offset < store.max_phy_offset
                assert responses == [] and answers == [] and waiter.pending == singles + batches + ext_puts
                release.set()
        assert [r.code for r in responses] == [ResponseCode.SUCCESS] * (singles + batches + ext_puts)
        assert answers == [("PUT_OK", True)] * (singles + batches + ext_puts)
        assert waiter.pending == 0 and threads_used == []


async def test_many_concurrent_sends_answer_only_when_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker:
        assert broker.flush_waiter() is not None
        threads_used = _forbid_send_threads(monkeypatch, broker.store)
        answers = _answers_at_flush(monkeypatch, broker)
        codes: list[int] = []

        async def producer(conn: int) -> None:
            async with connect(broker.port) as client:
                for i in range(50):
                    if i % 10 == 9:
                        r = await client.send_batch(TOPIC, [Message(TOPIC, b"b%d" % k) for k in range(4)], queue_id=conn % 4)
                    else:
                        r = await client.send(TOPIC, b"m %d %d" % (conn, i), queue_id=conn % 4)
                    codes.append(r.code)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for conn in range(8):
                    tg.start_soon(producer, conn)
        assert codes.count(ResponseCode.SUCCESS) == len(codes) == 400
        assert answers == [("PUT_OK", True)] * 400  # (the topic's creation raced: all SUCCESS anyway)
        assert threads_used == []


async def test_flush_timeout_answers_flush_disk_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        store = broker.store
        threads_used = _forbid_send_threads(monkeypatch, store)
        waiter = broker.flush_waiter()
        waiter._timeout_s = 0.05  # syncFlushTimeout, shortened
        # A flush that does not complete: the wait returns at its timeout with nothing new flushed.
        stuck = threading.Event()

        def never_flushes(end: int, timeout_s: float) -> int:
            stuck.wait(timeout_s)
            return store.flushed_offset

        monkeypatch.setattr(store, "wait_flushed", never_flushes)
        try:
            late = await client.send(TOPIC, b"late", queue_id=0)
            assert late.code == ResponseCode.FLUSH_DISK_TIMEOUT  # stored, not known durable
            ext = await client.send(TOPIC, b"late ext", queue_id=0, properties={C.PROPERTY_CLUSTER: "x"})
            assert ext.code == ResponseCode.FLUSH_DISK_TIMEOUT
            batch = await client.send_batch(TOPIC, [Message(TOPIC, b"late batch")], queue_id=0)
            assert batch.code == ResponseCode.FLUSH_DISK_TIMEOUT
            # WAIT=false: answered as MessageStore.put answers it, SEND_OK whether or not the flush came
            unwaited = await client.send(TOPIC, b"unwaited", queue_id=0, properties={C.PROPERTY_WAIT_STORE_MSG_OK: "false"})
            assert unwaited.code == ResponseCode.SUCCESS
        finally:
            stuck.set()
            monkeypatch.undo()
            waiter._timeout_s = 5.0
        assert (await client.send(TOPIC, b"durable again", queue_id=0)).code == ResponseCode.SUCCESS
        stored = [m.body for m in store.get_raw(TOPIC, 0, 0, 32).messages]
        assert stored == [b"late", b"late ext", b"late batch", b"unwaited", b"durable again"]
        assert threads_used == []


async def test_wait_false_answers_at_once_and_still_gets_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WAIT=false (waitStoreMsgOK=false): answered without waiting for the group commit, which
    is still asked to cover the record (RocketMQ's handleDiskFlush only wakes it)."""
    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        store = broker.store
        waiter = broker.flush_waiter()
        waiter._timeout_s = 30.0  # syncFlushTimeout, far longer than the answer may take
        held = threading.Event()
        real_wait_flushed = store.wait_flushed

        def held_back(end: int, timeout_s: float) -> int:
            held.wait()
            return real_wait_flushed(end, timeout_s)

        requested: list[tuple[int, Any]] = []
        real_wait = waiter.wait

        def recording_wait(end: int) -> Any:
            future = real_wait(end)
            requested.append((end, future))
            return future

        monkeypatch.setattr(store, "wait_flushed", held_back)
        monkeypatch.setattr(waiter, "wait", recording_wait)
        try:
            with anyio.fail_after(5):
                unwaited = await client.send(TOPIC, b"unwaited", queue_id=0, properties={C.PROPERTY_WAIT_STORE_MSG_OK: "false"})
            assert unwaited.code == ResponseCode.SUCCESS
            [(end, future)] = requested  # its flush was asked for; the answer did not wait on it
            assert not future.done() and store.flushed_offset < end
        finally:
            held.set()
        with anyio.fail_after(10):
            assert await future is True
        assert store.flushed_offset >= end


async def test_failed_msync_answers_the_error_not_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rmqcore.store import StoreIOError

    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        assert (await client.send(TOPIC, b"durable")).code == ResponseCode.SUCCESS
        store = broker.store

        def failing(end: int, timeout_s: float) -> int:
            raise StoreIOError("msync commitlog: Input/output error")

        monkeypatch.setattr(store, "wait_flushed", failing)
        failed = await client.send(TOPIC, b"not durable", queue_id=0)
        assert failed.code == ResponseCode.SYSTEM_ERROR and "msync" in (failed.remark or "")
        monkeypatch.undo()
        assert (await client.send(TOPIC, b"durable again", queue_id=0)).code == ResponseCode.SUCCESS


async def test_shutdown_with_sends_in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        assert (await client.send(TOPIC, b"create the topic")).code == ResponseCode.SUCCESS
        store = broker.store
        waiter = broker.flush_waiter()
        registered = _count_registrations(monkeypatch, waiter, 20)
        # The flush is held back until the store closes (whose own final flush covers everything).
        release = threading.Event()
        wait_flushed = store.wait_flushed
        close = store.close

        def held_back(end: int, timeout_s: float) -> int:
            release.wait(30)
            return wait_flushed(end, timeout_s)

        def closing() -> None:
            release.set()
            close()

        monkeypatch.setattr(store, "wait_flushed", held_back)
        monkeypatch.setattr(store, "close", closing)
        outcomes: list[Any] = []

        async def send(i: int) -> None:
            try:
                outcomes.append((await client.send(TOPIC, b"in flight %d" % i, queue_id=i % 4)).code)
            except Exception as exc:  # the connection closed under it
                outcomes.append(type(exc).__name__)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(send, i)
                await registered.wait()
                assert outcomes == []
                await broker.shutdown()
        assert len(outcomes) == 20
        assert all(o == ResponseCode.SUCCESS or isinstance(o, str) for o in outcomes), outcomes
        assert not waiter._thread.is_alive() and waiter.pending == 0
        assert broker.flush_waiter() is None  # none after shutdown


def test_waiter_answers_pending_sends_when_the_store_closes(tmp_path: Path) -> None:
    """Closing the store then the waiter resolves every future: True for what the store's
    final flush covered; the thread stops."""
    store = MessageStore.open(tmp_path, StoreConfig(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20))
    release = threading.Event()
    wait_flushed = store.wait_flushed

    def held_back(end: int, timeout_s: float) -> int:
        release.wait(30)
        return wait_flushed(end, timeout_s)

    store.wait_flushed = held_back  # type: ignore[method-assign]

    async def main() -> list[Any]:
        waiter = FlushWaiter(store, asyncio.get_running_loop(), 60.0)
        futures = []
        for i in range(10):
            r = store.put(Message("T", b"m%d" % i), 0, wait_for_flush=False)
            assert r.ok and store.flushed_offset < r.end_offset
            futures.append(waiter.wait(r.end_offset))
        await asyncio.sleep(0)
        assert not any(f.done() for f in futures)
        store.close()
        release.set()
        waiter.close()
        assert not waiter._thread.is_alive()
        # a send registered after close is answered at once too
        late = waiter.wait(1 << 40)
        return [f.result() for f in futures] + [late.result()]

    try:
        assert asyncio.run(main()) == [True] * 10 + [False]
    finally:
        release.set()
        store.close()
