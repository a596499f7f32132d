"""Two brokers; one dies: sends go on through the other, without waiting out timeouts."""

from __future__ import annotations

from pathlib import Path

import anyio
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
        # A send timeout far longer than the whole test may take: if any send waited out its
        # timeout on the dead broker (instead of failing fast and avoiding it), fail_after fires.
        async with Producer("failover_pg", namesrv_addr=namesrv.addr, send_msg_timeout=60.0) as producer:
            before = [await producer.send(Message("FailoverTopic", f"before {i}".encode())) for i in range(8)]
            assert {r.message_queue.broker_name for r in before} == {"broker-a", "broker-b"}
            brokers[0].kill()
            with anyio.fail_after(30):
                after = [await producer.send(Message("FailoverTopic", f"after {i}".encode())) for i in range(20)]
        assert all(r.status is SendStatus.SEND_OK for r in after)
        assert {r.message_queue.broker_name for r in after} == {"broker-b"}
    finally:
        for b in brokers:
            b.stop()
        namesrv.stop()
