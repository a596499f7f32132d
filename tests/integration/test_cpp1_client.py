"""Acceptance: the real C++ RocketMQ client 1.x (PyPI ``rocketmq==0.4.4``, librocketmq 1.0.x)
against ``rmqcore namesrv`` + ``rmqcore broker`` subprocesses on loopback.

This client differs on the wire from the 2.x one in test_cpp_client.py: SEND_MESSAGE (10)
with long header keys instead of V2, version 63, a JSON header ending in a newline that
the header length counts, and extFields AccessKey/OnsChannel/Signature on every request.
Its package name clashes with ``rocketmq-python-cvs``, so scripts/install-test-clients.sh
installs it into ``<venv>/cpp1-client`` and the scenarios run in subprocesses with
PYTHONPATH pointing there.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.client_scenarios import run_scenario_script
from tests.integration.servers import ServerProcess

CLIENT_DIR = Path(sys.executable).parent.parent / "cpp1-client"
if not (CLIENT_DIR / "rocketmq" / "client.py").is_file():
    pytest.skip(
        f"rocketmq==0.4.4 (C++ client 1.x) is not installed in {CLIENT_DIR}; run scripts/install-test-clients.sh",
        allow_module_level=True,
    )

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).with_name("cpp1_client_scenarios.py")
TAGS = ["TagA", "TagB", "TagC"]


def run_scenario(namesrv: ServerProcess, tmp_path: Path, *args: object, timeout: float = 60) -> list[dict]:
    home = tmp_path / "cpp1-home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(CLIENT_DIR)
    env["HOME"] = str(home)  # the library writes its logs under $HOME otherwise
    env["ROCKETMQ_CLIENT_LOG_DIR"] = str(home / "logs")
    events, proc = run_scenario_script(SCRIPT, namesrv.addr, args, env=env, cwd=tmp_path, timeout=timeout)
    library = events[0]
    assert library["event"] == "library" and library["package"].startswith(str(CLIENT_DIR)), library
    assert library["dylib"].startswith(str(CLIENT_DIR)), library
    # (Consumer callbacks may still print after "consumer_done": look for it anywhere.)
    assert {"produce_done", "consumer_done"} & {e["event"] for e in events}, (
        f"scenario {args[0]} stopped early; exit {proc.returncode}; last events {events[-3:]}; stderr: {proc.stderr[-2000:]!r}"
    )
    return events


def of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


def produce(namesrv: ServerProcess, tmp_path: Path, topic: str, count: int, prefix: str, mode: str, tags: list[str]) -> list[dict]:
    return run_scenario(namesrv, tmp_path, "produce", topic, count, prefix, mode, ",".join(tags))


def pull(namesrv: ServerProcess, tmp_path: Path, topic: str, group: str, expected: int, expression: str = "*") -> list[dict]:
    events = run_scenario(namesrv, tmp_path, "pull", topic, group, expression, expected, 15)
    assert of(events, "queues")[0]["queue_ids"] == [0, 1, 2, 3]
    return events


def expected_messages(prefix: str, count: int, tags: list[str]) -> dict[str, tuple[str, str]]:
    """body -> (tags, keys) of what the produce scenario sends."""
    return {f"{prefix}-{i}": (tags[i % len(tags)], f"key-{prefix}-{i}") for i in range(count)}


def assert_received_exactly(received: list[dict], expected: dict[str, tuple[str, str]]) -> None:
    bodies = Counter(e["body"] for e in received)
    assert sorted(bodies) == sorted(expected), "lost or unexpected messages"
    assert [b for b, n in bodies.items() if n > 1] == [], "duplicated messages"
    for e in received:
        assert (e["tags"], e["keys"]) == expected[e["body"]], e


def assert_queue_offsets_dense(received: list[dict]) -> None:
    """Per queue, the pulled messages have queue offsets 0, 1, 2, ... in pull order."""
    by_queue: dict[int, list[int]] = {}
    for e in received:
        by_queue.setdefault(e["queue_id"], []).append(e["queue_offset"])
    for offsets in by_queue.values():
        assert offsets == list(range(len(offsets)))


def test_sync_sends_then_pull_every_queue(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    count = 40
    sent = of(produce(namesrv, tmp_path, "Topic1Sync", count, "s", "sync", TAGS), "sent")
    assert [e["i"] for e in sent] == list(range(count))
    assert all(e["status"] == 0 for e in sent)  # SEND_OK
    assert len({e["msg_id"] for e in sent}) == count and all(e["msg_id"] for e in sent)
    expected = expected_messages("s", count, TAGS)

    events = pull(namesrv, tmp_path, "Topic1Sync", "CG1_pull", count)
    received = of(events, "received")
    assert_received_exactly(received, expected)
    assert all(e["seq"] == e["body"].split("-")[1] for e in received)  # user property kept
    # The message ids the producer got back are the ids the consumer sees.
    assert {e["msg_id"] for e in received} == {e["msg_id"] for e in sent}
    assert_queue_offsets_dense(received)
    # Each send's offset is the queue offset it was stored at.
    assert sorted(e["offset"] for e in sent) == sorted(e["queue_offset"] for e in received)
    assert {e["status"] for e in of(events, "pull_status")} <= {"FOUND", "NO_NEW_MSG"}

    # A second group pulling with a tag expression gets the TagA/TagC messages only.
    wanted = {b: v for b, v in expected.items() if v[0] in ("TagA", "TagC")}
    events = pull(namesrv, tmp_path, "Topic1Sync", "CG1_pull_tags", len(wanted), "TagA || TagC")
    assert_received_exactly(of(events, "received"), wanted)


def test_tag_filtered_push_consumption(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    count = 30
    sent = of(produce(namesrv, tmp_path, "Topic1Tag", count, "t", "sync", TAGS), "sent")
    assert len(sent) == count and all(e["status"] == 0 for e in sent)
    wanted = {b: v for b, v in expected_messages("t", count, TAGS).items() if v[0] in ("TagA", "TagC")}
    assert len(wanted) == 20

    events = run_scenario(namesrv, tmp_path, "consume", "Topic1Tag", "CG1_tag", "TagA || TagC", len(wanted), 20)
    received = of(events, "received")
    assert_received_exactly(received, wanted)
    assert all(e["reconsume_times"] == 0 for e in received)


def test_async_and_oneway_sends_are_all_stored(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    count = 20
    async_sent = of(produce(namesrv, tmp_path, "Topic1AsyncOneway", count, "a", "async", TAGS), "sent")
    assert sorted(e["i"] for e in async_sent) == list(range(count))  # every callback ran, none failed
    assert all(e["status"] == 0 for e in async_sent)
    assert len({e["msg_id"] for e in async_sent}) == count

    events = produce(namesrv, tmp_path, "Topic1AsyncOneway", count, "o", "oneway", TAGS)
    assert [e["i"] for e in of(events, "sent_oneway")] == list(range(count))
    assert of(events, "fence")[0]["status"] == 0

    expected = expected_messages("a", count, TAGS) | expected_messages("o", count, TAGS)
    expected["o-fence"] = ("Fence", "key-o-fence")
    received = of(pull(namesrv, tmp_path, "Topic1AsyncOneway", "CG1_async", len(expected)), "received")
    assert_received_exactly(received, expected)
    assert_queue_offsets_dense(received)


def test_orderly_sends_land_on_one_queue_in_order(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    count = 20
    # send_orderly with the library's hashing selector: queue = 5 % 4 = 1.
    events = produce(namesrv, tmp_path, "Topic1Order", count, "q", "orderly:5", TAGS)
    assert {(e["mq_size"], e["queue_id"]) for e in of(events, "selected")} == {(4, 1)}
    sent = of(events, "sent")
    assert all(e["status"] == 0 for e in sent)
    assert [e["offset"] for e in sent] == list(range(count))
    # send_oneway_orderly: queue = 6 % 4 = 2, then the synchronous fence on the same queue.
    events = produce(namesrv, tmp_path, "Topic1Order", count, "w", "oneway_orderly:6", TAGS)
    assert {(e["mq_size"], e["queue_id"]) for e in of(events, "selected")} == {(4, 2)}
    [fence] = of(events, "fence")
    assert (fence["status"], fence["offset"]) == (0, count)

    received = of(pull(namesrv, tmp_path, "Topic1Order", "CG1_order_pull", 2 * count + 1), "received")
    assert [e["body"] for e in received if e["queue_id"] == 1] == [f"q-{i}" for i in range(count)]
    assert [e["body"] for e in received if e["queue_id"] == 2] == [f"w-{i}" for i in range(count)] + ["w-fence"]
    assert {e["queue_id"] for e in received} == {1, 2}
    assert_queue_offsets_dense(received)

    # An orderly push consumer gets queue 1's messages in send order, one queue at a time.
    events = run_scenario(namesrv, tmp_path, "consume", "Topic1Order", "CG1_order_push", "*", 2 * count + 1, 20, "orderly")
    got = of(events, "received")
    assert [e["body"] for e in got if e["queue_id"] == 1] == [f"q-{i}" for i in range(count)]
    assert [e["body"] for e in got if e["queue_id"] == 2] == [f"w-{i}" for i in range(count)] + ["w-fence"]
    assert len(got) == 2 * count + 1


def test_batch_send_is_stored_as_one_message_as_apache_rocketmq_does(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    """librocketmq 1.0.x sends a batch as SEND_MESSAGE (10) with extField ``batch: "1"`` and the
    batch-encoded body. Apache RocketMQ's broker reads that Boolean with ``Boolean.parseBoolean``,
    so "1" is false and the whole encoded batch is stored as the body of ONE message (the
    client bug reported upstream as apache/rocketmq-client-cpp#189 and #363). rmqcore decodes
    header booleans the same way; this pins that parity: one stored message, SEND_OK, at offset 0.
    """
    events = produce(namesrv, tmp_path, "Topic1Batch", 3, "b", "batch", TAGS)
    [result] = of(events, "sent_batch")
    assert (result["status"], result["offset"]) == (0, 0)
    received = of(pull(namesrv, tmp_path, "Topic1Batch", "CG1_batch", 1), "received")
    assert len(received) == 1
    [msg] = received
    # The stored message has no TAGS/KEYS properties of its own (they are inside the encoded
    # body, which starts with a NUL byte, so the C API's string getter returns "").
    assert (msg["queue_offset"], msg["tags"], msg["keys"], msg["body"]) == (0, "", "", "")
