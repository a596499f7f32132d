"""``rmqcore quickstart`` and ``rmqcore admin`` as programs, against a real name server and broker."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.client.conftest import Cluster

pytestmark = pytest.mark.integration


def rmqcore(cluster: Cluster, *args: object, timeout: float = 120.0, ok: bool = True) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "rmqcore.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
    if ok:
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_quickstart_produce_and_consume(cluster: Cluster) -> None:
    topic, group = cluster.name("QuickTopic"), cluster.name("quick")
    out = rmqcore(cluster, "quickstart", "-n", cluster.namesrv_addr, "produce", "-t", topic).splitlines()
    assert len(out) == 1000 and all(l.startswith("SendResult [sendStatus=SEND_OK") for l in out)
    got = rmqcore(cluster, "quickstart", "-n", cluster.namesrv_addr, "consume", "-t", topic, "-g", group, "--count", 1000, "--timeout", 60)
    assert len(set(re.findall(r"body=b'(Hello RocketMQ \d+)'", got))) == 1000


def test_admin_commands(cluster: Cluster) -> None:
    n = cluster.namesrv_addr
    topic, group = cluster.name("AdminTopic"), cluster.name("admin_cg")
    out = rmqcore(cluster, "admin", "-n", n, "updateTopic", "-t", topic, "-r", 3, "-w", 3)
    assert f"create topic to {cluster.broker.addr} success." in out
    assert topic in rmqcore(cluster, "admin", "-n", n, "topicList").split()
    assert re.search(rf"DefaultCluster\s+broker-a\s+0\s+{re.escape(cluster.broker.addr)}", rmqcore(cluster, "admin", "-n", n, "clusterList"))

    # Three messages with a key, consumed once by the group (2 of the 3 acknowledged as the offset moves).
    rmqcore(cluster, "quickstart", "-n", n, "produce", "-t", topic, "--count", 6)
    status = rmqcore(cluster, "admin", "-n", n, "topicStatus", "-t", topic)
    rows = re.findall(r"broker-a\s+(\d)\s+(\d+)\s+(\d+)", status)
    assert len(rows) == 3 and sum(int(mx) - int(mn) for _, mn, mx in rows) == 6

    rmqcore(cluster, "quickstart", "-n", n, "consume", "-t", topic, "-g", group, "--count", 6, "--timeout", 30)
    progress = rmqcore(cluster, "admin", "-n", n, "consumerProgress", "-g", group, "-t", topic)
    assert "Diff Total: 0" in progress
    assert len(re.findall(rf"{topic}\s+broker-a\s+\d", progress)) == 3

    # A message by key, then by both of its ids.
    from rmqcore.client import Message, sync

    with sync.Producer(cluster.name("admin_pg"), namesrv_addr=n) as producer:
        result = producer.send(Message(topic, b"find me", tags="T", keys=["order-42"]))
    by_key = rmqcore(cluster, "admin", "-n", n, "queryMsgByKey", "-t", topic, "-k", "order-42")
    assert result.msg_id in by_key
    by_offset_id = rmqcore(cluster, "admin", "-n", n, "queryMsgById", "-i", result.offset_msg_id)
    assert "Message Body:        find me" in by_offset_id and "Keys:                [order-42]" in by_offset_id
    by_uniq = rmqcore(cluster, "admin", "-n", n, "queryMsgById", "-i", result.msg_id, "-t", topic)
    assert f"OffsetID:            {result.offset_msg_id}" in by_uniq

    failed = rmqcore(cluster, "admin", "-n", n, "topicStatus", "-t", cluster.name("NoSuchTopic"), ok=False)
    assert "topicStatus command failed" in failed


def test_admin_has_a_consumer_consume_a_message_directly(cluster: Cluster) -> None:
    """queryMsgById -g GROUP -d CLIENT_ID (Admin.consume_message_directly): the broker forwards the
    stored message to that consumer, whose listener runs on it and whose verdict comes back."""
    import threading

    from rmqcore.client import Admin, ConsumeConcurrentlyStatus, Message, sync

    n = cluster.namesrv_addr
    topic, group = cluster.name("DirectTopic"), cluster.name("direct_cg")
    seen: list[bytes] = []
    consumed = threading.Event()

    def listener(msgs: list, context: object) -> ConsumeConcurrentlyStatus:
        seen.extend(m.body for m in msgs)
        consumed.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    with sync.Producer(cluster.name("direct_pg"), namesrv_addr=n) as producer:
        result = producer.send(Message(topic, b"consume me again"))
    consumer = sync.PushConsumer(group, namesrv_addr=n, instance_name=cluster.name("direct"))
    consumer.subscribe(topic, "*")
    consumer.register_message_listener(listener)
    with consumer:
        assert consumed.wait(30), "the consumer did not get the message"
        client_id = consumer.config.client_id
        with sync.SyncClient(Admin(n)) as admin:
            verdict = admin.consume_message_directly(group, client_id, result.offset_msg_id)
        assert (verdict.consume_result, verdict.order, verdict.auto_commit) == ("CR_SUCCESS", False, True)
        out = rmqcore(cluster, "admin", "-n", n, "queryMsgById", "-i", result.msg_id, "-t", topic, "-g", group, "-d", client_id)
        assert "consumeResult=CR_SUCCESS" in out, out
        offline = rmqcore(cluster, "admin", "-n", n, "queryMsgById", "-i", result.offset_msg_id, "-g", group, "-d", "10.0.0.9@gone", ok=False)
        assert f"The Consumer <{group}> <10.0.0.9@gone> not online" in offline
    assert seen == [b"consume me again"] * 3
