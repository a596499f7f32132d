"""What every consumer does with the broker: pull, offsets, start positions, send-back, locks.

Shared by :class:`PushConsumer`, :class:`LitePullConsumer` and :class:`PullConsumer`; it
holds no tasks of its own.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog

from rmqcore.client.client_api import check, request
from rmqcore.client.client_instance import ClientInstance
from rmqcore.client.errors import MQClientError
from rmqcore.client.offset_store import (
    OFFSET_NOT_FOUND,
    LocalFileOffsetStore,
    OffsetStore,
    ReadOffsetType,
    RemoteBrokerOffsetStore,
)
from rmqcore.client.pull_result import PullResult, process_pull_result
from rmqcore.client.route import MASTER_ID
from rmqcore.client.subscription import tags_filter
from rmqcore.message import MessageExt, MessageQueue
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode
from rmqcore.remoting import headers as H
from rmqcore.remoting.bodies.heartbeat import ConsumeFromWhere, MessageModel, SubscriptionData
from rmqcore.remoting.bodies.lock import LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody

if TYPE_CHECKING:
    from rmqcore.client.blocking_channel import BlockingChannels
    from rmqcore.client.loop_handle import LoopHandle

log = structlog.get_logger(__name__)

BROKER_SUSPEND_MAX_TIME_MS = 20_000
"""``brokerSuspendMaxTimeMillis``: how long the broker may hold a pull that finds nothing."""
CONSUMER_TIMEOUT_WHEN_SUSPEND_S = 30.0
"""Client-side timeout of a long-polling pull: longer than the suspension, so it never races it."""


def parse_consume_timestamp(value: str | int | None, now_ms: int) -> int:
    """``consumeTimestamp``: ``yyyyMMddHHmmss`` (local time) or epoch ms; default: half an hour ago.

    >>> parse_consume_timestamp(1_700_000_000_000, 0), parse_consume_timestamp(None, 3_600_000)
    (1700000000000, 1800000)
    """
    if value is None:
        return now_ms - 30 * 60 * 1000
    if isinstance(value, int):
        return value
    return int(datetime.datetime.strptime(value, "%Y%m%d%H%M%S").timestamp() * 1000)


class ConsumerCore:
    def __init__(
        self,
        instance: ClientInstance,
        group: str,
        message_model: MessageModel,
        *,
        offset_store_dir: str | None = None,
    ) -> None:
        self.instance = instance
        self.group = group
        self.message_model = message_model
        self.offset_store: OffsetStore
        if message_model is MessageModel.BROADCASTING:
            self.offset_store = LocalFileOffsetStore(group, instance.client_id, offset_store_dir)
        else:
            self.offset_store = RemoteBrokerOffsetStore(group, self._query_offset, self._update_offset)

    async def _query_offset(self, mq: MessageQueue) -> int:
        addr = await self.instance.find_broker_addr(mq.broker_name, mq.topic)
        return await self.instance.api.query_consumer_offset(addr, self.group, mq)

    async def _update_offset(self, mq: MessageQueue, offset: int) -> None:
        addr = await self.instance.find_broker_addr(mq.broker_name, mq.topic)
        await self.instance.api.update_consumer_offset(addr, self.group, mq, offset)

    # -- offsets of the queue itself -----------------------------------------------------------
    async def max_offset(self, mq: MessageQueue) -> int:
        addr = await self.instance.find_broker_addr(mq.broker_name, mq.topic)
        return await self.instance.api.get_max_offset(addr, mq)

    async def min_offset(self, mq: MessageQueue) -> int:
        addr = await self.instance.find_broker_addr(mq.broker_name, mq.topic)
        return await self.instance.api.get_min_offset(addr, mq)

    async def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        addr = await self.instance.find_broker_addr(mq.broker_name, mq.topic)
        return await self.instance.api.search_offset(addr, mq, timestamp_ms)

    async def compute_pull_from_where(self, mq: MessageQueue, where: ConsumeFromWhere, timestamp_ms: int) -> int:
        """``RebalancePushImpl.computePullFromWhere``: the committed offset, else the start position.

        Returns -1 when the committed offset could not be read (broker unreachable): the
        queue is then left for the next rebalance rather than started at a guess.
        """
        last = await self.offset_store.read_offset(mq, ReadOffsetType.READ_FROM_STORE)
        if last >= 0:
            return last
        if last != OFFSET_NOT_FOUND:
            return -1
        retry = mq.topic.startswith(C.RETRY_GROUP_TOPIC_PREFIX)
        try:
            if where is ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET:
                return 0
            if where is ConsumeFromWhere.CONSUME_FROM_TIMESTAMP:
                return await self.max_offset(mq) if retry else await self.search_offset(mq, timestamp_ms)
            # LAST_OFFSET and its deprecated variants.
            return 0 if retry else await self.max_offset(mq)
        except MQClientError as exc:
            log.warning("start_offset_lookup_failed", group=self.group, mq=str(mq), error=str(exc))
            return -1

    # -- pull ------------------------------------------------------------------------------
    async def pull(
        self,
        mq: MessageQueue,
        subscription: SubscriptionData,
        offset: int,
        max_nums: int,
        *,
        commit_offset: int = 0,
        suspend_ms: int = BROKER_SUSPEND_MAX_TIME_MS,
        timeout: float | None = None,
        lite: bool = False,
    ) -> PullResult:
        """One PULL_MESSAGE: long-polls when ``suspend_ms`` > 0; the subscription travels with it."""
        addrs = self.instance.broker_addrs.get(mq.broker_name)
        addr = addrs.get(MASTER_ID) if addrs else None
        if addr is None:
            addr = await self.instance.find_broker_addr(mq.broker_name, mq.topic)
        header = self._pull_header(mq, subscription, offset, max_nums, commit_offset, suspend_ms, lite)
        result = await self.instance.api.pull_message(addr, header, self._pull_timeout(timeout, suspend_ms))
        return process_pull_result(mq, result, tags_filter(subscription))

    def pull_blocking(
        self,
        mq: MessageQueue,
        subscription: SubscriptionData,
        offset: int,
        max_nums: int,
        channels: BlockingChannels,
        loop: LoopHandle,
        *,
        suspend_ms: int = BROKER_SUSPEND_MAX_TIME_MS,
        timeout: float | None = None,
    ) -> PullResult:
        """:meth:`pull` from a thread other than the client's loop, as a blocking request on
        ``channels`` (the synchronous facade's path); a broker address not yet known is
        looked up in the loop through ``loop``."""
        instance = self.instance
        addrs = instance.broker_addrs.get(mq.broker_name)
        addr = addrs.get(MASTER_ID) if addrs else None
        if addr is None:
            addr = loop.run(instance.find_broker_addr(mq.broker_name, mq.topic))
        header = self._pull_header(mq, subscription, offset, max_nums, 0, suspend_ms, False)
        response = channels.invoke(addr, request(RequestCode.PULL_MESSAGE, header), self._pull_timeout(timeout, suspend_ms))
        result = instance.api.process_pull_response(addr, response)
        return process_pull_result(mq, result, tags_filter(subscription))

    def _pull_header(
        self,
        mq: MessageQueue,
        subscription: SubscriptionData,
        offset: int,
        max_nums: int,
        commit_offset: int,
        suspend_ms: int,
        lite: bool,
    ) -> H.PullMessageRequestHeader:
        sys_flag = C.PULL_FLAG_SUBSCRIPTION
        if commit_offset > 0:
            sys_flag |= C.PULL_FLAG_COMMIT_OFFSET
        if suspend_ms > 0:
            sys_flag |= C.PULL_FLAG_SUSPEND
        if lite:
            sys_flag |= C.PULL_FLAG_LITE_PULL
        return H.PullMessageRequestHeader(
            consumer_group=self.group,
            topic=mq.topic,
            queue_id=mq.queue_id,
            queue_offset=offset,
            max_msg_nums=max_nums,
            sys_flag=sys_flag,
            commit_offset=commit_offset,
            suspend_timeout_millis=suspend_ms,
            sub_version=subscription.sub_version,
            subscription=subscription.sub_string,
            expression_type=subscription.expression_type,
            broker_name=mq.broker_name,
        )

    def _pull_timeout(self, timeout: float | None, suspend_ms: int) -> float:
        if timeout is not None:
            return timeout
        return CONSUMER_TIMEOUT_WHEN_SUSPEND_S if suspend_ms > 0 else self.instance.config.request_timeout

    # -- retry -----------------------------------------------------------------------------
    async def send_back(self, msg: MessageExt, delay_level: int, max_reconsume_times: int) -> bool:
        """CONSUMER_SEND_MSG_BACK to the broker that stored ``msg``; False if it failed."""
        try:
            addr = await self.instance.find_broker_addr(msg.broker_name or "", msg.topic)
        except MQClientError:
            addr = f"{msg.store_host[0]}:{msg.store_host[1]}"
        header = H.ConsumerSendMsgBackRequestHeader(
            offset=msg.commitlog_offset,
            group=self.group,
            delay_level=delay_level,
            origin_msg_id=msg.msg_id,
            origin_topic=msg.topic,
            unit_mode=False,
            max_reconsume_times=max_reconsume_times,
            broker_name=msg.broker_name,
        )
        try:
            await self.instance.api.consumer_send_msg_back(addr, header, self.instance.config.request_timeout)
        except MQClientError as exc:
            log.warning("send_back_failed", group=self.group, msg_id=msg.msg_id, error=str(exc))
            return False
        return True

    # -- orderly locks ---------------------------------------------------------------------
    async def lock_batch(self, broker_name: str, mqs: Iterable[MessageQueue]) -> set[MessageQueue]:
        addr = self.instance.broker_master_addr(broker_name)
        if addr is None:
            return set()
        body = LockBatchRequestBody(self.group, self.instance.client_id, sorted(mqs)).encode()
        response = await self.instance.remoting.invoke(addr, request(RequestCode.LOCK_BATCH_MQ, body=body), self.instance.config.request_timeout)
        check(response, addr)
        return set(LockBatchResponseBody.decode(response.body).lock_ok_mq_set) if response.body else set()

    async def unlock_batch(self, broker_name: str, mqs: Iterable[MessageQueue]) -> None:
        addr = self.instance.broker_master_addr(broker_name)
        if addr is None:
            return
        body = UnlockBatchRequestBody(self.group, self.instance.client_id, sorted(mqs)).encode()
        response = await self.instance.remoting.invoke(addr, request(RequestCode.UNLOCK_BATCH_MQ, body=body), self.instance.config.request_timeout)
        check(response, addr)
