"""Acceptance: the real C++ RocketMQ client (librocketmq 2.1.0, SEND_MESSAGE_V2, language CPP)
against ``rmqcore namesrv`` + ``rmqcore broker`` subprocesses on loopback."""

from __future__ import annotations

import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.client_scenarios import run_scenario_script
from tests.integration.servers import ServerProcess

pytest.importorskip("rocketmq.client", reason="rocketmq-python-cvs (C++ client) is not installed")

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).with_name("cpp_client_scenarios.py")


def run_scenario(namesrv: ServerProcess, tmp_path: Path, *args: object, timeout: float = 120) -> list[dict]:
    env = dict(os.environ)
    log_dir = tmp_path / "cpp-client-logs"
    log_dir.mkdir(exist_ok=True)
    env["ROCKETMQ_CLIENT_LOG_DIR"] = str(log_dir)
    events, _ = run_scenario_script(SCRIPT, namesrv.addr, args, env=env, cwd=tmp_path, timeout=timeout)
    return events


def _received(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"] == "received"]


def test_sync_send_1000_and_push_consume_all(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    sent = run_scenario(namesrv, tmp_path, "produce", "TopicTest", 1000, "m")
    assert len(sent) == 1000 and all(e["status"] == 0 for e in sent)  # SEND_OK
    assert len({e["msg_id"] for e in sent}) == 1000
    events = run_scenario(namesrv, tmp_path, "consume", "TopicTest", "CG_all", "*", 1000, 60)
    bodies = {e["body"] for e in _received(events)}
    assert bodies == {f"m-{i}" for i in range(1000)}


def test_tag_filtered_consumption(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    sent = run_scenario(namesrv, tmp_path, "produce", "TopicTag", 30, "t", "TagA,TagB,TagC")
    assert all(e["status"] == 0 for e in sent)
    expected = {f"t-{e['i']}" for e in sent if e["tags"] in ("TagA", "TagC")}
    events = run_scenario(namesrv, tmp_path, "consume", "TopicTag", "CG_tag", "TagA || TagC", len(expected), 40)
    got = _received(events)
    assert {e["body"] for e in got} == expected
    assert {e["tags"] for e in got} == {"TagA", "TagC"}


def test_orderly_consumption_from_one_queue(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    sent = run_scenario(namesrv, tmp_path, "produce_orderly", "TopicOrder", 50, "o")
    assert [e["offset"] for e in sent] == sorted(e["offset"] for e in sent)
    events = run_scenario(namesrv, tmp_path, "consume", "TopicOrder", "CG_order", "*", 50, 60, "orderly")
    got = _received(events)
    assert [e["body"] for e in got] == [f"o-{i}" for i in range(50)]
    assert {e["queue_id"] for e in got} == {0}


def test_delayed_message_arrives_after_its_delay(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    # The fixture broker runs messageDelayLevel "1s 2s ..."; level 2 is 2 s.
    run_scenario(namesrv, tmp_path, "produce_delayed", "TopicDelay", "d", 2)
    events = run_scenario(namesrv, tmp_path, "consume", "TopicDelay", "CG_delay", "*", 1, 60)
    [msg] = _received(events)
    # The broker re-puts the message when due: its store time is at least the delay after birth.
    assert msg["store_ms"] - msg["born_ms"] >= 2000 - 100


def test_failing_consumer_gets_messages_back_through_retry_topic(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    run_scenario(namesrv, tmp_path, "produce", "TopicRetry", 3, "r")
    events = run_scenario(namesrv, tmp_path, "consume", "TopicRetry", "CG_retry", "*", 3, 90, "fail_first")
    assert {e["body"] for e in events if e["event"] == "reconsume_later"} == {"r-0", "r-1", "r-2"}
    got = _received(events)
    assert {e["body"] for e in got} == {"r-0", "r-1", "r-2"}
    assert all(e["reconsume_times"] == 1 for e in got)


def test_sql92_filter_on_messages_from_the_cpp_producer(namesrv: ServerProcess, broker: ServerProcess, tmp_path: Path) -> None:
    # librocketmq 2.1.0's C API subscribes by tag only, so the C++ client produces (tags TagA/TagB/TagC
    # cycling, user property baiLi=i) and rmqcore's own consumer subscribes with the seed's SQL92 selector.
    sent = run_scenario(namesrv, tmp_path, "produce", "TopicSql", 15, "s", "TagA,TagB,TagC")
    assert all(e["status"] == 0 for e in sent)
    example = Path(__file__).resolve().parents[2] / "examples" / "filter" / "sql_filter_consumer.py"
    env = dict(os.environ, NAMESRV_ADDR=namesrv.addr)
    proc = subprocess.run(
        [sys.executable, str(example), "--topic", "TopicSql", "--group", "CG_sql", "--count", "3", "--timeout", "60"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    received = sorted(int(m) for m in re.findall(r"baiLi=(\d+)", proc.stdout))
    assert received == [0, 2, 3]
