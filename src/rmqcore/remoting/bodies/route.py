"""Routing bodies (reference section 3): ``TopicRouteData`` (GET_ROUTEINFO_BY_TOPIC reply) and
``ClusterInfo`` (GET_BROKER_CLUSTER_INFO reply).

Emitted with quoted ``brokerAddrs`` keys, sorted keys and non-ASCII escaped (the
standard-JSON form the Java name server sends to version >= V4_9_4 clients; 4.x
clients accept it too, section 13). Parsing accepts the unquoted ``{0:"..."}`` form.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from rmqcore.remoting._records import record
from rmqcore.remoting.bodies._base import JsonBody, as_bool, as_dict, as_int, as_int32, as_list, as_str, opt_str
from rmqcore.remoting.bodies._json import dumps, drop_none

#: brokerId of the master in ``BrokerData.broker_addrs``.
MASTER_ID = 0


@record
class QueueData(JsonBody):
    broker_name: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int
    topic_sys_flag: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerName": self.broker_name,
            "perm": self.perm,
            "readQueueNums": self.read_queue_nums,
            "topicSysFlag": self.topic_sys_flag,
            "writeQueueNums": self.write_queue_nums,
        }

    @classmethod
    def from_json(cls, obj: Any) -> QueueData:
        obj = as_dict(obj)
        return cls(
            as_str(obj["brokerName"]),
            as_int32(obj.get("readQueueNums", 0)),
            as_int32(obj.get("writeQueueNums", 0)),
            as_int32(obj.get("perm", 0)),
            # "topicSynFlag" is the 4.x-era Java spelling of the same field.
            as_int32(obj.get("topicSysFlag", obj.get("topicSynFlag", 0))),
        )


@record
class BrokerData(JsonBody):
    """``broker_addrs``: brokerId → ``"ip:port"`` (id 0 = master)."""

    cluster: str
    broker_name: str
    broker_addrs: dict[int, str] = field(default_factory=dict)
    zone_name: str | None = None
    enable_acting_master: bool = False

    def master_addr(self) -> str | None:
        return self.broker_addrs.get(MASTER_ID)

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            {
                "brokerAddrs": {str(k): v for k, v in sorted(self.broker_addrs.items())},
                "brokerName": self.broker_name,
                "cluster": self.cluster,
                "enableActingMaster": self.enable_acting_master,
                "zoneName": self.zone_name,
            }
        )

    @classmethod
    def from_json(cls, obj: Any) -> BrokerData:
        obj = as_dict(obj)
        return cls(
            as_str(obj.get("cluster", "")),
            as_str(obj["brokerName"]),
            {as_int(k): as_str(v) for k, v in as_dict(obj.get("brokerAddrs")).items()},
            opt_str(obj.get("zoneName")),
            as_bool(obj.get("enableActingMaster", False)),
        )


@record
class TopicRouteData(JsonBody):
    """
    >>> route = TopicRouteData([QueueData("broker-a", 4, 4, 6)], [BrokerData("DefaultCluster", "broker-a", {0: "127.0.0.1:10911"})])
    >>> route.encode()
    b'{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
    >>> TopicRouteData.decode(b'{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"c"}],"queueDatas":[]}').broker_datas[0].broker_addrs
    {0: '127.0.0.1:10911'}
    """

    queue_datas: list[QueueData] = field(default_factory=list)
    broker_datas: list[BrokerData] = field(default_factory=list)
    filter_server_table: dict[str, list[str]] = field(default_factory=dict)
    order_topic_conf: str | None = None
    #: 5.x static-topic mapping, passed through as parsed JSON (not interpreted).
    topic_queue_mapping_by_broker: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return drop_none(
            {
                "brokerDatas": [b.to_json() for b in self.broker_datas],
                "filterServerTable": self.filter_server_table,
                "orderTopicConf": self.order_topic_conf,
                "queueDatas": [q.to_json() for q in self.queue_datas],
                "topicQueueMappingByBroker": self.topic_queue_mapping_by_broker,
            }
        )

    def encode(self) -> bytes:
        return dumps(self.to_json(), ascii_only=True)

    @classmethod
    def from_json(cls, obj: Any) -> TopicRouteData:
        obj = as_dict(obj)
        mapping = obj.get("topicQueueMappingByBroker")
        return cls(
            [QueueData.from_json(q) for q in as_list(obj.get("queueDatas"))],
            [BrokerData.from_json(b) for b in as_list(obj.get("brokerDatas"))],
            {as_str(k): [as_str(a) for a in as_list(v)] for k, v in as_dict(obj.get("filterServerTable")).items()},
            opt_str(obj.get("orderTopicConf")),
            as_dict(mapping) if mapping is not None else None,
        )


@record
class ClusterInfo(JsonBody):
    """GET_BROKER_CLUSTER_INFO reply: brokerName → BrokerData, cluster → broker names."""

    broker_addr_table: dict[str, BrokerData] = field(default_factory=dict)
    cluster_addr_table: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerAddrTable": {name: b.to_json() for name, b in sorted(self.broker_addr_table.items())},
            "clusterAddrTable": {c: list(names) for c, names in sorted(self.cluster_addr_table.items())},
        }

    def encode(self) -> bytes:
        return dumps(self.to_json(), ascii_only=True)

    @classmethod
    def from_json(cls, obj: Any) -> ClusterInfo:
        obj = as_dict(obj)
        return cls(
            {as_str(k): BrokerData.from_json(v) for k, v in as_dict(obj.get("brokerAddrTable")).items()},
            {as_str(k): [as_str(n) for n in as_list(v)] for k, v in as_dict(obj.get("clusterAddrTable")).items()},
        )
