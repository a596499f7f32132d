"""``Rebalancer``: which queues this consumer owns, and the process queues that follow from it.

``RebalanceImpl`` without the threads: for each subscribed topic it takes the readable
queues and (CLUSTERING) the group's live consumer ids, sorts both, asks the allocate
strategy from ``rmqcore.rebalance`` for this consumer's share, and reconciles the process
queue table: queues no longer owned are dropped (offset persisted, lock released), new ones
start at the offset ``compute_pull_from_where`` gives. BROADCASTING owns every queue.

Network actions are injected (:class:`RebalanceHooks`), so the whole decision runs in tests
by calling :meth:`Rebalancer.do_rebalance` directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import anyio
import structlog

from rmqcore.client.errors import MQClientError
from rmqcore.client.process_queue import ProcessQueue
from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.message import MessageQueue
from rmqcore.rebalance import strategy_by_name
from rmqcore.rebalance.errors import RebalanceError
from rmqcore.rebalance.strategies import AllocateStrategy
from rmqcore.remoting.bodies.heartbeat import MessageModel

log = structlog.get_logger(__name__)


@dataclass
class RebalanceHooks:
    """What a rebalance needs from the outside world."""

    find_consumer_ids: Callable[[str], Awaitable[list[str]]]
    """topic → live consumer ids of the group (GET_CONSUMER_LIST_BY_GROUP)."""
    compute_pull_from_where: Callable[[MessageQueue], Awaitable[int]]
    """Where a newly owned queue starts; < 0 means "not now, try at the next rebalance"."""
    on_queue_added: Callable[[MessageQueue, ProcessQueue, int], None]
    """Start pulling ``mq`` from the offset."""
    on_queue_removed: Callable[[MessageQueue, ProcessQueue], Awaitable[bool]]
    """Persist the offset (and unlock) before letting go; False keeps the queue this round."""
    lock: Callable[[MessageQueue], Awaitable[bool]] | None = None
    """Orderly CLUSTERING: take the broker-side lock before owning a queue."""


def as_allocate_strategy(value: AllocateStrategy | str) -> AllocateStrategy:
    """A strategy given by name (``"AVG"``, …) or as the function itself."""
    return strategy_by_name(value) if isinstance(value, str) else value


class Rebalancer:
    def __init__(
        self,
        group: str,
        client_id: str,
        message_model: MessageModel,
        strategy: AllocateStrategy,
        hooks: RebalanceHooks,
        *,
        orderly: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.group = group
        self.client_id = client_id
        self.message_model = message_model
        self.strategy = strategy
        self.hooks = hooks
        self.orderly = orderly
        self.clock = clock
        self.topic_queues: dict[str, set[MessageQueue]] = {}
        self.process_queues: dict[MessageQueue, ProcessQueue] = {}
        self._lock = anyio.Lock()

    def allocate(self, topic: str, cid_all: Iterable[str]) -> list[MessageQueue]:
        """This consumer's share of ``topic`` (both lists sorted first, as ``RebalanceImpl`` does)."""
        mq_all = sorted(self.topic_queues.get(topic, ()))
        cids = sorted(set(cid_all))
        if not mq_all or not cids:
            return []
        try:
            return list(self.strategy(self.group, self.client_id, mq_all, cids))
        except RebalanceError as exc:
            log.warning("allocate_failed", group=self.group, topic=topic, error=str(exc))
            return []

    async def do_rebalance(self, topics: Iterable[str]) -> bool:
        """Rebalance every topic; True when the owned set changed.

        Serialized: two overlapping rebalances (the periodic one and one asked for by the broker)
        would both see a queue as new and start it twice.
        """
        async with self._lock:
            return await self._do_rebalance(topics)

    async def _do_rebalance(self, topics: Iterable[str]) -> bool:
        changed = False
        topics = list(topics)
        for topic in topics:
            if topic not in self.topic_queues:
                continue
            try:
                if self.message_model is MessageModel.BROADCASTING:
                    owned = set(self.topic_queues[topic])
                else:
                    cids = await self.hooks.find_consumer_ids(topic)
                    if not cids:
                        log.warning("no_consumer_ids", group=self.group, topic=topic)
                        continue
                    owned = set(self.allocate(topic, cids))
            except MQClientError as exc:
                log.warning("rebalance_topic_failed", group=self.group, topic=topic, error=str(exc))
                continue
            changed |= await self.update_process_queue_table(topic, owned)
        # Queues of topics no longer subscribed.
        gone = [mq for mq in self.process_queues if mq.topic not in topics]
        for mq in gone:
            pq = self.process_queues.pop(mq)
            pq.dropped = True
            await self.hooks.on_queue_removed(mq, pq)
            changed = True
        return changed

    async def update_process_queue_table(self, topic: str, owned: set[MessageQueue]) -> bool:
        changed = False
        for mq, pq in list(self.process_queues.items()):
            if mq.topic != topic:
                continue
            if mq not in owned:
                pq.dropped = True
                if await self.hooks.on_queue_removed(mq, pq):
                    del self.process_queues[mq]
                    changed = True
                    log.info("queue_released", group=self.group, mq=str(mq))
                else:
                    pq.dropped = False
            elif pq.is_pull_expired():
                log.warning("queue_pull_expired", group=self.group, mq=str(mq))
        for mq in sorted(owned - set(self.process_queues)):
            if self.orderly and self.message_model is MessageModel.CLUSTERING and self.hooks.lock is not None:
                if not await self.hooks.lock(mq):
                    log.info("queue_lock_not_granted", group=self.group, mq=str(mq))
                    continue
            offset = await self.hooks.compute_pull_from_where(mq)
            if offset < 0:
                log.warning("queue_start_offset_unknown", group=self.group, mq=str(mq))
                continue
            pq = ProcessQueue(self.clock)
            if self.orderly and self.message_model is MessageModel.CLUSTERING:
                pq.locked = True
                pq.last_lock_ms = self.clock.now_ms()
            self.process_queues[mq] = pq
            self.hooks.on_queue_added(mq, pq, offset)
            changed = True
            log.info("queue_owned", group=self.group, mq=str(mq), offset=offset)
        return changed

    async def drop_all(self) -> None:
        async with self._lock:
            await self._drop_all()

    async def _drop_all(self) -> None:
        for mq, pq in list(self.process_queues.items()):
            pq.dropped = True
            await self.hooks.on_queue_removed(mq, pq)
        self.process_queues.clear()
