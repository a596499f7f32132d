"""``LitePullConsumer``: the application polls (``DefaultLitePullConsumer``).

Two modes, as in Java: ``subscribe(topic, expr)`` lets the group rebalance the queues among
its members; ``assign(queues)`` takes exactly the given queues (no rebalance). Either way a
task per queue long-polls the broker and caches what it pulls (at most
``pull_threshold_for_queue`` messages per queue), and ``poll(timeout)`` hands out the next
batch. With ``auto_commit`` (default) polled messages count as consumed and offsets are
committed every ``auto_commit_interval`` seconds and at shutdown; without it, ``commit()``
commits what has been polled so far. ``seek(queue, offset)`` restarts a queue at an offset.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from contextlib import AsyncExitStack

import anyio
import anyio.abc
import structlog

from rmqcore.client.client_instance import ClientInstance
from rmqcore.client.config import ClientConfig
from rmqcore.client.consumer_core import ConsumerCore
from rmqcore.client.errors import ClientStateError, MQClientError
from rmqcore.client.process_queue import ProcessQueue
from rmqcore.client.pull_result import PullStatus
from rmqcore.client.rebalancing_consumer import RebalancingConsumer
from rmqcore.client.subscription import MessageSelector, build_subscription_data
from rmqcore.client.validators import check_range
from rmqcore.message import MessageExt, MessageQueue
from rmqcore.rebalance.strategies import AllocateStrategy
from rmqcore.remoting.bodies.heartbeat import ConsumeFromWhere, ConsumeType, MessageModel

log = structlog.get_logger(__name__)


class LitePullConsumer(RebalancingConsumer):
    _consume_type = ConsumeType.CONSUME_ACTIVELY

    def __init__(
        self,
        group: str,
        namesrv_addr: str | None = None,
        *,
        config: ClientConfig | None = None,
        instance_name: str | None = None,
        message_model: MessageModel | str = MessageModel.CLUSTERING,
        consume_from_where: ConsumeFromWhere | str = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
        consume_timestamp: str | int | None = None,
        allocate_strategy: AllocateStrategy | str = "AVG",
        auto_commit: bool = True,
        auto_commit_interval: float = 5.0,
        pull_batch_size: int = 10,
        pull_threshold_for_queue: int = 1000,
        broker_suspend_max_time_ms: int = 20_000,
        rebalance_interval: float = 20.0,
        pull_delay_on_error: float = 1.0,
        offset_store_dir: str | None = None,
    ) -> None:
        super().__init__(
            group,
            config or ClientConfig(namesrv_addr=namesrv_addr, instance_name=instance_name),
            message_model=message_model,
            consume_from_where=consume_from_where,
            consume_timestamp=consume_timestamp,
            allocate_strategy=allocate_strategy,
            rebalance_interval=rebalance_interval,
            offset_store_dir=offset_store_dir,
        )
        self.auto_commit = auto_commit
        self.auto_commit_interval = auto_commit_interval
        self.pull_batch_size = pull_batch_size
        self.pull_threshold_for_queue = pull_threshold_for_queue
        self.broker_suspend_max_time_ms = broker_suspend_max_time_ms
        self.pull_delay_on_error = pull_delay_on_error
        self._assigned: list[MessageQueue] | None = None
        self._ready: deque[tuple[MessageQueue, ProcessQueue, list[MessageExt]]] = deque()
        self._ready_event = anyio.Event()
        self._polled_offsets: dict[MessageQueue, int] = {}
        self._assignment_dirty = False
        self._assignment_lock = anyio.Lock()

    def _check_can_start(self) -> None:
        super()._check_can_start()
        # DefaultLitePullConsumerImpl.checkConfig's ranges
        check_range("pullBatchSize", self.pull_batch_size, 1, 1024)
        check_range("pullThresholdForQueue", self.pull_threshold_for_queue, 1, 65535)

    # -- configuration ---------------------------------------------------------------------
    def subscribe(self, topic: str, expression: str | MessageSelector | None = "*") -> None:
        if self._assigned is not None:
            raise MQClientError("subscribe and assign are exclusive")
        self.subscriptions[topic] = build_subscription_data(topic, expression, self.config.clock.now_ms())
        if self._instance is not None:
            self.request_rebalance()

    def assign(self, queues: Iterable[MessageQueue]) -> None:
        """Consume exactly ``queues`` (no rebalance); callable before or after start."""
        if self.subscriptions and self._assigned is None:
            raise MQClientError("subscribe and assign are exclusive")
        self._assigned = sorted(set(queues))
        for mq in self._assigned:
            self.subscriptions.setdefault(mq.topic, build_subscription_data(mq.topic, "*", self.config.clock.now_ms()))
        # Applied by the next poll/seek (or start), so a seek right after assign finds its queue.
        self._assignment_dirty = True

    def set_sub_expression_for_assign(self, topic: str, expression: str | MessageSelector) -> None:
        self.subscriptions[topic] = build_subscription_data(topic, expression, self.config.clock.now_ms())

    # -- lifecycle -------------------------------------------------------------------------
    async def _on_start(self, instance: ClientInstance, stack: AsyncExitStack) -> None:
        instance.register_consumer(self)
        core = ConsumerCore(instance, self.group, self.message_model, offset_store_dir=self.offset_store_dir)
        await core.offset_store.load()
        self._core = core
        tg = await stack.enter_async_context(anyio.create_task_group())
        self._task_group = tg
        stack.push_async_callback(self._stop, tg)
        await self._start_rebalancing(instance, route_missing_event="lite_pull_route_missing")
        if self._assigned is not None:
            await self._apply_assignment()
        else:
            tg.start_soon(self._rebalance_loop)
        tg.start_soon(self._auto_commit_loop)
        log.info("lite_pull_consumer_started", group=self.group, client_id=instance.client_id)

    async def _stop(self, tg: anyio.abc.TaskGroup) -> None:
        with anyio.CancelScope(shield=True):
            self._stop_pulling_all()
            if self.auto_commit:
                await self.commit()
            elif self._core is not None:
                await self._core.offset_store.persist_all(list(self._core.offset_store.offset_table))
            tg.cancel_scope.cancel()

    @property
    def core(self) -> ConsumerCore:
        return self._started_core()

    # -- queues ----------------------------------------------------------------------------
    async def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        return sorted(await self._started_instance().subscribe_queues(topic))

    def assignment(self) -> list[MessageQueue]:
        return sorted(self._pulling)

    async def _apply_assignment(self) -> None:
        async with self._assignment_lock:
            self._assignment_dirty = False
            await self._reconcile_assignment()

    async def _reconcile_assignment(self) -> None:
        assert self._assigned is not None
        wanted = set(self._assigned)
        for mq in [m for m in self._pulling if m not in wanted]:
            pq, _ = self._pulling[mq]
            await self._on_queue_removed(mq, pq)
        for mq in self._assigned:
            if mq not in self._pulling:
                offset = await self._compute_pull_from_where(mq)
                self._start_pulling(mq, ProcessQueue(self.config.clock), max(offset, 0))

    async def _on_queue_removed(self, mq: MessageQueue, pq: ProcessQueue) -> bool:
        pq.dropped = True
        self._stop_pulling(mq)
        self._ready = deque(r for r in self._ready if r[0] != mq)
        if self.auto_commit and mq in self._polled_offsets:
            self.core.offset_store.update_offset(mq, self._polled_offsets.pop(mq))
        await self._persist_and_forget_offset(mq)
        return True

    async def seek(self, mq: MessageQueue, offset: int) -> None:
        """Consume ``mq`` from ``offset`` next (cached messages of the queue are dropped)."""
        if self._assignment_dirty:
            await self._apply_assignment()
        entry = self._pulling.get(mq)
        if entry is None:
            raise MQClientError(f"The message queue is not in assigned list, may be rebalancing, message queue: {mq}")
        old_pq, scope = entry
        old_pq.dropped = True
        scope.cancel()
        self._ready = deque(r for r in self._ready if r[0] != mq)
        self._polled_offsets.pop(mq, None)
        self.core.offset_store.update_offset(mq, offset)
        self._start_pulling(mq, ProcessQueue(self.config.clock), offset)

    async def seek_to_begin(self, mq: MessageQueue) -> None:
        await self.seek(mq, await self.core.min_offset(mq))

    async def seek_to_end(self, mq: MessageQueue) -> None:
        await self.seek(mq, await self.core.max_offset(mq))

    async def committed(self, mq: MessageQueue) -> int:
        from rmqcore.client.offset_store import ReadOffsetType

        return await self.core.offset_store.read_offset(mq, ReadOffsetType.READ_FROM_STORE)

    # -- polling ---------------------------------------------------------------------------
    async def poll(self, timeout: float = 5.0) -> list[MessageExt]:
        """The next batch of pulled messages, or ``[]`` if none arrives within ``timeout`` seconds."""
        if self._stack is None:
            raise ClientStateError(f"consumer {self.group} is not started")
        if self._assignment_dirty:
            await self._apply_assignment()
        with anyio.move_on_after(timeout):
            while not self._ready:
                await self._ready_event.wait()
                self._ready_event = anyio.Event()
        while self._ready:
            mq, pq, msgs = self._ready.popleft()
            if pq.dropped:
                continue
            offset = pq.remove_messages(msgs)
            if offset >= 0:
                if self.auto_commit:
                    self.core.offset_store.update_offset(mq, offset, increase_only=True)
                else:
                    self._polled_offsets[mq] = offset
            return msgs
        return []

    async def commit(self) -> None:
        """Commit what has been polled (manual mode) and persist every offset now."""
        store = self.core.offset_store
        for mq, offset in list(self._polled_offsets.items()):
            store.update_offset(mq, offset)
        self._polled_offsets.clear()
        await store.persist_all(list(store.offset_table))

    commit_sync = commit

    async def _auto_commit_loop(self) -> None:
        while self.auto_commit:
            await anyio.sleep(self.auto_commit_interval)
            try:
                await self.core.offset_store.persist_all(list(self.core.offset_store.offset_table))
            except Exception:
                log.exception("auto_commit_crashed", group=self.group)

    def _keeps_rebalancing(self) -> bool:
        return self._assigned is None  # assign() switches the consumer to manual queues

    async def _pull_loop(self, mq: MessageQueue, pq: ProcessQueue, offset: int, scope: anyio.CancelScope) -> None:
        core = self.core
        with scope:
            while not pq.dropped:
                if pq.msg_count >= self.pull_threshold_for_queue:
                    await anyio.sleep(0.05)
                    continue
                subscription = self.subscriptions.get(mq.topic)
                if subscription is None:
                    return
                try:
                    result = await core.pull(mq, subscription, offset, self.pull_batch_size, suspend_ms=self.broker_suspend_max_time_ms, lite=True)
                except MQClientError as exc:
                    log.warning("lite_pull_failed", mq=str(mq), offset=offset, error=str(exc))
                    await anyio.sleep(self.pull_delay_on_error)
                    continue
                except Exception:
                    log.exception("lite_pull_crashed", mq=str(mq), offset=offset)
                    await anyio.sleep(self.pull_delay_on_error)
                    continue
                if pq.dropped:
                    return
                offset = result.next_begin_offset
                if result.status is PullStatus.FOUND and result.msg_found_list:
                    pq.put_messages(result.msg_found_list)
                    self._ready.append((mq, pq, result.msg_found_list))
                    self._ready_event.set()
                elif result.status is PullStatus.OFFSET_ILLEGAL:
                    log.warning("lite_pull_offset_illegal", mq=str(mq), next=offset)
