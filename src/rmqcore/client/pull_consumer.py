"""``PullConsumer``: raw pulls, the application tracks offsets (``DefaultMQPullConsumer``).

``pull(queue, expr, offset, max_nums)`` answers at once (FOUND / NO_NEW_MSG / NO_MATCHED_MSG /
OFFSET_ILLEGAL with ``next_begin_offset``); ``pull_block_if_not_found`` long-polls instead.
Offsets can be kept on the broker with ``update_consume_offset`` / ``fetch_consume_offset``.
``register_topics`` makes the consumer announce the topics in its heartbeat, so that
``fetch_message_queues_in_balance`` can share queues with the other members of the group.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import structlog

from rmqcore.client.client_instance import ClientInstance
from rmqcore.client.config import ClientConfig
from rmqcore.client.consumer_core import BROKER_SUSPEND_MAX_TIME_MS, ConsumerCore
from rmqcore.client.errors import ClientStateError
from rmqcore.client.lifecycle import ClientLifecycle
from rmqcore.client.offset_store import ReadOffsetType
from rmqcore.client.pull_result import PullResult
from rmqcore.client.rebalance_service import RebalanceHooks, Rebalancer, as_allocate_strategy
from rmqcore.client.subscription import MessageSelector, build_subscription_data
from rmqcore.client.validators import check_consumer_group
from rmqcore.message import MessageExt, MessageQueue
from rmqcore.rebalance.strategies import AllocateStrategy
from rmqcore.remoting.bodies.heartbeat import ConsumeFromWhere, ConsumerData, ConsumeType, MessageModel, SubscriptionData

if TYPE_CHECKING:
    from rmqcore.client.blocking_channel import BlockingChannels
    from rmqcore.client.loop_handle import LoopHandle

log = structlog.get_logger(__name__)

_MAX_CACHED_SUBSCRIPTIONS = 256


class PullConsumer(ClientLifecycle):
    def __init__(
        self,
        group: str,
        namesrv_addr: str | None = None,
        *,
        config: ClientConfig | None = None,
        instance_name: str | None = None,
        message_model: MessageModel = MessageModel.CLUSTERING,
        allocate_strategy: AllocateStrategy | str = "AVG",
        register_topics: Iterable[str] = (),
    ) -> None:
        self.group = group
        self.config = config or ClientConfig(namesrv_addr=namesrv_addr, instance_name=instance_name)
        self.message_model = message_model
        self.strategy = as_allocate_strategy(allocate_strategy)
        self.register_topics = set(register_topics)
        self._core: ConsumerCore | None = None
        self._subscriptions: dict[tuple[str, str | MessageSelector | None], SubscriptionData] = {}

    # -- ConsumerHandle --------------------------------------------------------------------
    def subscribed_topics(self) -> set[str]:
        return set(self.register_topics)

    def consumer_data(self) -> ConsumerData:
        subs = [build_subscription_data(t, "*", 0) for t in sorted(self.register_topics)]
        return ConsumerData(self.group, ConsumeType.CONSUME_ACTIVELY, self.message_model, ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET, subs)

    def on_subscribe_queues_changed(self, topic: str, queues: set[MessageQueue]) -> None:
        pass

    def request_rebalance(self) -> None:
        pass

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def _client_name(self) -> str:
        return f"consumer {self.group}"

    def _check_can_start(self) -> None:
        check_consumer_group(self.group)

    async def _on_start(self, instance: ClientInstance, stack: AsyncExitStack) -> None:
        instance.register_consumer(self)
        self._core = ConsumerCore(instance, self.group, self.message_model)
        await self._core.offset_store.load()
        for topic in self.register_topics:
            await instance.update_topic_route(topic)
        await instance.send_heartbeat_to_all_brokers()
        stack.push_async_callback(self._persist)

    async def _persist(self) -> None:
        if self._core is not None:
            await self._core.offset_store.persist_all(list(self._core.offset_store.offset_table))

    def _on_shutdown(self) -> None:
        self._core = None

    @property
    def core(self) -> ConsumerCore:
        if self._core is None:
            raise ClientStateError(f"consumer {self.group} is not started")
        return self._core

    # -- queues and pulls -------------------------------------------------------------------
    async def fetch_subscribe_message_queues(self, topic: str) -> list[MessageQueue]:
        return sorted(await self.core.instance.subscribe_queues(topic))

    async def fetch_message_queues_in_balance(self, topic: str) -> list[MessageQueue]:
        """This member's share of ``topic`` among the group's live consumers."""
        instance = self.core.instance
        rebalancer = Rebalancer(
            self.group, instance.client_id, self.message_model, self.strategy,
            RebalanceHooks(find_consumer_ids=lambda t: instance.find_consumer_id_list(t, self.group),
                           compute_pull_from_where=_unused, on_queue_added=lambda *a: None, on_queue_removed=_unused_removal),
            clock=self.config.clock,
        )
        rebalancer.topic_queues[topic] = await instance.subscribe_queues(topic)
        if self.message_model is MessageModel.BROADCASTING:
            return sorted(rebalancer.topic_queues[topic])
        return rebalancer.allocate(topic, await instance.find_consumer_id_list(topic, self.group))

    def _subscription(self, topic: str, expression: str | MessageSelector | None) -> SubscriptionData:
        """The subscription a pull carries, parsed once per (topic, expression) (read-only after)."""
        key = (topic, expression)
        sub = self._subscriptions.get(key)
        if sub is None:
            sub = build_subscription_data(topic, expression, 0)
            if len(self._subscriptions) >= _MAX_CACHED_SUBSCRIPTIONS:
                self._subscriptions.clear()
            self._subscriptions[key] = sub
        return sub

    async def pull(self, mq: MessageQueue, expression: str | MessageSelector | None, offset: int, max_nums: int, timeout: float | None = None) -> PullResult:
        return await self.core.pull(mq, self._subscription(mq.topic, expression), offset, max_nums, suspend_ms=0, timeout=timeout)

    async def pull_block_if_not_found(self, mq: MessageQueue, expression: str | MessageSelector | None, offset: int, max_nums: int) -> PullResult:
        return await self.core.pull(mq, self._subscription(mq.topic, expression), offset, max_nums)

    def pull_blocking(
        self,
        mq: MessageQueue,
        expression: str | MessageSelector | None,
        offset: int,
        max_nums: int,
        channels: BlockingChannels,
        loop: LoopHandle,
        *,
        timeout: float | None = None,
        block_if_not_found: bool = False,
    ) -> PullResult:
        """:meth:`pull` (or with ``block_if_not_found`` :meth:`pull_block_if_not_found`) from a
        thread outside the client's loop, as a blocking request on ``channels``."""
        suspend_ms = BROKER_SUSPEND_MAX_TIME_MS if block_if_not_found else 0
        subscription = self._subscription(mq.topic, expression)
        return self.core.pull_blocking(mq, subscription, offset, max_nums, channels, loop, suspend_ms=suspend_ms, timeout=timeout)

    def update_consume_offset(self, mq: MessageQueue, offset: int) -> None:
        self.core.offset_store.update_offset(mq, offset)

    async def fetch_consume_offset(self, mq: MessageQueue, from_store: bool = True) -> int:
        how = ReadOffsetType.READ_FROM_STORE if from_store else ReadOffsetType.MEMORY_FIRST_THEN_STORE
        return await self.core.offset_store.read_offset(mq, how)

    async def persist_consume_offsets(self) -> None:
        await self._persist()

    async def max_offset(self, mq: MessageQueue) -> int:
        return await self.core.max_offset(mq)

    async def min_offset(self, mq: MessageQueue) -> int:
        return await self.core.min_offset(mq)

    async def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        return await self.core.search_offset(mq, timestamp_ms)

    async def send_message_back(self, msg: MessageExt, delay_level: int, max_reconsume_times: int = 16) -> bool:
        return await self.core.send_back(msg, delay_level, max_reconsume_times)


async def _unused(*_args: object) -> int:
    raise AssertionError("fetch_message_queues_in_balance only allocates")


async def _unused_removal(*_args: object) -> bool:
    raise AssertionError("fetch_message_queues_in_balance only allocates")
