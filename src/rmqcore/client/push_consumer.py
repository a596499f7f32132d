"""``PushConsumer``: long-polling pulls fed to a listener (``DefaultMQPushConsumer``).

Per owned queue one task pulls (long polling: the broker holds a pull up to
``broker_suspend_max_time_ms``), caches the messages in the queue's
:class:`ProcessQueue` and hands them to the consume service, concurrently or orderly.
Pulling pauses while a queue caches more than ``pull_threshold_for_queue`` messages or
``pull_threshold_size_for_queue_mib``, or (concurrent consumption) spans more than
``consume_concurrently_max_span`` offsets; ``pull_interval_ms`` spaces a queue's pulls
that found messages. Which queues are owned is decided by the :class:`Rebalancer` every
``rebalance_interval`` seconds and whenever the broker says the group changed. Offsets
are committed every ``persist_consumer_offset_interval`` seconds and at shutdown.

CLUSTERING consumers also subscribe ``%RETRY%<group>`` (where failed messages come back).
A concurrent consumer gives up on a message its listener has held for ``consume_timeout_min``
(15 minutes, ``consumeTimeout``): it is sent back for a later retry and no longer holds
the queue's offset.

    async with PushConsumer("group", namesrv_addr="127.0.0.1:9876") as consumer:   # or start()/shutdown()
        ...
Subscribe and register the listener before starting.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
import structlog

from rmqcore.client.client_instance import ClientInstance
from rmqcore.client.config import ClientConfig
from rmqcore.client.consume_concurrently import ConcurrentlyConsumeService
from rmqcore.client.consume_orderly import OrderlyConsumeService
from rmqcore.client.consumer_core import BROKER_SUSPEND_MAX_TIME_MS, ConsumerCore
from rmqcore.client.errors import MQClientError
from rmqcore.client.listener import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    ConsumeOrderlyContext,
    ConsumeOrderlyStatus,
    Listener,
    call_listener,
    listener_callable,
)
from rmqcore.client.process_queue import ProcessQueue
from rmqcore.client.pull_result import PullStatus
from rmqcore.client.rebalancing_consumer import RebalancingConsumer
from rmqcore.client.subscription import MessageSelector, build_subscription_data
from rmqcore.client.validators import check_range
from rmqcore.message import MessageExt, MessageQueue, retry_topic
from rmqcore.rebalance.strategies import AllocateStrategy
from rmqcore.remoting.bodies.client import ConsumeMessageDirectlyResult
from rmqcore.remoting.bodies.heartbeat import ConsumeFromWhere, ConsumeType, MessageModel

log = structlog.get_logger(__name__)

PULL_DELAY_ON_FLOW_CONTROL_S = 0.05
PULL_DELAY_ON_ERROR_S = 3.0
LOCK_RENEW_INTERVAL_S = 20.0
CONSUME_TIMEOUT_MIN = 15.0  # DefaultMQPushConsumer.consumeTimeout (minutes)
"""``REBALANCE_LOCK_INTERVAL``: how often an orderly consumer renews its queue locks."""


class PushConsumer(RebalancingConsumer):
    _consume_type = ConsumeType.CONSUME_PASSIVELY

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
        consume_message_batch_max_size: int = 1,
        pull_batch_size: int = 32,
        pull_threshold_for_queue: int = 1000,
        pull_threshold_size_for_queue_mib: int = 100,
        consume_thread_max: int = 20,
        max_reconsume_times: int = -1,
        suspend_current_queue_time_ms: int = 1000,
        broker_suspend_max_time_ms: int = BROKER_SUSPEND_MAX_TIME_MS,
        rebalance_interval: float = 20.0,
        pull_delay_on_error: float = PULL_DELAY_ON_ERROR_S,
        offset_store_dir: str | None = None,
        consume_timeout_min: float = CONSUME_TIMEOUT_MIN,
        pull_interval_ms: int = 0,
        consume_concurrently_max_span: int = 2000,
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
        self.consume_message_batch_max_size = consume_message_batch_max_size
        self.pull_batch_size = pull_batch_size
        self.pull_threshold_for_queue = pull_threshold_for_queue
        self.pull_threshold_size_for_queue = pull_threshold_size_for_queue_mib * 1024 * 1024
        self.consume_thread_max = consume_thread_max
        self.max_reconsume_times = max_reconsume_times
        self.suspend_current_queue_time_ms = suspend_current_queue_time_ms
        self.broker_suspend_max_time_ms = broker_suspend_max_time_ms
        self.pull_delay_on_error = pull_delay_on_error
        self.consume_timeout_min = consume_timeout_min
        self.pull_interval_ms = pull_interval_ms
        self.consume_concurrently_max_span = consume_concurrently_max_span
        self._listener: Listener | None = None
        self._orderly = False
        self._consume_service: ConcurrentlyConsumeService | OrderlyConsumeService | None = None

    # -- configuration ---------------------------------------------------------------------
    def subscribe(self, topic: str, expression: str | MessageSelector | None = "*") -> None:
        """Subscribe ``topic`` by tag expression (``"TagA || TagC"``, ``"*"``) or a :class:`MessageSelector`."""
        sub = build_subscription_data(topic, expression, self.config.clock.now_ms())
        self.subscriptions[topic] = sub
        if self._instance is not None:
            self._instance.task_group.start_soon(self._after_subscribe, topic)

    def unsubscribe(self, topic: str) -> None:
        self.subscriptions.pop(topic, None)
        self.request_rebalance()

    def register_message_listener(self, listener: Any, *, orderly: bool = False) -> None:
        """``listener(msgs, context)`` → ConsumeConcurrentlyStatus (or ConsumeOrderlyStatus with ``orderly``)."""
        self._listener = listener_callable(listener)
        self._orderly = orderly

    def register_listener_orderly(self, listener: Any) -> None:
        self.register_message_listener(listener, orderly=True)

    @property
    def effective_max_reconsume_times(self) -> int:
        if self.max_reconsume_times >= 0:
            return self.max_reconsume_times
        return 2**31 - 1 if self._orderly else 16

    # -- used by the client instance ---------------------------------------------------------
    async def consume_message_directly(self, msg: MessageExt, broker_name: str | None) -> ConsumeMessageDirectlyResult:
        """CONSUME_MESSAGE_DIRECTLY: give one message to the listener now (``consumeMessageDirectly``)."""
        assert self._listener is not None
        msg.broker_name = broker_name
        mq = MessageQueue(msg.topic, broker_name or "", msg.queue_id)
        context: Any = ConsumeOrderlyContext(mq) if self._orderly else ConsumeConcurrentlyContext(mq)
        started = time.perf_counter()
        remark: str | None
        try:
            status = await call_listener(self._listener, [msg], context, anyio.CapacityLimiter(1))
        except Exception as exc:
            outcome, remark = "CR_THROW_EXCEPTION", f"{type(exc).__name__}: {exc}"
        else:
            remark = None
            if status is None:
                outcome = "CR_RETURN_NULL"
            elif status in (ConsumeConcurrentlyStatus.CONSUME_SUCCESS, ConsumeOrderlyStatus.SUCCESS):
                outcome = "CR_SUCCESS"
            else:
                outcome = "CR_LATER"
        spent = int((time.perf_counter() - started) * 1000)
        return ConsumeMessageDirectlyResult(self._orderly, True, outcome, remark, spent)

    def running_info(self) -> dict[str, Any]:
        """GET_CONSUMER_RUNNING_INFO: settings, subscriptions and the owned queues' state."""
        queues = self._rebalancer.process_queues if self._rebalancer is not None else {}
        offsets = self._core.offset_store.offset_table if self._core is not None else {}
        return {
            "properties": {
                "PROP_CONSUME_TYPE": "CONSUME_PASSIVELY",
                "PROP_CONSUMEORDERLY": str(self._orderly).lower(),
                "PROP_THREADPOOL_CORE_SIZE": str(self.consume_thread_max),
                "PROP_NAMESERVER_ADDR": self.config.namesrv_addr or "",
                "PROP_CLIENT_VERSION": "rmqcore",
                "messageModel": self.message_model.name,
                "consumeFromWhere": self.consume_from_where.name,
            },
            "subscriptionSet": [s.to_json() for s in self.subscriptions.values()],
            # Java keys this table by MessageQueue objects (not JSON); a list carries the same facts.
            "mqTable": [
                {**mq.to_json(), "cachedMsgCount": pq.msg_count, "locked": pq.locked, "consumedOffset": offsets.get(mq, -1)}
                for mq, pq in sorted(queues.items())
            ],
            "statusTable": {},
        }

    # -- lifecycle -------------------------------------------------------------------------
    def _check_can_start(self) -> None:
        super()._check_can_start()
        # DefaultMQPushConsumerImpl.checkConfig's ranges (settings named as in Java)
        check_range("consumeThreadMax", self.consume_thread_max, 1, 1000)
        check_range("pullThresholdForQueue", self.pull_threshold_for_queue, 1, 65535)
        check_range("pullThresholdSizeForQueue", self.pull_threshold_size_for_queue // (1024 * 1024), 1, 1024)
        check_range("consumeMessageBatchMaxSize", self.consume_message_batch_max_size, 1, 1024)
        check_range("pullBatchSize", self.pull_batch_size, 1, 1024)
        check_range("pullInterval", self.pull_interval_ms, 0, 65535)
        check_range("consumeConcurrentlyMaxSpan", self.consume_concurrently_max_span, 1, 65535)
        if self.consume_timeout_min <= 0:
            raise MQClientError(f"consumeTimeout must be positive, got {self.consume_timeout_min} minutes")
        if self._listener is None:
            raise MQClientError("register a message listener before starting the consumer")
        if not self.subscriptions:
            raise MQClientError("subscribe at least one topic before starting the consumer")

    async def _on_start(self, instance: ClientInstance, stack: AsyncExitStack) -> None:
        if self.message_model is MessageModel.CLUSTERING:
            topic = retry_topic(self.group)
            self.subscriptions.setdefault(topic, build_subscription_data(topic, "*", self.config.clock.now_ms()))
        instance.register_consumer(self)
        core = ConsumerCore(instance, self.group, self.message_model, offset_store_dir=self.offset_store_dir)
        await core.offset_store.load()
        self._core = core
        tg = await stack.enter_async_context(anyio.create_task_group())
        self._task_group = tg
        stack.push_async_callback(self._stop, tg)
        self._consume_service = self._make_consume_service(core, tg)
        await self._start_rebalancing(
            instance,
            route_missing_event="subscribe_route_missing",
            orderly=self._orderly,
            lock=self._lock_one if self._orderly else None,
        )
        tg.start_soon(self._rebalance_loop)
        tg.start_soon(self._persist_loop)
        if self._orderly and self.message_model is MessageModel.CLUSTERING:
            tg.start_soon(self._lock_loop)
        if not self._orderly:
            tg.start_soon(self._clean_expired_loop)
        log.info("push_consumer_started", group=self.group, client_id=instance.client_id, model=self.message_model.name)

    def _on_shutdown(self) -> None:
        log.info("push_consumer_shutdown", group=self.group)

    async def _stop(self, tg: anyio.abc.TaskGroup) -> None:
        """Stop pulling, let the queues go (offsets persisted, locks released), end the tasks."""
        with anyio.CancelScope(shield=True):
            self._stop_pulling_all()
            if self._rebalancer is not None:
                await self._rebalancer.drop_all()
            await self.persist_offsets()
            tg.cancel_scope.cancel()

    # -- services --------------------------------------------------------------------------
    def _make_consume_service(self, core: ConsumerCore, tg: anyio.abc.TaskGroup):  # type: ignore[no-untyped-def]
        assert self._listener is not None
        max_times = self.effective_max_reconsume_times

        async def send_back(msg, delay_level):  # type: ignore[no-untyped-def]
            return await core.send_back(msg, delay_level, max_times)

        if self._orderly:
            return OrderlyConsumeService(
                self.group, self._listener, core.offset_store, self.message_model, send_back, tg, self.config.clock,
                batch_max_size=self.consume_message_batch_max_size, consume_thread_max=self.consume_thread_max,
                max_reconsume_times=max_times, suspend_ms=self.suspend_current_queue_time_ms,
            )
        return ConcurrentlyConsumeService(
            self.group, self._listener, core.offset_store, self.message_model, send_back, tg, self.config.clock,
            batch_max_size=self.consume_message_batch_max_size, consume_thread_max=self.consume_thread_max,
        )

    async def _after_subscribe(self, topic: str) -> None:
        assert self._instance is not None
        try:
            await self._instance.update_topic_route(topic)
            await self._instance.send_heartbeat_to_all_brokers()
        except MQClientError as exc:
            log.warning("subscribe_update_failed", topic=topic, error=str(exc))
        self.request_rebalance()

    async def rebalance(self) -> bool:
        """Run one rebalance now; True when the owned queues changed."""
        return await self._rebalance_once()

    async def persist_offsets(self) -> None:
        """Commit every owned queue's consumed offset now."""
        if self._core is None or self._rebalancer is None:
            return
        await self._core.offset_store.persist_all(list(self._rebalancer.process_queues) + list(self._core.offset_store.offset_table))

    async def _clean_expired_loop(self) -> None:
        """Every ``consume_timeout_min``: give up on messages the listener has held that long
        (sent back to the broker for a later retry; see consume_concurrently.py)."""
        interval_s = self.consume_timeout_min * 60
        while True:
            await anyio.sleep(interval_s)
            service, rebalancer = self._consume_service, self._rebalancer
            if not isinstance(service, ConcurrentlyConsumeService) or rebalancer is None:
                continue
            try:
                await service.clean_expired(rebalancer.process_queues, int(interval_s * 1000))
            except Exception:
                log.exception("clean_expired_crashed", group=self.group)

    async def _persist_loop(self) -> None:
        while True:
            await anyio.sleep(self.config.persist_consumer_offset_interval)
            try:
                await self.persist_offsets()
            except Exception:
                log.exception("offset_persist_crashed", group=self.group)

    # -- queues ----------------------------------------------------------------------------
    async def _on_queue_removed(self, mq: MessageQueue, pq: ProcessQueue) -> bool:
        """Stop pulling ``mq``, commit its offset and (orderly CLUSTERING) release its lock.

        Orderly: first wait (up to 1 s) for the batch the listener may still hold, so its offset
        is committed and the next owner never consumes the queue while we still do
        (``removeUnnecessaryMessageQueue``).
        """
        self._stop_pulling(mq)
        service = self._consume_service
        if self._orderly and self.message_model is MessageModel.CLUSTERING and isinstance(service, OrderlyConsumeService):
            lock = service.queue_lock(mq)
            acquired = False
            with anyio.move_on_after(1.0):
                await lock.acquire()
                acquired = True
            if not acquired:
                log.warning("orderly_queue_busy_at_release", mq=str(mq))
            try:
                await self._release(mq, unlock=True)
            finally:
                if acquired:
                    lock.release()
            return True
        await self._release(mq, unlock=False)
        return True

    async def _release(self, mq: MessageQueue, *, unlock: bool) -> None:
        await self._persist_and_forget_offset(mq)
        if unlock:
            assert self._core is not None
            try:
                await self._core.unlock_batch(mq.broker_name, [mq])
            except MQClientError as exc:
                log.info("unlock_failed", mq=str(mq), error=str(exc))

    async def _lock_one(self, mq: MessageQueue) -> bool:
        assert self._core is not None
        try:
            return mq in await self._core.lock_batch(mq.broker_name, [mq])
        except MQClientError as exc:
            log.info("lock_failed", mq=str(mq), error=str(exc))
            return False

    async def lock_all(self) -> None:
        """Renew the broker-side locks of every owned queue (orderly CLUSTERING)."""
        assert self._core is not None and self._rebalancer is not None
        by_broker: dict[str, list[MessageQueue]] = {}
        for mq in self._rebalancer.process_queues:
            by_broker.setdefault(mq.broker_name, []).append(mq)
        now = self.config.clock.now_ms()
        for broker, mqs in by_broker.items():
            try:
                locked = await self._core.lock_batch(broker, mqs)
            except MQClientError as exc:
                log.warning("lock_renew_failed", broker=broker, error=str(exc))
                continue
            for mq in mqs:
                pq = self._rebalancer.process_queues.get(mq)
                if pq is None:
                    continue
                was_locked = pq.locked and not pq.is_lock_expired()
                pq.locked = mq in locked
                if pq.locked:
                    pq.last_lock_ms = now
                    if not was_locked and pq.has_temp_messages() and self._consume_service is not None:
                        self._consume_service.submit([], pq, mq, dispatch=True)

    async def _lock_loop(self) -> None:
        while True:
            await anyio.sleep(LOCK_RENEW_INTERVAL_S)
            try:
                await self.lock_all()
            except Exception:
                log.exception("lock_renew_crashed", group=self.group)

    async def _pull_loop(self, mq: MessageQueue, pq: ProcessQueue, offset: int, scope: anyio.CancelScope) -> None:
        assert self._core is not None and self._consume_service is not None
        core, service = self._core, self._consume_service
        with scope:
            while not pq.dropped:
                pq.last_pull_ms = self.config.clock.now_ms()
                if pq.msg_count > self.pull_threshold_for_queue or pq.msg_size > self.pull_threshold_size_for_queue:
                    await anyio.sleep(PULL_DELAY_ON_FLOW_CONTROL_S)
                    continue
                if not self._orderly and pq.max_span() > self.consume_concurrently_max_span:
                    await anyio.sleep(PULL_DELAY_ON_FLOW_CONTROL_S)
                    continue
                subscription = self.subscriptions.get(mq.topic)
                if subscription is None:
                    return
                commit = 0
                if self.message_model is MessageModel.CLUSTERING:
                    commit = core.offset_store.offset_table.get(mq, 0)
                try:
                    result = await core.pull(
                        mq, subscription, offset, self.pull_batch_size,
                        commit_offset=commit, suspend_ms=self.broker_suspend_max_time_ms,
                    )
                except MQClientError as exc:
                    log.warning("pull_failed", group=self.group, mq=str(mq), offset=offset, error=str(exc))
                    await anyio.sleep(self.pull_delay_on_error)
                    continue
                except Exception:
                    # A malformed response: keep this queue's loop alive, retry after the pause.
                    log.exception("pull_crashed", group=self.group, mq=str(mq), offset=offset)
                    await anyio.sleep(self.pull_delay_on_error)
                    continue
                if pq.dropped:
                    return
                if result.status is PullStatus.FOUND:
                    offset = result.next_begin_offset
                    if result.msg_found_list:
                        dispatch = pq.put_messages(result.msg_found_list)
                        service.submit(result.msg_found_list, pq, mq, dispatch)
                    elif pq.msg_count == 0:
                        core.offset_store.update_offset(mq, offset, increase_only=True)
                    if self.pull_interval_ms:
                        # pullInterval: a consumer throttled on purpose pulls a queue at most this often.
                        await anyio.sleep(self.pull_interval_ms / 1000)
                elif result.status in (PullStatus.NO_NEW_MSG, PullStatus.NO_MATCHED_MSG):
                    offset = result.next_begin_offset
                    if pq.msg_count == 0:
                        # Nothing cached: everything before next_begin_offset is consumed or filtered out.
                        core.offset_store.update_offset(mq, offset, increase_only=True)
                else:  # OFFSET_ILLEGAL
                    log.warning("pull_offset_illegal", group=self.group, mq=str(mq), offset=offset, next=result.next_begin_offset)
                    offset = result.next_begin_offset
                    core.offset_store.update_offset(mq, offset)
