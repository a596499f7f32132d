"""Two brokers; one dies: sends go on through the other, without waiting out timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rmqcore.client import Admin, Message, Producer, SendStatus
from tests.integration.servers import start_broker, start_namesrv, write_broker_conf

pytestmark = pytest.mark.integration


async def test_producer_retries_on_the_other_broker_when_one_dies(tmp_path: Path) -> None:
    namesrv = start_namesrv(tmp_path / "logs")
    brokers = []
    try:
        for name in ("broker-a", "broker-b"):
            conf = write_broker_conf(tmp_path / f"{name}.conf", tmp_path / f"store-{name}", namesrv.addr, brokerName=name)
            brokers.append(start_broker(conf, tmp_path / "logs", name=name))
        async with Admin(namesrv.addr) as admin:
            assert len(await admin.create_topic("FailoverTopic", read_queue_nums=2, write_queue_nums=2)) == 2
        async with Producer("failover_pg", namesrv_addr=namesrv.addr, send_msg_timeout=3.0) as producer:
            before = [await producer.send(Message("FailoverTopic", f"before {i}".encode())) for i in range(8)]
            assert {r.message_queue.broker_name for r in before} == {"broker-a", "broker-b"}
            brokers[0].kill()
            t0 = time.monotonic()
            after = [await producer.send(Message("FailoverTopic", f"after {i}".encode())) for i in range(20)]
            elapsed = time.monotonic() - t0
        assert all(r.status is SendStatus.SEND_OK for r in after)
        assert {r.message_queue.broker_name for r in after} == {"broker-b"}
        # No send waited for its 3 s timeout: the dead broker failed fast and was then avoided.
        assert elapsed < 3.0, elapsed
    finally:
        for b in brokers:
            b.stop()
        namesrv.stop()
