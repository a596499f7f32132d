"""Subscription-group configs (RocketMQ's ``SubscriptionGroupManager``), persisted as ``config/subscriptionGroup.json``.

A group is auto-created on first use while ``autoCreateSubscriptionGroup`` is on. Its
``retryMaxTimes`` (default 16) bounds redelivery before the DLQ and ``retryQueueNums``
(default 1) sizes ``%RETRY%group`` (reference section 10).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from rmqcore.clock import Clock
from rmqcore.server.broker.persistence import DataVersion, read_json_file, write_json_atomic

log = structlog.get_logger(__name__)

SUBSCRIPTION_GROUP_FILE = "subscriptionGroup.json"


@dataclass
class SubscriptionGroupConfig:
    """RocketMQ's ``SubscriptionGroupConfig``; ``to_json`` gives its fastjson field names."""

    group_name: str
    consume_enable: bool = True
    consume_from_min_enable: bool = True
    consume_broadcast_enable: bool = True
    consume_message_orderly: bool = False
    retry_queue_nums: int = 1
    retry_max_times: int = 16
    broker_id: int = 0
    which_broker_when_consume_slowly: int = 1
    notify_consumer_ids_changed_enable: bool = True
    group_sys_flag: int = 0
    consume_timeout_minute: int = 15
    attributes: dict[str, str] = field(default_factory=dict)

    _FIELDS = (
        ("group_name", "groupName"),
        ("consume_enable", "consumeEnable"),
        ("consume_from_min_enable", "consumeFromMinEnable"),
        ("consume_broadcast_enable", "consumeBroadcastEnable"),
        ("consume_message_orderly", "consumeMessageOrderly"),
        ("retry_queue_nums", "retryQueueNums"),
        ("retry_max_times", "retryMaxTimes"),
        ("broker_id", "brokerId"),
        ("which_broker_when_consume_slowly", "whichBrokerWhenConsumeSlowly"),
        ("notify_consumer_ids_changed_enable", "notifyConsumerIdsChangedEnable"),
        ("group_sys_flag", "groupSysFlag"),
        ("consume_timeout_minute", "consumeTimeoutMinute"),
        ("attributes", "attributes"),
    )

    def to_json(self) -> dict[str, Any]:
        return {json_name: getattr(self, attr) for attr, json_name in self._FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubscriptionGroupConfig:
        config = cls(group_name=str(data["groupName"]))
        for attr, json_name in cls._FIELDS[1:]:
            if json_name in data and data[json_name] is not None:
                default = getattr(config, attr)
                value = data[json_name]
                if isinstance(default, bool):
                    value = value if isinstance(value, bool) else str(value).lower() == "true"
                elif isinstance(default, int):
                    value = int(value)
                elif isinstance(default, dict):
                    value = {str(k): str(v) for k, v in dict(value).items()}
                setattr(config, attr, value)
        return config


class SubscriptionGroupManager:
    """Thread-safe table of subscription groups; changes persist at once."""

    def __init__(self, config_dir: Path, clock: Clock, *, auto_create: bool = True, retry_max_times: int = 16) -> None:
        self.path = Path(config_dir) / SUBSCRIPTION_GROUP_FILE
        self._clock = clock
        self._lock = threading.Lock()
        self._table: dict[str, SubscriptionGroupConfig] = {}
        self.data_version = DataVersion()
        self.auto_create = auto_create
        self._retry_max_times = retry_max_times

    def load(self) -> None:
        data = read_json_file(self.path)
        if not data:
            return
        with self._lock:
            for name, raw in (data.get("subscriptionGroupTable") or {}).items():
                try:
                    self._table[name] = SubscriptionGroupConfig.from_json({"groupName": name, **raw})
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("subscription_group_skipped", group=name, error=str(exc), path=str(self.path))
            self.data_version = DataVersion.from_json(data.get("dataVersion"))

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "dataVersion": self.data_version.to_json(),
                "subscriptionGroupTable": {n: g.to_json() for n, g in sorted(self._table.items())},
            }

    def persist(self) -> None:
        write_json_atomic(self.path, self.to_json())

    def get(self, group: str) -> SubscriptionGroupConfig | None:
        return self._table.get(group)

    def find_or_create(self, group: str) -> SubscriptionGroupConfig | None:
        """``findSubscriptionGroupConfig``: the group, auto-created when allowed, else None."""
        config = self._table.get(group)
        if config is not None or not self.auto_create:
            return config
        with self._lock:
            config = self._table.get(group)
            if config is None:
                config = SubscriptionGroupConfig(group, retry_max_times=self._retry_max_times)
                self._table[group] = config
                self.data_version.next_version(self._clock)
                created = True
            else:
                created = False
        if created:
            log.info("subscription_group_auto_created", group=group)
            self.persist()
        return config

    def update(self, config: SubscriptionGroupConfig) -> None:
        with self._lock:
            self._table[config.group_name] = config
            self.data_version.next_version(self._clock)
        self.persist()

    def groups(self) -> list[SubscriptionGroupConfig]:
        return list(self._table.values())
