"""What the consumers whose queues the group shares out have in common.

:class:`PushConsumer` and :class:`LitePullConsumer` both subscribe topics and announce them
in their heartbeats, let a :class:`Rebalancer` decide which of the topics' queues they own
(every ``rebalance_interval`` seconds, and at once when the broker says the group changed)
and pull each owned queue in a task of its own. They differ in what the pulled messages
are for (a listener; ``poll()``), which stays in their own files.
"""

from __future__ import annotations

import abc

from collections.abc import Awaitable, Callable
from typing import ClassVar

import anyio
import anyio.abc
import structlog

from rmqcore.client.client_instance import ClientInstance
from rmqcore.client.config import ClientConfig
from rmqcore.client.consumer_core import ConsumerCore, parse_consume_timestamp
from rmqcore.client.errors import ClientStateError, MQClientError
from rmqcore.client.lifecycle import ClientLifecycle
from rmqcore.client.process_queue import ProcessQueue
from rmqcore.client.rebalance_service import RebalanceHooks, Rebalancer, as_allocate_strategy
from rmqcore.client.validators import check_consumer_group
from rmqcore.message import MessageQueue
from rmqcore.rebalance.strategies import AllocateStrategy
from rmqcore.remoting.bodies.heartbeat import ConsumeFromWhere, ConsumerData, ConsumeType, MessageModel, SubscriptionData

log = structlog.get_logger(__name__)


class RebalancingConsumer(ClientLifecycle):
    """Base of :class:`PushConsumer` and :class:`LitePullConsumer`; see the module docstring.

    A subclass sets ``_consume_type``, calls :meth:`_start_rebalancing` from its ``_on_start``
    once ``_core`` and ``_task_group`` are set, and implements :meth:`_pull_loop` and
    :meth:`_on_queue_removed`.
    """

    _consume_type: ClassVar[ConsumeType]
    """How heartbeats describe the consumer (pushed to a listener or pulled by the application)."""

    def __init__(
        self,
        group: str,
        config: ClientConfig,
        *,
        message_model: MessageModel | str,
        consume_from_where: ConsumeFromWhere | str,
        consume_timestamp: str | int | None,
        allocate_strategy: AllocateStrategy | str,
        rebalance_interval: float,
        offset_store_dir: str | None,
    ) -> None:
        self.group = group
        self.config = config
        self.message_model = MessageModel[message_model] if isinstance(message_model, str) else message_model
        self.consume_from_where = (
            ConsumeFromWhere[consume_from_where] if isinstance(consume_from_where, str) else consume_from_where
        )
        self.consume_timestamp = consume_timestamp
        self.strategy = as_allocate_strategy(allocate_strategy)
        self.rebalance_interval = rebalance_interval
        self.offset_store_dir = offset_store_dir
        self.subscriptions: dict[str, SubscriptionData] = {}
        self._core: ConsumerCore | None = None
        self._rebalancer: Rebalancer | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._rebalance_wanted = anyio.Event()
        self._pulling: dict[MessageQueue, tuple[ProcessQueue, anyio.CancelScope]] = {}
        """The owned queues being pulled, each with the scope that stops its pull task."""

    @property
    def _client_name(self) -> str:
        return f"consumer {self.group}"

    def _check_can_start(self) -> None:
        check_consumer_group(self.group)

    # -- ConsumerHandle (used by the client instance) --------------------------------------
    def subscribed_topics(self) -> set[str]:
        return set(self.subscriptions)

    def consumer_data(self) -> ConsumerData:
        return ConsumerData(
            self.group,
            self._consume_type,
            self.message_model,
            self.consume_from_where,
            list(self.subscriptions.values()),
        )

    def on_subscribe_queues_changed(self, topic: str, queues: set[MessageQueue]) -> None:
        if self._rebalancer is not None:
            self._rebalancer.topic_queues[topic] = queues

    def request_rebalance(self) -> None:
        self._rebalance_wanted.set()

    # -- start -----------------------------------------------------------------------------
    async def _start_rebalancing(
        self,
        instance: ClientInstance,
        *,
        route_missing_event: str,
        orderly: bool = False,
        lock: Callable[[MessageQueue], Awaitable[bool]] | None = None,
    ) -> None:
        """Create the rebalancer, look up the subscribed topics' routes, announce the consumer."""
        self._rebalancer = Rebalancer(
            self.group,
            instance.client_id,
            self.message_model,
            self.strategy,
            RebalanceHooks(
                find_consumer_ids=lambda topic: instance.find_consumer_id_list(topic, self.group),
                compute_pull_from_where=self._compute_pull_from_where,
                on_queue_added=self._start_pulling,
                on_queue_removed=self._on_queue_removed,
                lock=lock,
            ),
            orderly=orderly,
            clock=self.config.clock,
        )
        for topic in list(self.subscriptions):
            try:
                await instance.update_topic_route(topic)
            except MQClientError as exc:
                log.warning(route_missing_event, group=self.group, topic=topic, error=str(exc))
        await instance.send_heartbeat_to_all_brokers()

    def _started_core(self) -> ConsumerCore:
        if self._core is None:
            raise ClientStateError(f"{self._client_name} is not started")
        return self._core

    # -- rebalance ---------------------------------------------------------------------------
    async def _rebalance_once(self) -> bool:
        """Rebalance now; True when the owned queues changed."""
        assert self._rebalancer is not None and self._instance is not None
        for topic in self.subscriptions:
            if topic not in self._rebalancer.topic_queues:
                try:
                    self._rebalancer.topic_queues[topic] = await self._instance.subscribe_queues(topic)
                except MQClientError as exc:
                    log.warning("rebalance_no_route", group=self.group, topic=topic, error=str(exc))
        return await self._rebalancer.do_rebalance(list(self.subscriptions))

    def _keeps_rebalancing(self) -> bool:
        """False ends the rebalance loop."""
        return True

    async def _rebalance_loop(self) -> None:
        while self._keeps_rebalancing():
            try:
                await self._rebalance_once()
            except MQClientError as exc:
                log.warning("rebalance_failed", group=self.group, error=str(exc))
            except Exception:
                log.exception("rebalance_crashed", group=self.group)
            # A subscribed topic without a route yet (not created so far) is looked up again
            # within a second, not only at the next route refresh (30 s) as in Java.
            missing = self._rebalancer is not None and any(t not in self._rebalancer.topic_queues for t in self.subscriptions)
            with anyio.move_on_after(min(self.rebalance_interval, 1.0) if missing else self.rebalance_interval):
                await self._rebalance_wanted.wait()
            self._rebalance_wanted = anyio.Event()

    async def _compute_pull_from_where(self, mq: MessageQueue) -> int:
        ts = parse_consume_timestamp(self.consume_timestamp, self.config.clock.now_ms())
        return await self._started_core().compute_pull_from_where(mq, self.consume_from_where, ts)

    # -- owned queues ------------------------------------------------------------------------
    def _start_pulling(self, mq: MessageQueue, pq: ProcessQueue, offset: int) -> None:
        assert self._task_group is not None
        scope = anyio.CancelScope()
        self._pulling[mq] = (pq, scope)
        self._task_group.start_soon(self._pull_loop, mq, pq, offset, scope)

    def _stop_pulling(self, mq: MessageQueue) -> None:
        entry = self._pulling.pop(mq, None)
        if entry is not None:
            entry[1].cancel()

    def _stop_pulling_all(self) -> None:
        for _pq, scope in self._pulling.values():
            scope.cancel()

    async def _persist_and_forget_offset(self, mq: MessageQueue) -> None:
        """Commit the offset of a queue this consumer lets go; its next owner starts there."""
        store = self._started_core().offset_store
        try:
            await store.persist(mq)
        except MQClientError as exc:
            log.warning("offset_persist_on_release_failed", mq=str(mq), error=str(exc))
        store.remove_offset(mq)

    # -- for the subclass --------------------------------------------------------------------
    @abc.abstractmethod
    async def _pull_loop(self, mq: MessageQueue, pq: ProcessQueue, offset: int, scope: anyio.CancelScope) -> None:
        """Pull ``mq`` from ``offset`` into ``pq`` until ``scope`` is cancelled (the queue is let go)."""

    @abc.abstractmethod
    async def _on_queue_removed(self, mq: MessageQueue, pq: ProcessQueue) -> bool:
        """Rebalance took ``mq`` away: True when it may be released now (orderly consumers may refuse)."""
