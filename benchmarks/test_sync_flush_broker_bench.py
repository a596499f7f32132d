"""A SYNC_FLUSH broker under concurrent sends: what group commit gives a producer.

Run: .venv/bin/pytest benchmarks/test_sync_flush_broker_bench.py --benchmark-only

A name server and a broker with ``flushDiskType=SYNC_FLUSH`` run as ``rmqcore``
subprocesses (temporary store, 64 MiB CommitLog files). One ``Producer`` on uvloop sends
128-byte messages from 1, 8, 64 and 256 concurrent tasks; every answer is SEND_OK, which
under SYNC_FLUSH means the record was flushed to disk before the broker answered. The
summary prints msgs/s per concurrency and the ratio of each to one sender's rate in the
same run: concurrent senders share group commits, so the rate should grow far faster
than the flush rate of one sender.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rmqcore.client import Admin, Message, Producer, SendStatus  # noqa: E402
from rmqcore.logs import configure_logging  # noqa: E402
from tests.integration.servers import start_broker, start_namesrv, write_broker_conf  # noqa: E402

TOPIC = "SyncFlushBench"
BODY = b"x" * 128
SENDS = {1: 1_000, 8: 2_000, 64: 4_000, 256: 4_000}
ROUNDS = 3


@pytest.fixture(scope="module")
def sync_cluster() -> Iterator[dict[str, Any]]:
    configure_logging("error", stream=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="rmqcore-syncflush-bench-"))
    namesrv = start_namesrv(work / "logs")
    broker = None
    try:
        conf = write_broker_conf(
            work / "broker.conf", work / "store", namesrv.addr,
            flushDiskType="SYNC_FLUSH", mapedFileSizeCommitLog=64 * 1024 * 1024,
        )  # fmt: skip
        broker = start_broker(conf, work / "logs")
        with anyio.from_thread.start_blocking_portal(backend_options={"use_uvloop": True}) as portal:
            portal.call(_create_topic, namesrv.addr)
            producer = Producer("sync_flush_bench", namesrv_addr=namesrv.addr)
            with portal.wrap_async_context_manager(producer):
                portal.call(_send_concurrently, producer, 1, 200)  # warm up: route, connection
                yield {"portal": portal, "producer": producer}
    finally:
        if broker is not None:
            broker.stop()
        namesrv.stop()
        shutil.rmtree(work, ignore_errors=True)


async def _create_topic(namesrv: str) -> None:
    async with Admin(namesrv) as admin:
        await admin.create_topic(TOPIC, read_queue_nums=8, write_queue_nums=8)


async def _send_concurrently(producer: Producer, tasks: int, total: int) -> None:
    remaining = total

    async def sender() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            result = await producer.send(Message(TOPIC, BODY))
            assert result.status is SendStatus.SEND_OK, result.status

    async with anyio.create_task_group() as tg:
        for _ in range(tasks):
            tg.start_soon(sender)


@pytest.mark.parametrize("concurrency", sorted(SENDS))
def test_sync_flush_sends(benchmark: Any, sync_cluster: dict[str, Any], concurrency: int) -> None:
    portal, producer = sync_cluster["portal"], sync_cluster["producer"]
    sends = SENDS[concurrency]
    targets = [] if concurrency == 1 else [["test_sync_flush_sends[1]", None, "msgs/s"]]
    benchmark.extra_info.update(messages=sends, bytes=sends * len(BODY), targets=targets)
    benchmark.pedantic(lambda: portal.call(_send_concurrently, producer, concurrency, sends), rounds=ROUNDS, iterations=1)
