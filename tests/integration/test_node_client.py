"""Acceptance: the real Node.js client ali-ons 3.12.0 (a pure-JS RocketMQ 4.x remoting client:
Java-style JSON headers, SEND_MESSAGE_V2, PULL_MESSAGE long polling, broker-stored offsets)
against ``rmqcore namesrv`` + ``rmqcore broker`` subprocesses on loopback.

The package is installed from the committed lock file into ``tests/integration/node_client``
with ``npm ci``; without node/npm, or when the install fails, these tests are skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.servers import ServerProcess

pytestmark = pytest.mark.integration

NODE_DIR = Path(__file__).with_name("node_client")
SCENARIO = NODE_DIR / "scenario.js"
ALI_ONS_VERSION = "3.12.0"
# A consumer group's first QUERY_CONSUMER_OFFSET on a queue with no message at offset 0 is
# answered 22 (QUERY_NOT_FOUND), as RocketMQ's broker does; ali-ons reports that as an error
# event and then starts the queue at offset 0 (CONSUME_FROM_FIRST_OFFSET).
_BENIGN_ERROR = "RemoteBrokerOffsetStore.readOffset failed"


def _ali_ons_version(node: str) -> str | None:
    probe = subprocess.run(
        [node, "-e", "process.stdout.write(require('ali-ons/package.json').version); require('ali-ons')"],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=60,
    )
    return probe.stdout if probe.returncode == 0 else None


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the ali-ons client tests")
    if _ali_ons_version(node) != ALI_ONS_VERSION:
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=300
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci of ali-ons did not finish within 300 s")
        if proc.returncode != 0:
            pytest.skip(f"npm ci of ali-ons failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
        if _ali_ons_version(node) != ALI_ONS_VERSION:
            pytest.skip(f"ali-ons {ALI_ONS_VERSION} is not loadable after npm ci")
    return node


def create_topic(namesrv: ServerProcess, topic: str) -> None:
    # ali-ons needs the route to exist: it does not fall back to TBW102 like the Java client.
    proc = subprocess.run(
        [sys.executable, "-m", "rmqcore.cli", "admin", "-n", namesrv.addr, "updateTopic", "-t", topic, "-c", "DefaultCluster"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_scenario(node: str, namesrv: ServerProcess, tmp_path: Path, *args: object, timeout: float = 120) -> list[dict]:
    proc = subprocess.run(
        [node, str(SCENARIO), str(args[0]), namesrv.addr, *map(str, args[1:])],
        capture_output=True, timeout=timeout, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    stdout = proc.stdout.decode(errors="replace")
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    context = f"scenario {args[0]}: exit {proc.returncode}; stdout tail: {stdout[-1500:]!r}; stderr: {proc.stderr[-1500:]!r}"
    assert proc.returncode == 0, context
    assert events and events[-1]["event"] == "done", context
    unexpected = [e for e in events if e["event"] == "error" and _BENIGN_ERROR not in e["message"]]
    assert not unexpected, context
    return events


def _events(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


def test_sync_send_100_and_consume_all(node: str, namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    create_topic(namesrv, "TopicNode")
    sent = _events(run_scenario(node, namesrv, tmp_path, "produce", "TopicNode", 100, "m"), "sent")
    assert [e["i"] for e in sent] == list(range(100))
    assert all(e["status"] == "SEND_OK" for e in sent)
    assert len({e["msg_id"] for e in sent}) == 100
    assert {e["queue_id"] for e in sent} == set(range(8))  # round robin over the topic's 8 write queues
    by_queue: dict[int, list[int]] = {}
    for e in sent:
        by_queue.setdefault(e["queue_id"], []).append(e["offset"])
    assert all(offsets == list(range(len(offsets))) for offsets in by_queue.values())

    events = run_scenario(node, namesrv, tmp_path, "consume", "TopicNode", "CG_node_all", "*", 100, 60)
    got = _events(events, "received")
    assert sorted(e["body"] for e in got) == sorted(f"m-{i}" for i in range(100))
    assert {e["keys"] for e in got} == {f"key-m-{i}" for i in range(100)}
    assert {e["msg_id"] for e in got} == {e["msg_id"] for e in sent}
    assert all(e["reconsume_times"] == 0 for e in got)


def test_tag_filtered_consumption(node: str, namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    create_topic(namesrv, "TopicNodeTag")
    sent = _events(run_scenario(node, namesrv, tmp_path, "produce", "TopicNodeTag", 30, "t", "TagA,TagB,TagC"), "sent")
    assert all(e["status"] == "SEND_OK" for e in sent)
    expected = {f"t-{e['i']}" for e in sent if e["tags"] in ("TagA", "TagC")}
    events = run_scenario(node, namesrv, tmp_path, "consume", "TopicNodeTag", "CG_node_tag", "TagA || TagC", len(expected), 60)
    got = _events(events, "received")
    assert sorted(e["body"] for e in got) == sorted(expected)
    assert {e["tags"] for e in got} == {"TagA", "TagC"}


def test_delayed_message_arrives_after_its_delay(node: str, namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    # The fixture broker runs messageDelayLevel "1s 2s ..."; level 2 is 2 s.
    create_topic(namesrv, "TopicNodeDelay")
    [sent] = _events(run_scenario(node, namesrv, tmp_path, "produce", "TopicNodeDelay", 1, "d", "", 2), "sent")
    assert sent["status"] == "SEND_OK"
    events = run_scenario(node, namesrv, tmp_path, "consume", "TopicNodeDelay", "CG_node_delay", "*", 1, 60)
    [msg] = _events(events, "received")
    assert msg["body"] == "d-0"
    assert msg["store_ms"] - msg["born_ms"] >= 2000 - 100


def test_retry_through_consumer_send_msg_back(node: str, namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    # ACTION_RETRY makes ali-ons send CONSUMER_SEND_MSG_BACK (delayLevel 0: the broker picks 3 + reconsumeTimes);
    # the message comes back through %RETRY%CG_node_retry, to the original topic's handler.
    create_topic(namesrv, "TopicNodeRetry")
    run_scenario(node, namesrv, tmp_path, "produce", "TopicNodeRetry", 3, "r")
    events = run_scenario(node, namesrv, tmp_path, "consume", "TopicNodeRetry", "CG_node_retry", "*", 3, 60, "fail_first")
    assert {e["body"] for e in _events(events, "reconsume_later")} == {"r-0", "r-1", "r-2"}
    got = _events(events, "received")
    assert {e["body"] for e in got} == {"r-0", "r-1", "r-2"}
    assert all(e["reconsume_times"] == 1 for e in got)
    assert all(e["keys"] == f"key-{e['body']}" for e in got)
