"""The name server's routing table: registration, routes, expiry, channel loss."""

from __future__ import annotations

from pathlib import Path

from rmqcore.clock import FakeClock
from rmqcore.server.namesrv.kv_config import KVConfigManager
from rmqcore.remoting.bodies import DataVersion, TopicConfig
from rmqcore.server.namesrv.route_info import RouteInfoManager

TOPICS = {"TopicTest": TopicConfig("TopicTest", 4, 4, 6), "TBW102": TopicConfig("TBW102", 8, 8, 7)}


def _register(routes: RouteInfoManager, name: str, addr: str, topics=TOPICS, version=1, broker_id=0, channel=None):
    return routes.register_broker("DefaultCluster", addr, name, broker_id, addr, topics, DataVersion(counter=version), channel)


def test_route_lists_every_broker_serving_the_topic() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    _register(routes, "broker-a", "127.0.0.1:10911")
    _register(routes, "broker-b", "127.0.0.1:10921", {"TopicTest": TopicConfig("TopicTest", 2, 2, 6)})
    route = routes.topic_route("TopicTest")
    assert route is not None
    assert [b.broker_name for b in route.broker_datas] == ["broker-a", "broker-b"]
    assert [(q.broker_name, q.write_queue_nums) for q in route.queue_datas] == [("broker-a", 4), ("broker-b", 2)]
    assert route.broker_datas[1].broker_addrs == {0: "127.0.0.1:10921"}
    assert b'"brokerAddrs":{"0":"127.0.0.1:10921"}' in route.encode()
    assert routes.topic_route("Missing") is None
    assert routes.topic_list().topic_list == ["TBW102", "TopicTest"]
    assert routes.cluster_info().cluster_addr_table == {"DefaultCluster": ["broker-a", "broker-b"]}


def test_reregistration_with_new_data_version_replaces_topics() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    _register(routes, "broker-a", "127.0.0.1:10911")
    _register(routes, "broker-a", "127.0.0.1:10911", {"Other": TopicConfig("Other", 1, 1, 6)}, version=2)
    assert routes.topic_route("TopicTest") is None
    assert routes.topic_route("Other") is not None


def test_slave_gets_master_address() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    _register(routes, "broker-a", "127.0.0.1:10911")
    result = _register(routes, "broker-a", "127.0.0.1:10931", broker_id=1)
    assert result.master_addr == "127.0.0.1:10911"
    route = routes.topic_route("TopicTest")
    assert route.broker_datas[0].broker_addrs == {0: "127.0.0.1:10911", 1: "127.0.0.1:10931"}


def test_brokers_expire_after_heartbeat_timeout_on_the_clock() -> None:
    clock = FakeClock(0)
    routes = RouteInfoManager(clock=clock, broker_expiry_ms=120_000)
    _register(routes, "broker-a", "127.0.0.1:10911")
    _register(routes, "broker-b", "127.0.0.1:10921")
    clock.advance(100_000)
    assert routes.broker_heartbeat("127.0.0.1:10921")
    clock.advance(30_000)
    assert routes.scan_not_active_brokers() == ["127.0.0.1:10911"]
    assert [b.broker_name for b in routes.topic_route("TopicTest").broker_datas] == ["broker-b"]
    assert routes.cluster_info().cluster_addr_table == {"DefaultCluster": ["broker-b"]}


def test_closed_channel_forgets_its_broker_and_unregister_works() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    channel = object()
    _register(routes, "broker-a", "127.0.0.1:10911", channel=channel)
    _register(routes, "broker-b", "127.0.0.1:10921")
    assert routes.on_channel_closed(channel) == ["127.0.0.1:10911"]
    routes.unregister_broker("DefaultCluster", "127.0.0.1:10921", "broker-b", 0)
    assert routes.topic_route("TopicTest") is None
    info = routes.cluster_info()
    assert (info.broker_addr_table, info.cluster_addr_table) == ({}, {})


def test_kv_config_persists(tmp_path: Path) -> None:
    path = tmp_path / "kvConfig.json"
    kv = KVConfigManager(path)
    kv.put("ns", "k", "v")
    kv.put("ns", "k2", "v2")
    kv.delete("ns", "k2")
    again = KVConfigManager(path)
    assert again.get("ns", "k") == "v" and again.get("ns", "k2") is None
    assert again.namespace("ns") == {"k": "v"}
