"""``Admin``: the mqadmin operations a user needs first (``DefaultMQAdminExt``, subset).

Create a topic on every master of a cluster (or on one broker), list topics, topic status
(min/max offset per queue), consumer progress (broker offset, consumer offset and lag per
queue), query messages by key and by id, and the cluster list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rmqcore.client.client_api import check, request
from rmqcore.client.client_instance import ClientInstance
from rmqcore.client.config import ClientConfig
from rmqcore.client.errors import MQBrokerError, MQClientError
from rmqcore.client.lifecycle import ClientLifecycle
from rmqcore.client.route import MASTER_ID
from rmqcore.message import MessageExt, MessageIdError, MessageQueue, decode_offset_message_id
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode, ResponseCode
from rmqcore.remoting import headers as H
from rmqcore.remoting.bodies.client import ConsumeMessageDirectlyResult
from rmqcore.remoting.bodies.route import ClusterInfo
from rmqcore.remoting.bodies.topic import TopicList


@dataclass(frozen=True, slots=True)
class QueueStatus:
    message_queue: MessageQueue
    min_offset: int
    max_offset: int


@dataclass(frozen=True, slots=True)
class QueueProgress:
    message_queue: MessageQueue
    broker_offset: int
    consumer_offset: int

    @property
    def lag(self) -> int:
        return max(self.broker_offset - max(self.consumer_offset, 0), 0)


class Admin(ClientLifecycle):
    def __init__(self, namesrv_addr: str | None = None, *, config: ClientConfig | None = None, timeout: float = 5.0) -> None:
        self.config = config or ClientConfig(namesrv_addr=namesrv_addr, instance_name="admin", request_timeout=timeout)

    @property
    def _client_name(self) -> str:
        return "admin"

    @property
    def instance(self) -> ClientInstance:
        return self._started_instance()

    # -- cluster ---------------------------------------------------------------------------
    async def cluster_info(self) -> ClusterInfo:
        addr, response = await self.instance.api.invoke_namesrv(request(RequestCode.GET_BROKER_CLUSTER_INFO))
        check(response, addr)
        return ClusterInfo.decode(response.body)

    async def master_addrs(self, cluster: str | None = None) -> list[str]:
        info = await self.cluster_info()
        names = info.cluster_addr_table.get(cluster, []) if cluster else list(info.broker_addr_table)
        out = []
        for name in sorted(names):
            bd = info.broker_addr_table.get(name)
            addr = bd.broker_addrs.get(MASTER_ID) if bd else None
            if addr:
                out.append(addr)
        return out

    # -- topics ----------------------------------------------------------------------------
    async def create_topic(
        self,
        topic: str,
        *,
        cluster: str | None = "DefaultCluster",
        broker_addr: str | None = None,
        read_queue_nums: int = 8,
        write_queue_nums: int = 8,
        perm: int = C.PERM_READ | C.PERM_WRITE,
        order: bool = False,
    ) -> list[str]:
        """UPDATE_AND_CREATE_TOPIC on ``broker_addr`` or on every master of ``cluster``; returns the brokers."""
        addrs = [broker_addr] if broker_addr else await self.master_addrs(cluster)
        if not addrs:
            raise MQClientError(f"no master broker found in cluster {cluster!r}")
        header = H.CreateTopicRequestHeader(
            topic=topic,
            default_topic=C.AUTO_CREATE_TOPIC_KEY_TOPIC,
            read_queue_nums=read_queue_nums,
            write_queue_nums=write_queue_nums,
            perm=perm,
            topic_filter_type="SINGLE_TAG",
            order=order,
            topic_sys_flag=0,
        )
        for addr in addrs:
            await self.instance.api.create_topic(addr, header)
        return addrs

    async def topic_list(self) -> list[str]:
        addr, response = await self.instance.api.invoke_namesrv(request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER))
        check(response, addr)
        return sorted(TopicList.decode(response.body).topic_list)

    async def _queues(self, topic: str) -> list[MessageQueue]:
        return sorted(await self.instance.subscribe_queues(topic))

    async def topic_status(self, topic: str) -> list[QueueStatus]:
        out = []
        for mq in await self._queues(topic):
            addr = await self.instance.find_broker_addr(mq.broker_name, topic)
            out.append(QueueStatus(mq, await self.instance.api.get_min_offset(addr, mq), await self.instance.api.get_max_offset(addr, mq)))
        return out

    async def consumer_progress(self, group: str, topics: Sequence[str] | None = None) -> list[QueueProgress]:
        """Per queue: broker max offset, the group's committed offset (-1 if none), lag.

        Without ``topics``, every non-system topic where the group has a committed offset.
        """
        explicit = topics is not None
        candidates = list(topics) if topics is not None else [t for t in await self.topic_list() if not _is_system_topic(t)]
        out: list[QueueProgress] = []
        for topic in candidates:
            try:
                queues = await self._queues(topic)
            except MQClientError:
                continue
            rows = []
            for mq in queues:
                addr = await self.instance.find_broker_addr(mq.broker_name, topic)
                try:
                    consumer = await self.instance.api.query_consumer_offset(addr, group, mq)
                except MQBrokerError as exc:
                    if exc.code != ResponseCode.QUERY_NOT_FOUND:
                        raise
                    consumer = -1
                rows.append(QueueProgress(mq, await self.instance.api.get_max_offset(addr, mq), consumer))
            if explicit or any(r.consumer_offset >= 0 for r in rows):
                out.extend(rows)
        return out

    # -- messages --------------------------------------------------------------------------
    async def query_msg_by_key(self, topic: str, key: str, max_num: int = 64, begin_ms: int = 0, end_ms: int = 2**63 - 1) -> list[MessageExt]:
        found: list[MessageExt] = []
        for addr in await self._topic_masters(topic):
            msgs = await self.instance.api.query_message(addr, topic, key, max_num, begin_ms, end_ms)
            found.extend(m for m in msgs if m.topic == topic and key in m.keys + [m.uniq_key])
        return sorted(found, key=lambda m: m.store_timestamp)

    async def query_msg_by_id(self, msg_id: str, topic: str | None = None) -> MessageExt:
        """By offset message id (the broker decodes address and offset from it), else by UNIQ_KEY in ``topic``."""
        try:
            (host, port), offset = decode_offset_message_id(msg_id)
        except MessageIdError:
            host = None
        if host is not None and not 0 < port < 65536:
            host = None  # 32 hex digits that are not an address: a UNIQ_KEY
        if host is not None:
            try:
                return await self.instance.api.view_message(f"{host}:{port}", offset)
            except MQClientError:
                if topic is None:
                    raise
        if topic is None:
            raise MQClientError(f"{msg_id} is not an offset message id; give the topic to look it up as a UNIQ_KEY")
        for addr in await self._topic_masters(topic):
            msgs = await self.instance.api.query_message(addr, topic, msg_id, 32, 0, 2**63 - 1, unique=True)
            for m in msgs:
                if m.uniq_key == msg_id:
                    return m
        raise MQBrokerError(ResponseCode.QUERY_NOT_FOUND, f"no message with id {msg_id} in topic {topic}")

    async def consume_message_directly(
        self, consumer_group: str, client_id: str, msg_id: str, topic: str | None = None
    ) -> ConsumeMessageDirectlyResult:
        """Have consumer ``client_id`` of ``consumer_group`` consume message ``msg_id`` now and
        say how it went (``DefaultMQAdminExt.consumeMessageDirectly``): the message's broker
        forwards it to the consumer's connection. ``msg_id`` is an offset message id, or a
        UNIQ_KEY of ``topic``. The consumer answers with its listener's verdict
        (``consume_result`` CR_SUCCESS, CR_LATER, ...); the message's stored progress is not touched."""
        msg = await self.query_msg_by_id(msg_id, topic)
        offset_msg_id = msg.offset_msg_id
        if offset_msg_id is None:
            raise MQClientError(f"message {msg_id} has no offset message id to find its broker by")
        (host, port), _offset = decode_offset_message_id(offset_msg_id)
        header = H.ConsumeMessageDirectlyResultRequestHeader(
            consumer_group, client_id, offset_msg_id, topic=topic or msg.topic
        )
        addr = f"{host}:{port}"
        response = check(
            await self.instance.remoting.invoke(addr, request(RequestCode.CONSUME_MESSAGE_DIRECTLY, header), self.instance.api.timeout),
            addr,
        )
        return ConsumeMessageDirectlyResult.decode(response.body or b"{}")

    async def _topic_masters(self, topic: str) -> list[str]:
        await self.instance.subscribe_queues(topic)
        route = self.instance.route_table[topic]
        return [a for bd in route.broker_datas if (a := self.instance.broker_master_addr(bd.broker_name))]


def _is_system_topic(topic: str) -> bool:
    return (
        topic.startswith(("%RETRY%", "%DLQ%", "rmq_sys_", "RMQ_SYS_", "SCHEDULE_TOPIC", "TRANS_CHECK", "TBW102"))
        or topic in ("SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT")
    )
