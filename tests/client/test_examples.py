"""Every example program, run as a program against a real name server and broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import anyio
import pytest

from rmqcore.client import Admin
from tests.client.conftest import Cluster

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(cluster: Cluster, script: str, *args: object, timeout: float = 60.0) -> str:
    env = dict(os.environ, NAMESRV_ADDR=cluster.namesrv_addr)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    assert proc.returncode == 0, f"{script} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    return proc.stdout


class Background:
    """A program running while the test does something else (a consumer waiting for messages)."""

    def __init__(self, cluster: Cluster, script: str, *args: object) -> None:
        env = dict(os.environ, NAMESRV_ADDR=cluster.namesrv_addr, PYTHONUNBUFFERED="1")
        # stderr to a file: only the reader thread may read stdout, or lines get lost.
        self.stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / script), *map(str, args)],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> None:
        regex = re.compile(pattern)
        with self._seen:
            if not self._seen.wait_for(lambda: any(regex.search(l) for l in self.lines), timeout):
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s; got {self.lines}")

    def finish(self, timeout: float = 60.0) -> list[str]:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"program did not finish in {timeout}s; output {self.lines}\n{self._stderr_text()}")
        self._reader.join(10)
        assert self.proc.returncode == 0, f"exit {self.proc.returncode}\n{self._stderr_text()}"
        return self.lines

    def _stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-4000:]


def test_sync_producer_then_push_consumer(cluster: Cluster) -> None:
    topic, group = cluster.name("SyncTopic"), cluster.name("cg")
    out = run(cluster, "simple/sync_producer.py", "--topic", topic, "--count", 20).splitlines()
    assert len(out) == 20 and all(line.startswith("SEND_OK ") for line in out)
    # 4 queues (defaultTopicQueueNums), offsets 0.. on each.
    assert {re.search(r"queue=(\d)", l).group(1) for l in out} == {"0", "1", "2", "3"}
    got = run(cluster, "simple/push_consumer.py", "--topic", topic, "--group", group, "--count", 20, "--timeout", 30)
    bodies = sorted(re.findall(r"Receive New Messages: (Hello RocketMQ \d+)", got))
    assert bodies == sorted(f"Hello RocketMQ {i}" for i in range(20))


def test_async_and_oneway_producers(cluster: Cluster) -> None:
    topic = cluster.name("AsyncTopic")
    out = run(cluster, "simple/async_producer.py", "--topic", topic, "--count", 30).splitlines()
    assert sorted(int(l.split()[0]) for l in out if " OK " in f" {l.split(None, 1)[1][:3]} " or "OK" in l) == list(range(30))
    assert not [l for l in out if "Exception" in l]
    out = run(cluster, "simple/oneway_producer.py", "--topic", topic, "--count", 10)
    assert "sent 10 one-way messages" in out
    got = run(cluster, "simple/pull_consumer.py", "--topic", topic, "--group", cluster.name("pull"), "--count", 40, "--timeout", 30)
    assert "pulled 40 messages" in got


def test_lite_pull_subscribe_and_assign(cluster: Cluster) -> None:
    topic = cluster.name("LiteTopic")
    run(cluster, "simple/sync_producer.py", "--topic", topic, "--count", 80)
    got = run(cluster, "simple/lite_pull_subscribe.py", "--topic", topic, "--group", cluster.name("lite"), "--count", 80, "--timeout", 30)
    assert "polled 80 messages" in got
    assert len(set(re.findall(r"polled (Hello RocketMQ \d+)", got))) == 80
    # Assign: queues 0 and 1 of 4; queue 0 starts at offset 10 (20 messages per queue).
    group = cluster.name("assign")
    got = run(cluster, "simple/lite_pull_assign.py", "--topic", topic, "--group", group, "--count", 30, "--timeout", 30)
    assert "assigned [0, 1]; polled 30 messages" in got
    offsets = [(int(q), int(o)) for q, o in re.findall(r"queue=(\d+) offset=(\d+)", got)]
    assert sorted(o for q, o in offsets if q == 0) == list(range(10, 20))
    assert sorted(o for q, o in offsets if q == 1) == list(range(20))

    # The manual commits reached the broker: both assigned queues at their end, the others untouched.
    async def committed() -> dict[int, int]:
        async with Admin(cluster.namesrv_addr) as admin:
            return {p.message_queue.queue_id: p.consumer_offset for p in await admin.consumer_progress(group, [topic])}

    progress = anyio.run(committed)
    # (The broker answers 0 rather than "not found" for a queue whose first message it still
    # holds, as RocketMQ does; so an untouched queue shows -1 or 0.)
    assert progress[0] == progress[1] == 20 and progress[2] in (-1, 0) and progress[3] in (-1, 0)


def test_order_producer_and_orderly_consumer(cluster: Cluster) -> None:
    topic = cluster.name("OrderTopic")
    out = run(cluster, "order/order_producer.py", "--topic", topic, "--count", 100)
    queue_of_order: dict[str, set[str]] = {}
    for order, queue in re.findall(r"order=(\d+) .* queue=(\d+)", out):
        queue_of_order.setdefault(order, set()).add(queue)
    assert len(queue_of_order) == 10 and all(len(q) == 1 for q in queue_of_order.values())
    # Subscribed TagA || TagC || TagD: 60 of the 100.
    got = run(cluster, "order/order_consumer.py", "--topic", topic, "--group", cluster.name("orderly"), "--count", 60, "--timeout", 30)
    rows = re.findall(r"queue=(\d+) offset=(\d+) tags=(\w+) body=Hello RocketMQ (\d+)", got)
    assert len(rows) == 60 and {t for _, _, t, _ in rows} == {"TagA", "TagC", "TagD"}
    per_queue: dict[str, list[int]] = {}
    for q, offset, _, _ in rows:
        per_queue.setdefault(q, []).append(int(offset))
    assert all(offsets == sorted(offsets) for offsets in per_queue.values()), per_queue


def test_broadcast_consumers_each_get_everything(cluster: Cluster, tmp_path: Path) -> None:
    topic, group = cluster.name("BroadcastTopic"), cluster.name("bc")
    consumers = [
        Background(cluster, "broadcast/broadcast_consumer.py", "--topic", topic, "--group", group,
                   "--instance-name", f"bc{i}", "--offset-dir", tmp_path, "--count", 9, "--timeout", 40)
        for i in range(2)
    ]
    for c in consumers:
        c.wait_for_line("Broadcast Consumer Started")
    run(cluster, "filter/tag_filter_producer.py", "--topic", topic, "--count", 15)  # tags cycle A,B,C
    # TagA || TagC || TagD of TagA/TagB/TagC x5: 10 each... the consumer stops at 9, so ask for at least 9 each.
    for c in consumers:
        lines = c.finish()
        received = [l for l in lines if l.startswith("Receive New Messages")]
        assert len(received) >= 9 and all("tags=TagB" not in l for l in received)


def test_schedule_producer_and_consumer(cluster: Cluster) -> None:
    topic = cluster.name("ScheduleTopic")
    consumer = Background(cluster, "schedule/schedule_consumer.py", "--topic", topic, "--group", cluster.name("sched"), "--count", 5, "--timeout", 40)
    out = run(cluster, "schedule/schedule_producer.py", "--topic", topic, "--count", 5, "--delay-level", 3)
    assert out.count("SEND_OK") == 5
    lines = consumer.finish()
    delays = [int(d) for d in re.findall(r"\] (\d+)ms later", "\n".join(lines))]
    # Level 3 is 2 s with the test broker's messageDelayLevel.
    assert len(delays) == 5 and all(d >= 1900 for d in delays), delays


def test_timer_producer_and_consumer(cluster: Cluster) -> None:
    topic = cluster.name("TimerTopic")
    consumer = Background(cluster, "timer/timer_consumer.py", "--topic", topic, "--group", cluster.name("timer"), "--count", 4, "--timeout", 40)
    out = run(cluster, "timer/timer_producer.py", "--topic", topic, "--count", 4, "--delay-ms", 3000)
    assert out.count("delayMs=3000") == 2 and out.count("deliverTimeMs=") == 2
    lines = consumer.finish()
    delays = [int(d) for d in re.findall(r"\] (\d+)ms later", "\n".join(lines))]
    # Timer precision is 1 s (rounded down), so at least 2 s late and well under the 40 s budget.
    assert len(delays) == 4 and all(d >= 1900 for d in delays), delays


def test_batch_and_split_batch_producers(cluster: Cluster) -> None:
    topic = cluster.name("BatchTopic")
    out = run(cluster, "batch/batch_producer.py", "--topic", topic)
    match = re.search(r"SEND_OK msgIds=(\S+) queue=\d+ firstOffset=0", out)
    assert match and len(match.group(1).split(",")) == 3
    out = run(cluster, "batch/split_batch_producer.py", "--topic", topic, "--count", 3000, "--size-limit", 64 * 1024)
    sizes = [int(n) for n in re.findall(r": (\d+) messages SEND_OK", out)]
    assert sum(sizes) == 3000 and len(sizes) > 1
    got = run(cluster, "simple/push_consumer.py", "--topic", topic, "--group", cluster.name("batchc"), "--count", 3003, "--timeout", 60)
    assert len(re.findall(r"Receive New Messages: Hello world \d+", got)) == 3003


def test_tag_filter(cluster: Cluster) -> None:
    topic = cluster.name("TagFilterTopic")
    run(cluster, "filter/tag_filter_producer.py", "--topic", topic, "--count", 30)
    got = run(cluster, "filter/tag_filter_consumer.py", "--topic", topic, "--group", cluster.name("tagc"), "--count", 20, "--timeout", 30)
    tags = re.findall(r"tags=(\w+)", got)
    assert len(tags) == 20 and set(tags) == {"TagA", "TagC"}


def test_sql_filter_receives_exactly_0_2_3(cluster: Cluster) -> None:
    topic = cluster.name("SqlFilterTopic")
    out = run(cluster, "filter/sql_filter_producer.py", "--topic", topic)
    assert out.count("SEND_OK") == 15
    # Stop a little after the third match: nothing else may arrive.
    got = run(cluster, "filter/sql_filter_consumer.py", "--topic", topic, "--group", cluster.name("sqlc"), "--timeout", 6)
    assert sorted(int(i) for i in re.findall(r"baiLi=(\d+)", got)) == [0, 2, 3]


def test_transaction_producer_five_tags(cluster: Cluster) -> None:
    topic = cluster.name("TxTopic")
    consumer = Background(cluster, "simple/push_consumer.py", "--topic", topic, "--group", cluster.name("txc"), "--timeout", 25)
    producer = Background(cluster, "transaction/transaction_producer.py", "--topic", topic, "--group", cluster.name("txp"), "--count", 10, "--linger", 12)
    producer.wait_for_line(r"check TagC -> COMMIT_MESSAGE", timeout=20)
    producer.wait_for_line(r"check TagD -> ROLLBACK_MESSAGE", timeout=20)
    out = producer.finish()
    assert sum("SEND_OK" in l for l in out) == 10
    assert any("check TagE -> UNKNOW" in l for l in out)
    lines = consumer.finish(timeout=40)
    received = sorted(re.findall(r"Hello RocketMQ (\d+) tags=(\w+)", "\n".join(lines)))
    # i = 0..9, tags cycle A..E: TagA → 0, 5 (committed at once); TagC → 2, 7 (committed on check).
    assert sorted((int(i), t) for i, t in received) == [(0, "TagA"), (2, "TagC"), (5, "TagA"), (7, "TagC")]


def test_request_producer_and_response_consumer(cluster: Cluster) -> None:
    topic = cluster.name("RequestTopic")

    async def create_topic() -> None:
        async with Admin(cluster.namesrv_addr) as admin:
            await admin.create_topic(topic, read_queue_nums=4, write_queue_nums=4)

    anyio.run(create_topic)
    consumer = Background(cluster, "rpc/response_consumer.py", "--topic", topic, "--group", cluster.name("rpc"),
                          "--reply-group", cluster.name("reply"), "--count", 3, "--timeout", 40)  # fmt: skip
    consumer.wait_for_line("Consumer Started.")
    out = run(cluster, "rpc/request_producer.py", "--topic", topic, "--count", 3, "--ttl", 20)
    assert re.findall(r"replyMessage: (.*)", out) == [f"reply to Hello world {i}" for i in range(3)]
    lines = consumer.finish()
    assert [l for l in lines if l.startswith("Answered")] == [f"Answered 'Hello world {i}': SEND_OK" for i in range(3)]
