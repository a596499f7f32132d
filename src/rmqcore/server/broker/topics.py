"""Topic configs of one broker (RocketMQ's ``TopicConfigManager``), persisted as ``config/topics.json``.

Auto-creation follows ``createTopicInSendMessageMethod``: an unknown topic is created
from the client's ``defaultTopic`` (normally ``TBW102``) when that topic exists with
PERM_INHERIT, which it does only while ``autoCreateTopicEnable`` is on (reference
section 3, "Producer auto-create"); queue count = min(client's defaultTopicQueueNums,
default topic's write queues), perm = default perm without INHERIT.
Retry and DLQ topics are created on demand with their own queue counts (section 10).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from rmqcore.clock import Clock
from rmqcore.message import constants as C
from rmqcore.message import reply_topic
from rmqcore.remoting.bodies import TopicConfig as WireTopicConfig
from rmqcore.server.broker.persistence import DataVersion, read_json_file, write_json_atomic

log = structlog.get_logger(__name__)

TOPICS_FILE = "topics.json"
SELF_TEST_TOPIC = "SELF_TEST_TOPIC"
OFFSET_MOVED_EVENT = "OFFSET_MOVED_EVENT"
SCHEDULE_TOPIC_QUEUE_NUMS = 18  # reference section 11
PERM_RW = C.PERM_READ | C.PERM_WRITE
SINGLE_TAG = "SINGLE_TAG"
MULTI_TAG = "MULTI_TAG"


@dataclass(slots=True)
class TopicConfig(WireTopicConfig):
    """RocketMQ's ``TopicConfig`` (the wire body's fields and JSON), plus the permission checks."""

    @property
    def readable(self) -> bool:
        return bool(self.perm & C.PERM_READ)

    @property
    def writeable(self) -> bool:
        return bool(self.perm & C.PERM_WRITE)


def system_topic_configs(
    *,
    cluster_name: str,
    broker_name: str,
    auto_create_topic_enable: bool,
    default_topic_queue_nums: int,
) -> list[TopicConfig]:
    """Topics every broker starts with (``TopicConfigManager`` constructor)."""
    topics = [
        TopicConfig(SELF_TEST_TOPIC, 1, 1),
        TopicConfig(OFFSET_MOVED_EVENT, 1, 1),
        TopicConfig(C.SCHEDULE_TOPIC, SCHEDULE_TOPIC_QUEUE_NUMS, SCHEDULE_TOPIC_QUEUE_NUMS),
        TopicConfig(C.TIMER_TOPIC, 1, 1),
        TopicConfig(C.TRANS_HALF_TOPIC, 1, 1),
        TopicConfig(C.TRANS_OP_HALF_TOPIC, 1, 1),
        TopicConfig(C.TRANS_CHECK_MAX_TIME_TOPIC, 1, 1),
        # Request-reply: replies are stored in "<cluster>_REPLY_TOPIC", one queue.
        TopicConfig(reply_topic(cluster_name), 1, 1),
        # Cluster and broker-name topics: INHERIT|R|W (cluster/broker topic enabled by default).
        TopicConfig(cluster_name, 16, 16, C.PERM_INHERIT | PERM_RW),
        TopicConfig(broker_name, 1, 1, C.PERM_INHERIT | PERM_RW),
    ]
    if auto_create_topic_enable:
        # TBW102 with perm 7 so producers may inherit it (reference section 3).
        topics.append(
            TopicConfig(
                C.AUTO_CREATE_TOPIC_KEY_TOPIC,
                default_topic_queue_nums,
                default_topic_queue_nums,
                C.PERM_INHERIT | PERM_RW,
            )
        )
    return topics


class TopicConfigManager:
    """Thread-safe table of topic configs; every change is persisted at once (topics change rarely)."""

    def __init__(
        self,
        config_dir: Path,
        clock: Clock,
        *,
        system_topics: list[TopicConfig] = (),  # type: ignore[assignment]
        auto_create_topic_enable: bool = True,
    ) -> None:
        self.path = Path(config_dir) / TOPICS_FILE
        self._clock = clock
        self._lock = threading.RLock()
        self._table: dict[str, TopicConfig] = {}
        self.data_version = DataVersion()
        self._auto_create = auto_create_topic_enable
        self._system_topics = {t.topic_name for t in system_topics}
        for t in system_topics:
            self._table[t.topic_name] = t
        # Called with the created TopicConfig so the broker can register with name servers at once.
        self.on_created: Callable[[TopicConfig], None] | None = None

    # -- persistence ---------------------------------------------------------------------
    def load(self) -> None:
        data = read_json_file(self.path)
        if not data:
            return
        with self._lock:
            for name, raw in (data.get("topicConfigTable") or {}).items():
                try:
                    self._table[name] = TopicConfig.from_json({"topicName": name, **raw})
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("topic_config_skipped", topic=name, error=str(exc), path=str(self.path))
            if not self._auto_create:
                # TBW102 persisted by an earlier run must not keep auto-create alive.
                self._table.pop(C.AUTO_CREATE_TOPIC_KEY_TOPIC, None)
            self.data_version = DataVersion.from_json(data.get("dataVersion"))
        log.info("topic_configs_loaded", path=str(self.path), topics=len(self._table))

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "dataVersion": self.data_version.to_json(),
                "topicConfigTable": {name: tc.to_json() for name, tc in sorted(self._table.items())},
            }

    def persist(self) -> None:
        write_json_atomic(self.path, self.to_json())

    # -- look-ups -------------------------------------------------------------------------
    def select(self, topic: str) -> TopicConfig | None:
        return self._table.get(topic)

    def __contains__(self, topic: str) -> bool:
        return topic in self._table

    def topics(self) -> list[TopicConfig]:
        with self._lock:
            return list(self._table.values())

    def is_system_topic(self, topic: str) -> bool:
        return topic in self._system_topics

    # -- changes --------------------------------------------------------------------------
    def update(self, config: TopicConfig) -> None:
        """UPDATE_AND_CREATE_TOPIC: replace or add ``config`` and persist."""
        with self._lock:
            old = self._table.get(config.topic_name)
            self._table[config.topic_name] = config
            self.data_version.next_version(self._clock)
            self.persist()
        log.info("topic_config_updated", topic=config.topic_name, old=old and old.to_json(), new=config.to_json())

    def delete(self, topic: str) -> TopicConfig | None:
        with self._lock:
            old = self._table.pop(topic, None)
            if old is not None:
                self.data_version.next_version(self._clock)
                self.persist()
        return old

    def create_in_send(
        self, topic: str, default_topic: str | None, client_default_queue_nums: int, topic_sys_flag: int = 0
    ) -> TopicConfig | None:
        """``createTopicInSendMessageMethod``: the new config, or None when the default topic does not allow it."""
        with self._lock:
            existing = self._table.get(topic)
            if existing is not None:
                return existing
            default = self._table.get(default_topic or C.AUTO_CREATE_TOPIC_KEY_TOPIC)
            if default is None or not default.perm & C.PERM_INHERIT:
                return None
            if default_topic == C.AUTO_CREATE_TOPIC_KEY_TOPIC and not self._auto_create:
                return None
            queue_nums = max(1, min(client_default_queue_nums or default.write_queue_nums, default.write_queue_nums))
            config = TopicConfig(
                topic,
                queue_nums,
                queue_nums,
                default.perm & ~C.PERM_INHERIT,
                topic_sys_flag=topic_sys_flag,
            )
            self._created(config)
        log.info("topic_auto_created", topic=topic, default_topic=default_topic, queues=queue_nums)
        return config

    def create_in_send_back(self, topic: str, queue_nums: int, perm: int, topic_sys_flag: int = 0) -> TopicConfig:
        """``createTopicInSendMessageBackMethod``: retry/DLQ topics, created whatever auto-create says."""
        with self._lock:
            existing = self._table.get(topic)
            if existing is not None:
                return existing
            config = TopicConfig(topic, queue_nums, queue_nums, perm, topic_sys_flag=topic_sys_flag)
            self._created(config)
        log.info("topic_created_for_retry", topic=topic, queues=queue_nums)
        return config

    def _created(self, config: TopicConfig) -> None:
        self._table[config.topic_name] = config
        self.data_version.next_version(self._clock)
        self.persist()
        if self.on_created is not None:
            self.on_created(config)
