"""Broker configuration from RocketMQ-style property files."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from rmqcore.server.config import BrokerConfig, ConfigError, NamesrvConfig, apply_properties, load_config_file
from rmqcore.server.properties_file import parse_properties

# The seed's broker-a.properties / broker.conf style, unchanged.
BROKER_CONF = """\
# Licensed to the Apache Software Foundation (ASF)
brokerClusterName = DefaultCluster
brokerName = broker-a
brokerId = 0
deleteWhen = 04
fileReservedTime = 48
brokerRole = ASYNC_MASTER
flushDiskType = ASYNC_FLUSH
namesrvAddr=127.0.0.1:9876;127.0.0.2:9876
listenPort=10911
storePathRootDir=/tmp/rmqstore/broker-a
storePathCommitLog=/tmp/rmqstore/broker-a/commitlog
mapedFileSizeCommitLog=1073741824
mapedFileSizeConsumeQueue=300000
diskMaxUsedSpaceRatio=88
maxMessageSize=65536
defaultTopicQueueNums=4
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
enablePropertyFilter=true
filterSupportRetry=true
messageDelayLevel=1s 5s 10s
transactionCheckMax=3
brokerIP1=127.0.0.1
"""


def test_seed_broker_conf_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "broker.conf"
    path.write_text(BROKER_CONF)
    cfg = load_config_file(BrokerConfig(), path)
    assert cfg.broker_cluster_name == "DefaultCluster"
    assert cfg.broker_name == "broker-a"
    assert cfg.broker_id == 0
    assert cfg.file_reserved_time == 48
    assert cfg.namesrv_addrs == ["127.0.0.1:9876", "127.0.0.2:9876"]
    assert cfg.mapped_file_size_commit_log == 1073741824
    assert cfg.mapped_file_size_consume_queue == 300000
    assert cfg.disk_max_used_space_ratio == 88
    assert cfg.max_message_size == 65536
    assert cfg.default_topic_queue_nums == 4
    assert cfg.enable_property_filter is True and cfg.filter_support_retry is True
    assert cfg.message_delay_level == "1s 5s 10s"
    assert cfg.transaction_check_max == 3
    assert cfg.store_root == Path("/tmp/rmqstore/broker-a")
    assert cfg.broker_addr == "127.0.0.1:10911"


def test_defaults_follow_reference_section_11() -> None:
    cfg = BrokerConfig()
    assert (cfg.listen_port, cfg.default_topic_queue_nums, cfg.max_message_size) == (10911, 8, 4_194_304)
    assert (cfg.flush_disk_type, cfg.broker_role, cfg.delete_when) == ("ASYNC_FLUSH", "ASYNC_MASTER", "04")
    assert (cfg.file_reserved_time, cfg.disk_max_used_space_ratio) == (72, 75)
    assert (cfg.transaction_time_out, cfg.transaction_check_max, cfg.transaction_check_interval) == (6000, 15, 30000)
    assert cfg.enable_property_filter is False and cfg.auto_create_topic_enable is True
    assert NamesrvConfig().listen_port == 9876 and NamesrvConfig().broker_expiry_ms == 120_000


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("listenPort", "abc"),
        ("listenPort", "70000"),
        ("brokerRole", "LEADER"),
        ("flushDiskType", "SOMETIMES"),
        ("deleteWhen", "25"),
        ("diskMaxUsedSpaceRatio", "99"),
        ("autoCreateTopicEnable", "maybe"),
        ("maxMessageSize", "-1"),
    ],
)
def test_bad_value_names_the_key_and_line(tmp_path: Path, key: str, value: str) -> None:
    path = tmp_path / "broker.conf"
    path.write_text(f"brokerName=b\n{key}={value}\n")
    with pytest.raises(ConfigError, match=rf"broker.conf:2: bad value for {key}="):
        load_config_file(BrokerConfig(), path)


def test_unknown_key_is_logged_and_ignored() -> None:
    with capture_logs() as logs:
        cfg = apply_properties(BrokerConfig(), {"noSuchKey": "1", "brokerName": "x"})
    assert cfg.broker_name == "x"
    assert [e["key"] for e in logs if e["event"] == "config_key_unknown"] == ["noSuchKey"]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config_file(BrokerConfig(), tmp_path / "nope.conf")


def test_java_properties_syntax() -> None:
    text = "a=1\n! bang comment\nb : two\nc three\nd = x\\\n    y\ne=\\u0041\\tB\nkey\\ with\\ space=v\n"
    parsed = {k: v for k, (v, _) in parse_properties(text).items()}
    assert parsed == {"a": "1", "b": "two", "c": "three", "d": "xy", "e": "A\tB", "key with space": "v"}
