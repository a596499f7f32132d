"""Unit tests of the broker's bookkeeping: topics, groups, offsets, members, locks, store lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmqcore.clock import FakeClock
from rmqcore.message import MessageQueue
from rmqcore.message import constants as C
from rmqcore.server.broker.consumers import ClientChannelInfo, ConsumerManager
from rmqcore.server.broker.locks import QueueLockManager
from rmqcore.server.broker.offsets import ConsumerOffsetManager
from rmqcore.server.broker.persistence import loads_tolerant, read_json_file, write_json_atomic
from rmqcore.server.broker.producers import ProducerManager
from rmqcore.server.broker.store_lock import StoreDirLock, StoreLockedError
from rmqcore.server.broker.subscriptions import SubscriptionGroupManager
from rmqcore.server.broker.topics import TopicConfig, TopicConfigManager, system_topic_configs


def _topics(tmp_path: Path, auto: bool = True) -> TopicConfigManager:
    system = system_topic_configs(
        cluster_name="DefaultCluster", broker_name="broker-a", auto_create_topic_enable=auto, default_topic_queue_nums=8
    )
    return TopicConfigManager(tmp_path / "config", FakeClock(1_000), system_topics=system, auto_create_topic_enable=auto)


# -- topics ------------------------------------------------------------------------------
def test_auto_create_inherits_tbw102_and_persists(tmp_path: Path) -> None:
    topics = _topics(tmp_path)
    created: list[TopicConfig] = []
    topics.on_created = created.append
    tbw = topics.select(C.AUTO_CREATE_TOPIC_KEY_TOPIC)
    assert tbw is not None and tbw.perm == 7 and tbw.write_queue_nums == 8
    config = topics.create_in_send("OrderTopic", "TBW102", 4)
    assert config is not None
    assert (config.read_queue_nums, config.write_queue_nums, config.perm) == (4, 4, 6)
    assert created == [config]
    # Client asking for more queues than TBW102 has gets TBW102's count.
    assert topics.create_in_send("Wide", "TBW102", 64).write_queue_nums == 8

    data = json.loads((tmp_path / "config" / "topics.json").read_text())
    assert data["topicConfigTable"]["OrderTopic"] == {
        "attributes": {},
        "order": False,
        "perm": 6,
        "readQueueNums": 4,
        "topicFilterType": "SINGLE_TAG",
        "topicName": "OrderTopic",
        "topicSysFlag": 0,
        "writeQueueNums": 4,
    }
    assert data["dataVersion"]["counter"] == 2

    reloaded = _topics(tmp_path)
    reloaded.load()
    assert reloaded.select("OrderTopic") == config


def test_auto_create_off_refuses_and_drops_persisted_tbw102(tmp_path: Path) -> None:
    _topics(tmp_path).persist()  # an earlier run with auto-create on wrote TBW102
    topics = _topics(tmp_path, auto=False)
    topics.load()
    assert topics.select("TBW102") is None
    assert topics.create_in_send("Nope", "TBW102", 4) is None
    assert topics.select("Nope") is None
    retry = topics.create_in_send_back("%RETRY%G", 1, 6)
    assert (retry.read_queue_nums, retry.perm) == (1, 6)


def test_schedule_topic_has_18_queues(tmp_path: Path) -> None:
    assert _topics(tmp_path).select(C.SCHEDULE_TOPIC).write_queue_nums == 18


# -- subscription groups -----------------------------------------------------------------
def test_subscription_group_auto_create_and_file(tmp_path: Path) -> None:
    groups = SubscriptionGroupManager(tmp_path, FakeClock(0), auto_create=True)
    g = groups.find_or_create("CG")
    assert g is not None and g.retry_max_times == 16 and g.retry_queue_nums == 1
    data = json.loads((tmp_path / "subscriptionGroup.json").read_text())
    assert data["subscriptionGroupTable"]["CG"]["groupName"] == "CG"
    assert data["subscriptionGroupTable"]["CG"]["retryMaxTimes"] == 16
    again = SubscriptionGroupManager(tmp_path, FakeClock(0), auto_create=False)
    again.load()
    assert again.find_or_create("CG") == g
    assert again.find_or_create("Other") is None


# -- offsets ------------------------------------------------------------------------------
def test_offsets_file_format_and_reload(tmp_path: Path) -> None:
    clock = FakeClock(123)
    offsets = ConsumerOffsetManager(tmp_path, clock)
    assert offsets.persist() is False  # nothing to write
    offsets.commit("G", "T", 0, 10)
    offsets.commit("G", "T", 3, 7)
    offsets.commit("G2", "%RETRY%G2", 0, 1)
    assert offsets.persist() is True
    data = json.loads((tmp_path / "consumerOffset.json").read_text())
    assert data["offsetTable"] == {"T@G": {"0": 10, "3": 7}, "%RETRY%G2@G2": {"0": 1}}
    assert data["dataVersion"] == {"stateVersion": 0, "timestamp": 123, "counter": 1}
    reloaded = ConsumerOffsetManager(tmp_path, clock)
    reloaded.load()
    assert (reloaded.query("G", "T", 3), reloaded.query("G", "T", 1), reloaded.query("X", "T", 0)) == (7, -1, -1)


def test_offsets_read_fastjson_unquoted_keys(tmp_path: Path) -> None:
    (tmp_path / "consumerOffset.json").write_text(
        '{"offsetTable":{"TopicTest@please_rename_unique_group_name_4":{0:250,1:249}},'
        '"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1}}'
    )
    offsets = ConsumerOffsetManager(tmp_path, FakeClock(0))
    offsets.load()
    assert offsets.query("please_rename_unique_group_name_4", "TopicTest", 1) == 249
    assert loads_tolerant('{"a":{12:1, -1:2}}') == {"a": {"12": 1, "-1": 2}}


def test_corrupt_file_falls_back_to_backup(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    path.write_text("{truncated")
    assert read_json_file(path) == {"v": 1}


# -- consumers ------------------------------------------------------------------------------
class _Sub:
    def __init__(self, topic: str, version: int = 1) -> None:
        self.topic = topic
        self.sub_version = version


def _register(manager: ConsumerManager, channel: str, client_id: str, now: int, topics=("T",)) -> bool:
    return manager.register(
        "CG",
        ClientChannelInfo(channel, client_id, last_update_ms=now),
        consume_type="CONSUME_PASSIVELY",
        message_model="CLUSTERING",
        consume_from_where="CONSUME_FROM_LAST_OFFSET",
        subscriptions=[_Sub(t) for t in topics],
    )


def test_consumer_join_leave_notifies_group() -> None:
    manager = ConsumerManager()
    notified: list[tuple[str, list]] = []
    manager.on_ids_changed = lambda group, channels: notified.append((group, sorted(channels)))
    assert _register(manager, "ch1", "c1", 0) is True
    assert _register(manager, "ch2", "c2", 0) is True
    assert _register(manager, "ch2", "c2", 10) is False  # a plain heartbeat changes nothing
    assert notified == [("CG", ["ch1"]), ("CG", ["ch1", "ch2"])]
    assert sorted(manager.consumer_ids("CG")) == ["c1", "c2"]
    assert manager.channel_closed("ch1") == ["CG"]
    assert notified[-1] == ("CG", ["ch2"])
    assert manager.unregister("CG", "ch2") is True
    assert manager.consumer_ids("CG") is None
    assert len(notified) == 3  # nobody left to tell


def test_consumer_subscription_change_notifies() -> None:
    manager = ConsumerManager()
    notified: list[str] = []
    manager.on_ids_changed = lambda group, channels: notified.append(group)
    _register(manager, "ch1", "c1", 0, topics=("T",))
    _register(manager, "ch1", "c1", 0, topics=("T", "U"))
    assert manager.find_subscription("CG", "U") is not None
    assert len(notified) == 2


def test_consumer_expiry_after_120s_without_heartbeat() -> None:
    manager = ConsumerManager()
    notified: list[list] = []
    manager.on_ids_changed = lambda group, channels: notified.append(channels)
    _register(manager, "old", "c1", 0)
    _register(manager, "fresh", "c2", 100_000)
    assert manager.scan_not_active(120_000) == []
    assert manager.scan_not_active(120_001) == ["old"]
    assert manager.consumer_ids("CG") == ["c2"]
    assert notified[-1] == ["fresh"]


# -- producers ------------------------------------------------------------------------------
def test_producer_channels_for_check_back() -> None:
    producers = ProducerManager()
    assert producers.available_channel("PG") is None
    producers.register("PG", ClientChannelInfo("p1", "cid1", last_update_ms=0))
    producers.register("PG", ClientChannelInfo("p2", "cid2", last_update_ms=50_000))
    assert {producers.available_channel("PG") for _ in range(4)} == {"p1", "p2"}
    assert producers.scan_not_active(120_001) == ["p1"]
    assert producers.available_channel("PG") == "p2"
    assert producers.channel_closed("p2") == ["PG"]
    assert producers.groups() == {}


# -- locks ----------------------------------------------------------------------------------
def test_locks_exclusive_renewed_and_expiring() -> None:
    clock = FakeClock(0)
    locks = QueueLockManager(clock)
    q0, q1 = MessageQueue("T", "b", 0), MessageQueue("T", "b", 1)
    assert locks.try_lock_batch("G", [q0, q1], "c1") == {q0, q1}
    assert locks.try_lock_batch("G", [q0, q1], "c2") == set()
    assert locks.try_lock_batch("OtherGroup", [q0], "c2") == {q0}
    clock.advance(40_000)
    assert locks.try_lock_batch("G", [q0], "c1") == {q0}  # renews q0 only
    clock.advance(30_000)  # q1 now 70 s old, q0 30 s
    assert locks.try_lock_batch("G", [q0, q1], "c2") == {q1}
    assert locks.is_locked("G", q1, "c2") and not locks.is_locked("G", q1, "c1")
    locks.unlock_batch("G", [q0, q1], "c2")  # c2 may not release c1's q0
    assert locks.try_lock_batch("G", [q0, q1], "c3") == {q1}
    clock.advance(60_001)
    assert locks.remove_expired() == 3
    assert not locks.has_live_lock("G")


# -- store lock -------------------------------------------------------------------------------
def test_store_lock_refuses_second_holder(tmp_path: Path) -> None:
    first = StoreDirLock(tmp_path)
    first.acquire()
    with pytest.raises(StoreLockedError, match="in use by another broker"):
        StoreDirLock(tmp_path).acquire()
    first.release()
    with StoreDirLock(tmp_path) as second:
        assert second.held
