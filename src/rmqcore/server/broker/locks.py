"""Queue locks for orderly consumption (RocketMQ's ``RebalanceLockManager``).

LOCK_BATCH_MQ gives a client exclusive use of queues within a group; a lock not renewed
for ``lock_max_live_ms`` (60 s, ``rocketmq.broker.rebalance.lockMaxLiveTime``) expires and
may be taken by another client. Expiry is judged against the injected clock when a lock
is asked for; :meth:`QueueLockManager.remove_expired` also sweeps stale entries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from rmqcore.clock import Clock
from rmqcore.message import MessageQueue

log = structlog.get_logger(__name__)

LOCK_MAX_LIVE_MS = 60_000


@dataclass
class _LockEntry:
    client_id: str
    last_update_ms: int


class QueueLockManager:
    """group → MessageQueue → holder.

    >>> from rmqcore.clock import FakeClock
    >>> clock = FakeClock(0)
    >>> locks = QueueLockManager(clock)
    >>> mq = MessageQueue("T", "b", 0)
    >>> locks.try_lock_batch("G", [mq], "c1") == {mq}, locks.try_lock_batch("G", [mq], "c2")
    (True, set())
    >>> clock.advance(60_001)
    >>> locks.try_lock_batch("G", [mq], "c2") == {mq}
    True
    """

    def __init__(self, clock: Clock, *, lock_max_live_ms: int = LOCK_MAX_LIVE_MS) -> None:
        self._clock = clock
        self._max_live_ms = lock_max_live_ms
        self._table: dict[str, dict[MessageQueue, _LockEntry]] = {}
        self._lock = threading.Lock()

    def _expired(self, entry: _LockEntry, now_ms: int) -> bool:
        return now_ms - entry.last_update_ms > self._max_live_ms

    def is_locked(self, group: str, mq: MessageQueue, client_id: str) -> bool:
        """True when ``client_id`` holds a live lock on ``mq`` (refreshes it, as ``isLocked`` does)."""
        now = self._clock.now_ms()
        with self._lock:
            entry = self._table.get(group, {}).get(mq)
            if entry is not None and entry.client_id == client_id and not self._expired(entry, now):
                entry.last_update_ms = now
                return True
        return False

    def has_live_lock(self, group: str) -> bool:
        now = self._clock.now_ms()
        with self._lock:
            return any(not self._expired(e, now) for e in self._table.get(group, {}).values())

    def try_lock_batch(self, group: str, mqs: Iterable[MessageQueue], client_id: str) -> set[MessageQueue]:
        """``tryLockBatch``: the queues now held by ``client_id`` (renewed or newly taken)."""
        now = self._clock.now_ms()
        locked: set[MessageQueue] = set()
        with self._lock:
            group_table = self._table.setdefault(group, {})
            for mq in mqs:
                entry = group_table.get(mq)
                if entry is None:
                    group_table[mq] = _LockEntry(client_id, now)
                    locked.add(mq)
                    log.info("queue_locked", group=group, mq=str(mq), client_id=client_id)
                elif entry.client_id == client_id:
                    entry.last_update_ms = now
                    locked.add(mq)
                elif self._expired(entry, now):
                    log.warning(
                        "queue_lock_taken_over", group=group, mq=str(mq), old_client_id=entry.client_id, client_id=client_id
                    )
                    group_table[mq] = _LockEntry(client_id, now)
                    locked.add(mq)
        return locked

    def unlock_batch(self, group: str, mqs: Iterable[MessageQueue], client_id: str) -> None:
        """``unlockBatch``: release the queues ``client_id`` holds; others' locks stay."""
        with self._lock:
            group_table = self._table.get(group)
            if not group_table:
                return
            for mq in mqs:
                entry = group_table.get(mq)
                if entry is not None and entry.client_id == client_id:
                    del group_table[mq]
                    log.info("queue_unlocked", group=group, mq=str(mq), client_id=client_id)
            if not group_table:
                del self._table[group]

    def remove_expired(self) -> int:
        """Drop expired locks; returns how many (periodic sweep, clock-driven)."""
        now = self._clock.now_ms()
        removed = 0
        with self._lock:
            for group in list(self._table):
                table = self._table[group]
                for mq in [mq for mq, e in table.items() if self._expired(e, now)]:
                    del table[mq]
                    removed += 1
                if not table:
                    del self._table[group]
        return removed
