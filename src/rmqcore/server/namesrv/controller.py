"""The name server: request handlers over :class:`RouteInfoManager`, served on anyio.

Stateless by design (reference section 3/11): brokers register with every name
server, so several run side by side with no coordination between them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import anyio
import anyio.abc
import structlog

from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.remoting import (
    BrokerHeartbeatRequestHeader,
    DeleteKVConfigRequestHeader,
    GetKVConfigRequestHeader,
    GetKVConfigResponseHeader,
    GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader,
    PutKVConfigRequestHeader,
    QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader,
    RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader,
    RemotingCommand,
    RequestCode,
    RequestError,
    ResponseCode,
    UnregisterBrokerRequestHeader,
    make_error_response,
    make_response,
)
from rmqcore.remoting.bodies import DataVersion, KVTable, RegisterBrokerBody
from rmqcore.server.config import NamesrvConfig
from rmqcore.server.namesrv.kv_config import KVConfigManager
from rmqcore.server.namesrv.route_info import RouteInfoManager
from rmqcore.transport import Channel, RemotingServer

log = structlog.get_logger(__name__)

ORDER_TOPIC_CONFIG_NAMESPACE = "ORDER_TOPIC_CONFIG"
_FAQ = "See http://rocketmq.apache.org/docs/faq/"

Handler = Callable[[Channel, RemotingCommand], RemotingCommand | None]


class NamesrvController:
    """
    >>> ctl = NamesrvController(NamesrvConfig(kv_config_path=""))
    >>> from rmqcore.remoting import make_request
    >>> ctl.handle(None, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "Nope"})).code
    17
    """

    def __init__(self, config: NamesrvConfig | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config or NamesrvConfig()
        self.clock = clock
        self.routes = RouteInfoManager(clock=clock, broker_expiry_ms=self.config.broker_expiry_ms)
        self.kv = KVConfigManager(self.config.kv_config_path or None)
        self._server: RemotingServer | None = None
        self._handlers: dict[int, Handler] = {
            RequestCode.PUT_KV_CONFIG: self._put_kv_config,
            RequestCode.GET_KV_CONFIG: self._get_kv_config,
            RequestCode.DELETE_KV_CONFIG: self._delete_kv_config,
            RequestCode.REGISTER_BROKER: self._register_broker,
            RequestCode.UNREGISTER_BROKER: self._unregister_broker,
            RequestCode.BROKER_HEARTBEAT: self._broker_heartbeat,
            RequestCode.QUERY_DATA_VERSION: self._query_data_version,
            RequestCode.GET_ROUTEINFO_BY_TOPIC: self._get_route_info,
            RequestCode.GET_BROKER_CLUSTER_INFO: self._get_cluster_info,
            RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER: self._get_all_topics,
            RequestCode.GET_TOPICS_BY_CLUSTER: self._get_topics_by_cluster,
        }

    @property
    def port(self) -> int:
        return self._server.port if self._server else self.config.listen_port

    # -- serving --------------------------------------------------------------------------
    async def run(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        server = RemotingServer(
            self.handle, self.config.bind_host, self.config.listen_port, on_close=self.routes.on_channel_closed
        )
        self._server = server
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.serve)
            tg.start_soon(self._scan_loop)
            log.info(
                "The Name Server boot success. serializeType=JSON",
                addr=f"{self.config.bind_host}:{port}",
            )
            task_status.started(port)

    async def _scan_loop(self) -> None:
        while True:
            await anyio.sleep(self.config.scan_interval_ms / 1000)
            self.routes.scan_not_active_brokers()

    async def shutdown(self) -> None:
        if self._server is not None:
            await self._server.aclose()

    def handle(self, channel: Channel | None, cmd: RemotingCommand) -> RemotingCommand | None:
        handler = self._handlers.get(cmd.code)
        if handler is None:
            return make_response(
                cmd, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, remark=f"request code {cmd.code} is not supported by this name server"
            )
        try:
            return handler(channel, cmd)  # type: ignore[arg-type]
        except RequestError as exc:
            return make_error_response(cmd, exc)

    # -- handlers -------------------------------------------------------------------------
    def _put_kv_config(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = PutKVConfigRequestHeader.from_ext(cmd.ext_fields)
        self.kv.put(h.namespace, h.key, h.value)
        return make_response(cmd, ResponseCode.SUCCESS)

    def _get_kv_config(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = GetKVConfigRequestHeader.from_ext(cmd.ext_fields)
        value = self.kv.get(h.namespace, h.key)
        if value is None:
            return make_response(cmd, ResponseCode.QUERY_NOT_FOUND, remark=f"No config item, Namespace: {h.namespace} Key: {h.key}")
        return make_response(cmd, ResponseCode.SUCCESS, ext=GetKVConfigResponseHeader(value))

    def _delete_kv_config(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = DeleteKVConfigRequestHeader.from_ext(cmd.ext_fields)
        self.kv.delete(h.namespace, h.key)
        return make_response(cmd, ResponseCode.SUCCESS)

    def _register_broker(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = RegisterBrokerRequestHeader.from_ext(cmd.ext_fields)
        if h.body_crc32 and cmd.body is not None and (zlib.crc32(cmd.body) & 0x7FFFFFFF) != h.body_crc32:
            log.warning("namesrv_register_crc_mismatch", broker=h.broker_name, addr=h.broker_addr)
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark="register broker body crc32 does not match bodyCrc32")
        if cmd.body:
            body = RegisterBrokerBody.decode(cmd.body, compressed=h.compressed)
        else:
            body = RegisterBrokerBody()
        wrapper = body.topic_config_serialize_wrapper
        result = self.routes.register_broker(
            h.cluster_name,
            h.broker_addr,
            h.broker_name,
            h.broker_id,
            h.ha_server_addr,
            wrapper.topic_config_table,
            wrapper.data_version,
            channel,
            h.heartbeat_timeout_millis,
        )
        order_conf = KVTable(self.kv.namespace(ORDER_TOPIC_CONFIG_NAMESPACE)).encode()
        return make_response(
            cmd,
            ResponseCode.SUCCESS,
            ext=RegisterBrokerResponseHeader(result.ha_server_addr or None, result.master_addr or None),
            body=order_conf,
        )

    def _unregister_broker(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = UnregisterBrokerRequestHeader.from_ext(cmd.ext_fields)
        self.routes.unregister_broker(h.cluster_name, h.broker_addr, h.broker_name, h.broker_id)
        return make_response(cmd, ResponseCode.SUCCESS)

    def _broker_heartbeat(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = BrokerHeartbeatRequestHeader.from_ext(cmd.ext_fields)
        self.routes.broker_heartbeat(h.broker_addr)
        return make_response(cmd, ResponseCode.SUCCESS)

    def _query_data_version(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = QueryDataVersionRequestHeader.from_ext(cmd.ext_fields)
        theirs = DataVersion.decode(cmd.body) if cmd.body else DataVersion()
        known = self.routes.data_version_of(h.broker_addr)
        self.routes.broker_heartbeat(h.broker_addr)
        changed = known is None or known != theirs
        return make_response(
            cmd, ResponseCode.SUCCESS, ext=QueryDataVersionResponseHeader(changed), body=(known or DataVersion()).encode()
        )

    def _get_route_info(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = GetRouteInfoRequestHeader.from_ext(cmd.ext_fields)
        route = self.routes.topic_route(h.topic)
        if route is None:
            return make_response(
                cmd, ResponseCode.TOPIC_NOT_EXIST, remark=f"No topic route info in name server for the topic: {h.topic}\n{_FAQ}"
            )
        route.order_topic_conf = self.kv.get(ORDER_TOPIC_CONFIG_NAMESPACE, h.topic)
        # Always the standard-JSON form (quoted brokerAddrs keys): every client version reads it (section 13).
        return make_response(cmd, ResponseCode.SUCCESS, body=route.encode())

    def _get_cluster_info(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        return make_response(cmd, ResponseCode.SUCCESS, body=self.routes.cluster_info().encode())

    def _get_all_topics(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        if not self.config.enable_all_topic_list:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark="disable")
        return make_response(cmd, ResponseCode.SUCCESS, body=self.routes.topic_list().encode())

    def _get_topics_by_cluster(self, channel: Channel, cmd: RemotingCommand) -> RemotingCommand:
        h = GetTopicsByClusterRequestHeader.from_ext(cmd.ext_fields)
        return make_response(cmd, ResponseCode.SUCCESS, body=self.routes.topics_by_cluster(h.cluster).encode())


