"""``ClientInstance``: what one producer or consumer shares with the cluster (``MQClientInstance``).

It owns the connections (:class:`RemotingClient`), the route cache, and the background
services: route refresh from the name servers (``poll_name_server_interval``, 30 s) and
heartbeats to every broker (``heartbeat_broker_interval``, 30 s). Producers and consumers
register with it; it routes the requests brokers send us (transaction checks, consumer-id
changes) to them, and at shutdown unregisters them from every broker.

Each service is also a plain method (``update_all_routes``, ``send_heartbeat_to_all_brokers``)
so tests and callers can run it now instead of waiting for its period.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol

import anyio
import anyio.abc
import structlog

from rmqcore.client.client_api import ClientAPI, check, request
from rmqcore.client.config import ClientConfig
from rmqcore.client.errors import MQClientError, NoRouteError
from rmqcore.client.fault_tolerance import BrokerAvailability
from rmqcore.client.remoting_client import ClientChannel, RemotingClient
from rmqcore.client.request_reply import PendingReplies
from rmqcore.client.route import MASTER_ID, TopicPublishInfo, subscribe_queues
from rmqcore.message import MessageExt, MessageQueue, decode_stored_message
from rmqcore.message import constants as C
from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_response
from rmqcore.remoting import headers as H
from rmqcore.remoting.bodies._json import dumps
from rmqcore.remoting.bodies.client import ConsumeMessageDirectlyResult, ConsumerListBody
from rmqcore.remoting.bodies.heartbeat import ConsumerData, HeartbeatData, ProducerData
from rmqcore.remoting.bodies.route import TopicRouteData

log = structlog.get_logger(__name__)


class ConsumerHandle(Protocol):
    """What the instance needs from a consumer it serves."""

    group: str

    def consumer_data(self) -> ConsumerData: ...

    def subscribed_topics(self) -> set[str]: ...

    def on_subscribe_queues_changed(self, topic: str, queues: set[MessageQueue]) -> None: ...

    def request_rebalance(self) -> None: ...


class DirectConsumer(Protocol):
    """A consumer that can answer CONSUME_MESSAGE_DIRECTLY and GET_CONSUMER_RUNNING_INFO (push consumers)."""

    async def consume_message_directly(self, msg: MessageExt, broker_name: str | None) -> ConsumeMessageDirectlyResult: ...

    def running_info(self) -> dict[str, object]: ...


# (client id, group) of every consumer alive in this process.
_CONSUMERS_IN_PROCESS: set[tuple[str, str]] = set()

# A coroutine function: the instance runs each check as a task of its task group.
TransactionChecker = Callable[[str, MessageExt, H.CheckTransactionStateRequestHeader], Coroutine[Any, Any, None]]


class ClientInstance:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.client_id = config.client_id
        self.clock = config.clock
        self.remoting = RemotingClient(clock=config.clock)
        self.api = ClientAPI(self.remoting, config.namesrv_addrs, config.request_timeout)
        self.availability = BrokerAvailability(config.clock)
        self.route_table: dict[str, TopicRouteData] = {}
        self.publish_info: dict[str, TopicPublishInfo] = {}
        self.broker_addrs: dict[str, dict[int, str]] = {}
        self.producer_groups: set[str] = set()
        self.consumers: dict[str, ConsumerHandle] = {}
        self.transaction_checkers: dict[str, TransactionChecker] = {}
        self._route_lock = anyio.Lock()
        self._task_group: anyio.abc.TaskGroup | None = None
        self.started = False
        self.remoting.register_processor(RequestCode.CHECK_TRANSACTION_STATE, self._on_check_transaction_state)
        self.remoting.register_processor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, self._on_consumer_ids_changed)
        self.remoting.register_processor(RequestCode.CONSUME_MESSAGE_DIRECTLY, self._on_consume_message_directly)
        self.remoting.register_processor(RequestCode.GET_CONSUMER_RUNNING_INFO, self._on_get_consumer_running_info)
        # Replies the broker pushes for this client's requests (Producer.request).
        self.replies = PendingReplies(config.clock.now_ms)
        self.remoting.register_processor(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, self.replies.on_push_reply)

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> ClientInstance:
        await self.remoting.__aenter__()
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._every, self.config.poll_name_server_interval, self.update_all_routes)
        self._task_group.start_soon(self._every, self.config.heartbeat_broker_interval, self.send_heartbeat_to_all_brokers)
        self.started = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        self.started = False
        for group in self.consumers:
            _CONSUMERS_IN_PROCESS.discard((self.client_id, group))
        with anyio.CancelScope(shield=True):
            await self.unregister_from_brokers()
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        try:
            await self._task_group.__aexit__(None, None, None)
        finally:
            await self.remoting.__aexit__(exc_type, exc, tb)
        return None

    @property
    def task_group(self) -> anyio.abc.TaskGroup:
        if self._task_group is None:
            raise MQClientError("client instance is not started")
        return self._task_group

    async def _every(self, interval: float, action: Callable[[], Awaitable[object]]) -> None:
        while True:
            await anyio.sleep(interval)
            try:
                await action()
            except MQClientError as exc:
                log.warning("client_periodic_task_failed", task=getattr(action, "__name__", "?"), error=str(exc))
            except Exception:
                # A malformed answer (say) must not stop route refresh or heartbeats for good.
                log.exception("client_periodic_task_crashed", task=getattr(action, "__name__", "?"))

    # -- routes ----------------------------------------------------------------------------
    async def fetch_route(self, topic: str, timeout: float | None = None) -> TopicRouteData | None:
        """The name servers' route for ``topic``, or None when they know no such topic."""
        cmd = request(RequestCode.GET_ROUTEINFO_BY_TOPIC, H.GetRouteInfoRequestHeader(topic))
        addr, response = await self.api.invoke_namesrv(cmd, timeout)
        if response.code == ResponseCode.TOPIC_NOT_EXIST:
            return None
        check(response, addr)
        return TopicRouteData.decode(response.body)

    async def update_topic_route(self, topic: str, default_topic: str | None = None, default_queue_nums: int = 4) -> bool:
        """Refresh ``topic``'s route; True when it was found.

        With ``default_topic`` (TBW102) and no route of its own, the topic borrows the default
        topic's brokers with at most ``default_queue_nums`` queues each, which is how a producer
        sends to a topic the broker will auto-create (reference section 3).
        """
        async with self._route_lock:
            route = await self.fetch_route(topic)
            if route is None and default_topic:
                route = await self.fetch_route(default_topic)
                if route is not None:
                    for qd in route.queue_datas:
                        n = min(default_queue_nums, qd.read_queue_nums)
                        qd.read_queue_nums = qd.write_queue_nums = n
            if route is None:
                return False
            self._apply_route(topic, route)
            return True

    def _apply_route(self, topic: str, route: TopicRouteData) -> None:
        new_broker = False
        for bd in route.broker_datas:
            addrs = {int(k): v for k, v in bd.broker_addrs.items()}
            new_broker |= self.broker_addrs.get(bd.broker_name) != addrs
            self.broker_addrs[bd.broker_name] = addrs
        if new_broker and (self.consumers or self.producer_groups) and self._task_group is not None:
            # A broker we have not announced ourselves to: a consumer must be known there before it
            # can rebalance, a transaction producer before the broker can check back; so do not wait
            # for the next 30 s heartbeat.
            self._task_group.start_soon(self.send_heartbeat_to_all_brokers)
        old = self.route_table.get(topic)
        self.route_table[topic] = route
        if old is None or old.to_json() != route.to_json() or topic not in self.publish_info:
            info = TopicPublishInfo.from_route(topic, route)
            if info.ok or topic not in self.publish_info:
                self.publish_info[topic] = info
            queues = subscribe_queues(topic, route)
            for consumer in list(self.consumers.values()):
                if topic in consumer.subscribed_topics():
                    consumer.on_subscribe_queues_changed(topic, queues)
            log.debug("topic_route_changed", topic=topic, queues=len(info.message_queues))

    async def update_all_routes(self) -> None:
        topics = set(self.publish_info)
        for consumer in self.consumers.values():
            topics |= consumer.subscribed_topics()
        for topic in sorted(topics):
            try:
                await self.update_topic_route(topic)
            except MQClientError as exc:
                log.warning("topic_route_refresh_failed", topic=topic, error=str(exc))

    async def find_publish_info(self, topic: str, default_topic: str, default_queue_nums: int) -> TopicPublishInfo:
        """``tryToFindTopicPublishInfo``: the cached route, else the topic's, else TBW102's."""
        info = self.publish_info.get(topic)
        if info is not None and info.ok:
            return info
        if not await self.update_topic_route(topic) or not self.publish_info.get(topic, TopicPublishInfo(topic, [])).ok:
            await self.update_topic_route(topic, default_topic, default_queue_nums)
        info = self.publish_info.get(topic)
        if info is None or not info.ok:
            raise NoRouteError(f"No route info of this topic: {topic}")
        return info

    async def subscribe_queues(self, topic: str) -> set[MessageQueue]:
        route = self.route_table.get(topic)
        if route is None:
            if not await self.update_topic_route(topic):
                raise NoRouteError(f"Can not find Message Queue for this topic, {topic}")
            route = self.route_table[topic]
        return subscribe_queues(topic, route)

    def broker_master_addr(self, broker_name: str) -> str | None:
        return self.broker_addrs.get(broker_name, {}).get(MASTER_ID)

    async def find_broker_addr(self, broker_name: str, topic: str | None = None) -> str:
        """The master of ``broker_name``, refreshing ``topic``'s route once if unknown."""
        addr = self.broker_master_addr(broker_name)
        if addr is None and topic is not None:
            await self.update_topic_route(topic)
            addr = self.broker_master_addr(broker_name)
        if addr is None:
            raise MQClientError(f"The broker[{broker_name}] not exist")
        return addr

    def any_broker_addr_of(self, topic: str) -> str | None:
        route = self.route_table.get(topic)
        if route is None:
            return None
        for bd in route.broker_datas:
            addr = self.broker_master_addr(bd.broker_name)
            if addr:
                return addr
        return None

    # -- membership ------------------------------------------------------------------------
    def register_producer(self, group: str, checker: TransactionChecker | None = None) -> None:
        self.producer_groups.add(group)
        if checker is not None:
            self.transaction_checkers[group] = checker

    def register_consumer(self, consumer: ConsumerHandle) -> None:
        key = (self.client_id, consumer.group)
        if consumer.group in self.consumers or key in _CONSUMERS_IN_PROCESS:
            # The broker knows a member by its client id: two consumers of one group with the same
            # id would both take every queue. Java refuses this too.
            raise MQClientError(
                f"The consumer group[{consumer.group}] has been created before with client id {self.client_id}; "
                "give this consumer another instance_name."
            )
        _CONSUMERS_IN_PROCESS.add(key)
        self.consumers[consumer.group] = consumer

    def heartbeat_data(self) -> HeartbeatData:
        return HeartbeatData(
            self.client_id,
            [ProducerData(g) for g in sorted(self.producer_groups)],
            [c.consumer_data() for c in self.consumers.values()],
        )

    async def send_heartbeat_to_all_brokers(self) -> None:
        """HEART_BEAT to every master (and, when consumers exist, to slaves too)."""
        data = self.heartbeat_data()
        if not data.producer_data_set and not data.consumer_data_set:
            return
        body = data.encode()
        for broker_name, addrs in list(self.broker_addrs.items()):
            for broker_id, addr in addrs.items():
                if broker_id != MASTER_ID and not data.consumer_data_set:
                    continue
                try:
                    check(await self.remoting.invoke(addr, request(RequestCode.HEART_BEAT, body=body), self.config.request_timeout), addr)
                except MQClientError as exc:
                    log.warning("heartbeat_failed", broker=broker_name, addr=addr, error=str(exc))

    async def unregister_from_brokers(self) -> None:
        groups = [(g, None) for g in self.producer_groups] + [(None, g) for g in self.consumers]
        for _name, addrs in list(self.broker_addrs.items()):
            addr = addrs.get(MASTER_ID)
            if addr is None:
                continue
            for producer_group, consumer_group in groups:
                try:
                    with anyio.fail_after(self.config.request_timeout):
                        await self.api.unregister_client(addr, self.client_id, producer_group, consumer_group)
                except (MQClientError, TimeoutError) as exc:
                    log.info("unregister_client_failed", addr=addr, error=str(exc))

    async def find_consumer_id_list(self, topic: str, group: str) -> list[str]:
        addr = self.any_broker_addr_of(topic)
        if addr is None:
            await self.update_topic_route(topic)
            addr = self.any_broker_addr_of(topic)
        if addr is None:
            return []
        header = H.GetConsumerListByGroupRequestHeader(group)
        response = await self.remoting.invoke(addr, request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, header), self.config.request_timeout)
        check(response, addr)
        return list(ConsumerListBody.decode(response.body).consumer_id_list)

    # -- requests from brokers ---------------------------------------------------------------
    def _on_check_transaction_state(self, channel: ClientChannel, cmd: RemotingCommand) -> None:
        try:
            header = H.CheckTransactionStateRequestHeader.from_ext(cmd.ext_fields)
            msg, _ = decode_stored_message(cmd.body or b"")
        except Exception as exc:  # a malformed check must not take the connection down
            log.warning("transaction_check_malformed", addr=channel.remote_addr, error=str(exc))
            return None
        group = msg.properties.get(C.PROPERTY_PRODUCER_GROUP)
        checker = self.transaction_checkers.get(group or "")
        if checker is None:
            log.warning("transaction_check_no_producer", group=group, addr=channel.remote_addr)
            return None
        self.task_group.start_soon(checker, channel.remote_addr, msg, header)
        return None

    def _on_consumer_ids_changed(self, channel: ClientChannel, cmd: RemotingCommand) -> None:
        group = cmd.ext_fields.get("consumerGroup")
        consumer = self.consumers.get(group or "")
        if consumer is not None:
            log.info("consumer_ids_changed", group=group, addr=channel.remote_addr)
            consumer.request_rebalance()
        return None


    def _direct_consumer(self, cmd: RemotingCommand) -> tuple[str, DirectConsumer | None]:
        group = cmd.ext_fields.get("consumerGroup", "")
        consumer = self.consumers.get(group)
        if consumer is None or not hasattr(consumer, "running_info"):
            return group, None
        return group, consumer  # type: ignore[return-value]

    def _on_consume_message_directly(self, channel: ClientChannel, cmd: RemotingCommand) -> RemotingCommand | Awaitable[RemotingCommand]:
        """An admin asks us (through the broker) to consume one message now and say how it went."""
        group, consumer = self._direct_consumer(cmd)
        if consumer is None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark=f"The Consumer Group <{group}> not exist in this consumer")
        try:
            header = H.ConsumeMessageDirectlyResultRequestHeader.from_ext(cmd.ext_fields)
            msg, _ = decode_stored_message(cmd.body or b"")
        except Exception as exc:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark=f"malformed request: {exc}")

        async def consume() -> RemotingCommand:
            result = await consumer.consume_message_directly(msg, header.broker_name)
            return make_response(cmd, ResponseCode.SUCCESS, body=result.encode())

        return consume()

    def _on_get_consumer_running_info(self, channel: ClientChannel, cmd: RemotingCommand) -> RemotingCommand:
        group, consumer = self._direct_consumer(cmd)
        if consumer is None:
            return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark=f"The Consumer Group <{group}> not exist in this consumer")
        return make_response(cmd, ResponseCode.SUCCESS, body=dumps(consumer.running_info()))
