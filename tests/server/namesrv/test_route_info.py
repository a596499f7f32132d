"""The name server's routing table: registration, routes, expiry, channel loss."""

from __future__ import annotations

from pathlib import Path

from rmqcore.clock import FakeClock
from rmqcore.server.namesrv.kv_config import KVConfigManager
from rmqcore.server.namesrv.route_info import RouteInfoManager

TOPICS = {
    "TopicTest": {"readQueueNums": 4, "writeQueueNums": 4, "perm": 6},
    "TBW102": {"readQueueNums": 8, "writeQueueNums": 8, "perm": 7},
}


def _register(routes: RouteInfoManager, name: str, addr: str, topics=TOPICS, version=1, broker_id=0, channel=None):
    return routes.register_broker("DefaultCluster", addr, name, broker_id, addr, topics, {"counter": version}, channel)


def test_route_lists_every_broker_serving_the_topic() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    _register(routes, "broker-a", "127.0.0.1:10911")
    _register(routes, "broker-b", "127.0.0.1:10921", {"TopicTest": {"readQueueNums": 2, "writeQueueNums": 2, "perm": 6}})
    route = routes.topic_route("TopicTest")
    assert route is not None
    assert [b["brokerName"] for b in route["brokerDatas"]] == ["broker-a", "broker-b"]
    assert [(q["brokerName"], q["writeQueueNums"]) for q in route["queueDatas"]] == [("broker-a", 4), ("broker-b", 2)]
    assert route["brokerDatas"][1]["brokerAddrs"] == {"0": "127.0.0.1:10921"}
    assert routes.topic_route("Missing") is None
    assert routes.topic_list() == {"topicList": ["TBW102", "TopicTest"]}
    info = routes.cluster_info()
    assert info["clusterAddrTable"] == {"DefaultCluster": ["broker-a", "broker-b"]}


def test_reregistration_with_new_data_version_replaces_topics() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    _register(routes, "broker-a", "127.0.0.1:10911")
    _register(routes, "broker-a", "127.0.0.1:10911", {"Other": {"readQueueNums": 1, "writeQueueNums": 1, "perm": 6}}, version=2)
    assert routes.topic_route("TopicTest") is None
    assert routes.topic_route("Other") is not None


def test_slave_gets_master_address() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    _register(routes, "broker-a", "127.0.0.1:10911")
    result = _register(routes, "broker-a", "127.0.0.1:10931", broker_id=1)
    assert result.master_addr == "127.0.0.1:10911"
    route = routes.topic_route("TopicTest")
    assert route["brokerDatas"][0]["brokerAddrs"] == {"0": "127.0.0.1:10911", "1": "127.0.0.1:10931"}


def test_brokers_expire_after_heartbeat_timeout_on_the_clock() -> None:
    clock = FakeClock(0)
    routes = RouteInfoManager(clock=clock, broker_expiry_ms=120_000)
    _register(routes, "broker-a", "127.0.0.1:10911")
    _register(routes, "broker-b", "127.0.0.1:10921")
    clock.advance(100_000)
    assert routes.broker_heartbeat("127.0.0.1:10921")
    clock.advance(30_000)
    assert routes.scan_not_active_brokers() == ["127.0.0.1:10911"]
    assert [b["brokerName"] for b in routes.topic_route("TopicTest")["brokerDatas"]] == ["broker-b"]
    assert routes.cluster_info()["clusterAddrTable"] == {"DefaultCluster": ["broker-b"]}


def test_closed_channel_forgets_its_broker_and_unregister_works() -> None:
    routes = RouteInfoManager(clock=FakeClock(0))
    channel = object()
    _register(routes, "broker-a", "127.0.0.1:10911", channel=channel)
    _register(routes, "broker-b", "127.0.0.1:10921")
    assert routes.on_channel_closed(channel) == ["127.0.0.1:10911"]
    routes.unregister_broker("DefaultCluster", "127.0.0.1:10921", "broker-b", 0)
    assert routes.topic_route("TopicTest") is None
    assert routes.cluster_info() == {"brokerAddrTable": {}, "clusterAddrTable": {}}


def test_kv_config_persists(tmp_path: Path) -> None:
    path = tmp_path / "kvConfig.json"
    kv = KVConfigManager(path)
    kv.put("ns", "k", "v")
    kv.put("ns", "k2", "v2")
    kv.delete("ns", "k2")
    again = KVConfigManager(path)
    assert again.get("ns", "k") == "v" and again.get("ns", "k2") is None
    assert again.namespace("ns") == {"k": "v"}
