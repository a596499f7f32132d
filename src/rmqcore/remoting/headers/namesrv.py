"""Name-server requests (reference section 3): KV config (100-102), REGISTER_BROKER (103),
UNREGISTER_BROKER (104), GET_ROUTEINFO_BY_TOPIC (105), GET_TOPICS_BY_CLUSTER (224),
QUERY_DATA_VERSION (322), BROKER_HEARTBEAT (904)."""

from __future__ import annotations

from typing import ClassVar

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt, JavaLong


@record
class PutKVConfigRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.PUT_KV_CONFIG,)

    namespace: str
    key: str
    value: str


@record
class GetKVConfigRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_KV_CONFIG,)

    namespace: str
    key: str


@record
class GetKVConfigResponseHeader(ExtHeader):
    value: str | None = None


@record
class DeleteKVConfigRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.DELETE_KV_CONFIG,)

    namespace: str
    key: str


@record
class RegisterBrokerRequestHeader(ExtHeader):
    """``compressed`` selects the Deflater body form; ``body_crc32`` 0 skips the CRC check."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.REGISTER_BROKER,)

    broker_name: str
    broker_addr: str
    cluster_name: str
    ha_server_addr: str
    broker_id: JavaLong
    heartbeat_timeout_millis: JavaLong | None = None
    enable_acting_master: bool | None = None
    compressed: bool = False
    body_crc32: JavaInt = 0


@record
class RegisterBrokerResponseHeader(ExtHeader):
    ha_server_addr: str | None = None
    master_addr: str | None = None


@record
class UnregisterBrokerRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.UNREGISTER_BROKER,)

    broker_name: str
    broker_addr: str
    cluster_name: str
    broker_id: JavaLong


@record
class GetRouteInfoRequestHeader(ExtHeader):
    """``accept_standard_json_only`` (or request version >= V4_9_4) asks for quoted keys."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_ROUTEINFO_BY_TOPIC,)

    topic: str
    accept_standard_json_only: bool | None = None


@record
class GetTopicsByClusterRequestHeader(ExtHeader):
    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.GET_TOPICS_BY_CLUSTER,)

    cluster: str


@record
class QueryDataVersionRequestHeader(ExtHeader):
    """The body is the broker's DataVersion JSON."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.QUERY_DATA_VERSION,)

    broker_name: str
    broker_addr: str
    cluster_name: str
    broker_id: JavaLong


@record
class QueryDataVersionResponseHeader(ExtHeader):
    changed: bool


@record
class BrokerHeartbeatRequestHeader(ExtHeader):
    """BROKER_HEARTBEAT (904, 5.x) to the name server."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.BROKER_HEARTBEAT,)

    cluster_name: str
    broker_addr: str
    broker_name: str
    broker_id: JavaLong | None = None
    epoch: JavaInt | None = None
    max_offset: JavaLong | None = None
    confirm_offset: JavaLong | None = None
    heartbeat_timeout_mills: JavaLong | None = None
    election_priority: JavaInt | None = None
