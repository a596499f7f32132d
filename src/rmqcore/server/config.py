"""Broker and name-server configuration, read from RocketMQ's own property files.

Key names are RocketMQ's (``brokerName``, ``mapedFileSizeCommitLog`` ...), so a
``broker.conf`` written for Apache RocketMQ loads unchanged. Unknown keys are
logged once and ignored; a bad value stops start-up with a message naming the key.
Defaults are those of reference section 11.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from rmqcore.server.properties_file import parse_properties

log = structlog.get_logger(__name__)


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().upper()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return value

    return parse


def _delete_when(text: str) -> str:
    for part in text.split(";"):
        hour = int(part)
        if not 0 <= hour <= 23:
            raise ValueError(f"hours must be 00-23, got {part!r}")
    return text.strip()


def _ratio(text: str) -> int:
    value = int(text)
    if not 10 <= value <= 95:
        # RocketMQ clamps diskMaxUsedSpaceRatio into [10, 95].
        raise ValueError(f"must be between 10 and 95, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be positive, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"not a TCP port: {value}")
    return value


def _opt(*keys: str, parse: Callable[[str], Any] = str) -> dict[str, Any]:
    return {"keys": keys, "parse": parse}


def _default_broker_name() -> str:
    try:
        return socket.gethostname() or "DEFAULT_BROKER"
    except OSError:
        return "DEFAULT_BROKER"


@dataclass
class BrokerConfig:
    """Everything a broker reads at start-up; field metadata lists the RocketMQ key names."""

    broker_cluster_name: str = field(default="DefaultCluster", metadata=_opt("brokerClusterName"))
    broker_name: str = field(default_factory=_default_broker_name, metadata=_opt("brokerName"))
    broker_id: int = field(default=0, metadata=_opt("brokerId", parse=int))
    namesrv_addr: str = field(default="", metadata=_opt("namesrvAddr"))
    listen_port: int = field(default=10911, metadata=_opt("listenPort", parse=_port))
    broker_ip1: str = field(default="127.0.0.1", metadata=_opt("brokerIP1"))
    broker_ip2: str = field(default="", metadata=_opt("brokerIP2"))
    bind_host: str = field(default="127.0.0.1", metadata=_opt("bindAddress"))
    broker_role: str = field(
        default="ASYNC_MASTER", metadata=_opt("brokerRole", parse=_choice("ASYNC_MASTER", "SYNC_MASTER", "SLAVE"))
    )
    store_path_root_dir: str = field(
        default_factory=lambda: str(Path.home() / "store"), metadata=_opt("storePathRootDir")
    )
    store_path_commit_log: str = field(default="", metadata=_opt("storePathCommitLog"))
    store_path_consume_queue: str = field(default="", metadata=_opt("storePathConsumeQueue"))
    store_path_index: str = field(default="", metadata=_opt("storePathIndex"))
    store_checkpoint: str = field(default="", metadata=_opt("storeCheckpoint"))
    abort_file: str = field(default="", metadata=_opt("abortFile"))
    mapped_file_size_commit_log: int = field(
        default=1_073_741_824, metadata=_opt("mappedFileSizeCommitLog", "mapedFileSizeCommitLog", parse=_positive)
    )
    mapped_file_size_consume_queue: int = field(
        default=6_000_000, metadata=_opt("mappedFileSizeConsumeQueue", "mapedFileSizeConsumeQueue", parse=_positive)
    )
    delete_when: str = field(default="04", metadata=_opt("deleteWhen", parse=_delete_when))
    file_reserved_time: int = field(default=72, metadata=_opt("fileReservedTime", parse=_positive))
    disk_max_used_space_ratio: int = field(default=75, metadata=_opt("diskMaxUsedSpaceRatio", parse=_ratio))
    max_message_size: int = field(default=4_194_304, metadata=_opt("maxMessageSize", parse=_positive))
    flush_disk_type: str = field(
        default="ASYNC_FLUSH", metadata=_opt("flushDiskType", parse=_choice("ASYNC_FLUSH", "SYNC_FLUSH"))
    )
    flush_interval_commit_log: int = field(default=500, metadata=_opt("flushIntervalCommitLog", parse=_positive))
    flush_commit_log_least_pages: int = field(default=4, metadata=_opt("flushCommitLogLeastPages", parse=int))
    max_hash_slot_num: int = field(default=5_000_000, metadata=_opt("maxHashSlotNum", parse=_positive))
    max_index_num: int = field(default=20_000_000, metadata=_opt("maxIndexNum", parse=_positive))
    default_topic_queue_nums: int = field(default=8, metadata=_opt("defaultTopicQueueNums", parse=_positive))
    auto_create_topic_enable: bool = field(default=True, metadata=_opt("autoCreateTopicEnable", parse=_parse_bool))
    auto_create_subscription_group: bool = field(
        default=True, metadata=_opt("autoCreateSubscriptionGroup", parse=_parse_bool)
    )
    enable_property_filter: bool = field(default=False, metadata=_opt("enablePropertyFilter", parse=_parse_bool))
    filter_support_retry: bool = field(default=False, metadata=_opt("filterSupportRetry", parse=_parse_bool))
    message_delay_level: str = field(
        default="1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", metadata=_opt("messageDelayLevel")
    )
    timer_wheel_enable: bool = field(default=True, metadata=_opt("timerWheelEnable", parse=_parse_bool))
    timer_precision_ms: int = field(default=1000, metadata=_opt("timerPrecisionMs", parse=_positive))
    timer_max_delay_sec: int = field(default=259_200, metadata=_opt("timerMaxDelaySec", parse=_positive))
    transaction_time_out: int = field(default=6000, metadata=_opt("transactionTimeOut", parse=int))
    transaction_check_max: int = field(default=15, metadata=_opt("transactionCheckMax", parse=int))
    transaction_check_interval: int = field(default=30_000, metadata=_opt("transactionCheckInterval", parse=_positive))
    offset_check_in_slave: bool = field(default=False, metadata=_opt("offsetCheckInSlave", parse=_parse_bool))
    reject_transaction_message: bool = field(
        default=False, metadata=_opt("rejectTransactionMessage", parse=_parse_bool)
    )
    # A reply (SEND_REPLY_MESSAGE) is pushed to its requester and also stored in the reply topic.
    store_reply_message_enable: bool = field(
        default=True, metadata=_opt("storeReplyMessageEnable", parse=_parse_bool)
    )
    long_polling_enable: bool = field(default=True, metadata=_opt("longPollingEnable", parse=_parse_bool))
    short_polling_time_mills: int = field(default=1000, metadata=_opt("shortPollingTimeMills", parse=_positive))
    flush_consumer_offset_interval: int = field(
        default=5000, metadata=_opt("flushConsumerOffsetInterval", parse=_positive)
    )
    register_name_server_period: int = field(
        default=30_000, metadata=_opt("registerNameServerPeriod", parse=_positive)
    )
    retry_max_times: int = field(default=16, metadata=_opt("retryMaxTimes", parse=int))
    max_frame_size: int = field(default=16_777_216, metadata=_opt("maxFrameSize", parse=_positive))

    # -- derived paths (RocketMQ's defaults under storePathRootDir) -----------------------
    @property
    def store_root(self) -> Path:
        return Path(os.path.expanduser(self.store_path_root_dir))

    @property
    def config_dir(self) -> Path:
        return self.store_root / "config"

    @property
    def broker_addr(self) -> str:
        return f"{self.broker_ip1}:{self.listen_port}"

    @property
    def namesrv_addrs(self) -> list[str]:
        return [a.strip() for a in self.namesrv_addr.split(";") if a.strip()]


@dataclass
class NamesrvConfig:
    listen_port: int = field(default=9876, metadata=_opt("listenPort", parse=_port))
    bind_host: str = field(default="127.0.0.1", metadata=_opt("bindAddress"))
    broker_expiry_ms: int = field(default=120_000, metadata=_opt("brokerChannelExpiredTime", parse=_positive))
    scan_interval_ms: int = field(default=5000, metadata=_opt("scanNotActiveBrokerInterval", parse=_positive))
    enable_all_topic_list: bool = field(default=True, metadata=_opt("enableAllTopicList", parse=_parse_bool))
    kv_config_path: str = field(
        default_factory=lambda: str(Path.home() / "namesrv" / "kvConfig.json"), metadata=_opt("kvConfigPath")
    )


_KNOWN_BUT_UNUSED = frozenset(
    {
        "haListenPort",
        "haMasterAddress",
        "rocketmqHome",
        "kvConfigPath",
        "configStorePath",
        "accessMessageInMemoryMaxRatio",
        "sendMessageThreadPoolNums",
        "pullMessageThreadPoolNums",
        "useReentrantLockWhenPutMessage",
        "waitTimeMillsInSendQueue",
        "slaveReadEnable",
        "aclEnable",
        "traceTopicEnable",
        "msgTraceTopicName",
    }
)


def _key_table(cls: type) -> dict[str, dataclasses.Field[Any]]:
    table: dict[str, dataclasses.Field[Any]] = {}
    for f in dataclasses.fields(cls):
        for key in f.metadata.get("keys", ()):
            table[key] = f
    return table


def apply_properties(config: Any, values: Mapping[str, str], source: str = "<overrides>") -> Any:
    """Apply RocketMQ-named ``values`` to a config dataclass instance, in place.

    >>> cfg = apply_properties(BrokerConfig(), {"brokerName": "broker-a", "listenPort": "10921"})
    >>> cfg.broker_name, cfg.listen_port
    ('broker-a', 10921)
    """
    table = _key_table(type(config))
    for key, value in values.items():
        f = table.get(key)
        if f is None:
            if key not in _KNOWN_BUT_UNUSED:
                log.warning("config_key_unknown", key=key, source=source, action="ignored")
            continue
        try:
            parsed = f.metadata["parse"](value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{source}: bad value for {key}={value!r}: {exc}") from None
        setattr(config, f.name, parsed)
    return config


def load_config_file(config: Any, path: str | os.PathLike[str]) -> Any:
    """Load a ``.properties``/``broker.conf`` file into ``config`` (unchanged RocketMQ key names)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    parsed = parse_properties(text)
    for key, (value, line) in parsed.items():
        apply_properties(config, {key: value}, source=f"{p}:{line}")
    return config
