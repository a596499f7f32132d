"""Delayed delivery on the store: DELAY levels and 5.x timer messages (reference section 7).

``DelayService`` is what the broker calls:

* ``maybe_put(msg, queue_id)`` on every send: a DELAY>0 message goes to SCHEDULE_TOPIC_XXXX
  (``schedule_service``), a TIMER_* message due in the future to rmq_sys_wheel_timer
  (``timer_service``); anything else returns None and the broker does the normal put.
* ``tick()`` every ~100 ms from a worker thread: re-puts what is due to its real topic.
* ``close()`` on shutdown: persists ``delayOffset.json`` and ``timercheck``.

Calls are serialised by one lock, so ``maybe_put`` from request threads and ``tick`` from the
worker are safe together.

>>> import tempfile
>>> from structlog.testing import capture_logs
>>> from rmqcore.clock import FakeClock
>>> from rmqcore.message import MessageExt
>>> from rmqcore.store import MessageStore, StoreConfig
>>> from rmqcore.timer.delay_levels import DelayLevelTable
>>> root = tempfile.TemporaryDirectory(); clock = FakeClock(start_ms=1_000_000)
>>> store = MessageStore.open(f"{root.name}/store", StoreConfig(mapped_file_size_commit_log=1 << 20), clock=clock)
>>> with capture_logs() as events:
...     service = DelayService(store, clock, DelayLevelTable.parse(), progress_dir=f"{root.name}/config")
>>> [e["event"] for e in events]
['schedule_service_started', 'timer_wheel_rebuilt']
>>> msg = MessageExt("TopicTest", b"hello", tags="TagA", properties={"DELAY": "3"})   # level 3: 10 s
>>> service.maybe_put(msg, queue_id=1).queue_offset, store.max_offset("TopicTest", 1)
(0, 0)
>>> clock.advance(9_999); service.tick()
0
>>> clock.advance(1); service.tick(), store.max_offset("TopicTest", 1), service.offsets()[3]
(1, 1, 1)
>>> timer = MessageExt("TopicTest", b"in 3 s", properties={"TIMER_DELAY_SEC": "3"})
>>> stored = service.maybe_put(timer, queue_id=0)                   # into rmq_sys_wheel_timer
>>> store.get("rmq_sys_wheel_timer", 0, 0).messages[0].properties["TIMER_OUT_MS"]
'1012000'
>>> clock.advance(2_999); service.tick(), service.next_due_ms()
(0, 1013000)
>>> clock.advance(1); service.tick(), store.get("TopicTest", 0, 0).messages[0].body
(1, b'in 3 s')
>>> service.maybe_put(MessageExt("TopicTest", b"now"), queue_id=0) is None       # not delayed
True
>>> with capture_logs():
...     service.close()
>>> store.close(); root.cleanup()
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Final

import structlog

from rmqcore.clock import Clock
from rmqcore.message import Message, MessageExt
from rmqcore.message import constants as C

from rmqcore.timer.delay_levels import DelayLevelTable
from rmqcore.timer.delay_progress import FILE_NAME as DELAY_OFFSET_FILE_NAME
from rmqcore.timer.errors import DelayProgressError, DelayServiceError, DelayTooLongError, InvalidDelayPropertyError
from rmqcore.timer.message_transform import TIMER_TRIGGERS, delay_level
from rmqcore.timer.schedule_service import ScheduleMessageService
from rmqcore.timer.store_protocol import DelayStore
from rmqcore.timer.timer_checkpoint import FILE_NAME as TIMER_CHECKPOINT_FILE_NAME
from rmqcore.timer.timer_service import TimerMessageService
from rmqcore.timer.wheel import DEFAULT_MAX_DELAY_SEC, DEFAULT_PRECISION_MS

__all__ = [
    "DelayProgressError",
    "DelayService",
    "DelayServiceError",
    "DelayTooLongError",
    "InvalidDelayPropertyError",
]

log = structlog.get_logger(__name__)

# RocketMQ flushes delayOffset.json every flushDelayOffsetInterval (10 s).
DEFAULT_PERSIST_INTERVAL_MS: Final = 10_000
_NOT_DELAYABLE_TX_TYPES: Final = (C.TRANSACTION_PREPARED_TYPE, C.TRANSACTION_ROLLBACK_TYPE)


class _WriteTrackingStore:
    """The store as the schedule and timer services see it: notes that something was put.

    Used under the DelayService lock only, like the services themselves.
    """

    __slots__ = ("_store", "written")

    def __init__(self, store: DelayStore) -> None:
        self._store = store
        self.written = False

    def put(self, msg: Message, queue_id: int, *, tag_code: int | None = None) -> Any:
        self.written = True  # before the call: a put that raises may still have written
        if tag_code is None:
            return self._store.put(msg, queue_id)
        return self._store.put(msg, queue_id, tag_code=tag_code)

    def get(self, topic: str, queue_id: int, offset: int, max_count: int = 32) -> Any:
        return self._store.get(topic, queue_id, offset, max_count)

    def look_message(self, commitlog_offset: int) -> MessageExt | None:
        return self._store.look_message(commitlog_offset)

    def max_offset(self, topic: str, queue_id: int) -> int:
        return self._store.max_offset(topic, queue_id)

    def min_offset(self, topic: str, queue_id: int) -> int:
        return self._store.min_offset(topic, queue_id)

    def flush(self) -> None:
        self._store.flush()


class DelayService:
    """DELAY-level and timer delivery over one store, with progress under ``progress_dir``."""

    def __init__(
        self,
        store: DelayStore,
        clock: Clock,
        delay_levels: DelayLevelTable,
        *,
        progress_dir: str | os.PathLike[str],
        timer_precision_ms: int = DEFAULT_PRECISION_MS,
        timer_max_delay_sec: int = DEFAULT_MAX_DELAY_SEC,
        timer_enabled: bool = True,
        persist_interval_ms: int = DEFAULT_PERSIST_INTERVAL_MS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.RLock()
        self._persist_interval_ms = persist_interval_ms
        progress = Path(progress_dir)
        # the services write through this, so a persist knows whether there is anything to flush
        self._tracked = _WriteTrackingStore(store)
        self._schedule = ScheduleMessageService(self._tracked, clock, delay_levels, progress / DELAY_OFFSET_FILE_NAME)
        self._timer = (
            TimerMessageService(
                self._tracked,
                clock,
                progress / TIMER_CHECKPOINT_FILE_NAME,
                precision_ms=timer_precision_ms,
                max_delay_sec=timer_max_delay_sec,
            )
            if timer_enabled
            else None
        )
        self._last_persist_ms = clock.now_ms()
        self._closed = False

    def maybe_put(self, msg: MessageExt, queue_id: int) -> object | None:
        """Store ``msg`` as a delayed message and return the put result, or None if it is not delayed.

        Raises ``DelayTooLongError`` for a timer message more than ``timer_max_delay_sec`` ahead and
        ``InvalidDelayPropertyError`` for a DELAY/TIMER_* value that is not a whole number.
        """
        # Section 7: the hook applies to non-transactional and commit messages only.
        if msg.sys_flag & C.TRANSACTION_TYPE_MASK in _NOT_DELAYABLE_TX_TYPES:
            return None
        level = delay_level(msg)
        with self._lock:
            self._check_open()
            if level > 0:
                return self._schedule.put(msg, queue_id, level)
            if self._timer is not None and any(key in msg.properties for key in TIMER_TRIGGERS):
                return self._timer.put(msg, queue_id)
        return None

    def tick(self) -> int:
        """Re-put everything due at ``clock.now_ms()`` to its real topic; returns how many."""
        with self._lock:
            self._check_open()
            now = self._clock.now_ms()
            delivered = self._schedule.tick(now)
            if self._timer is not None:
                delivered += self._timer.tick(now)
            if now - self._last_persist_ms >= self._persist_interval_ms:
                self._persist(now)
            return delivered

    def next_due_ms(self) -> int | None:
        """The earliest time ``tick`` may deliver something; None when nothing is pending."""
        with self._lock:
            now = self._clock.now_ms()
            candidates = [self._schedule.next_due_ms(now)]
            if self._timer is not None:
                candidates.append(self._timer.next_due_ms())
            due = [c for c in candidates if c is not None]
            return min(due) if due else None

    def offsets(self) -> dict[int, int]:
        """Per-level next offset of SCHEDULE_TOPIC_XXXX (queue level−1), for GET_ALL_DELAY_OFFSET."""
        with self._lock:
            return self._schedule.offsets()

    def pending_timers(self) -> int:
        """Timer messages waiting in the wheel."""
        with self._lock:
            return self._timer.pending() if self._timer is not None else 0

    def timer_checkpoint_record(self) -> bytes | None:
        """The timer's progress as GET_TIMER_CHECK_POINT answers it (the 56-byte timercheck
        record, see ``timer_checkpoint``), or None when timer messages are disabled."""
        with self._lock:
            if self._timer is None:
                return None
            return self._timer.checkpoint_record(self._clock.now_ms())

    def persist(self) -> None:
        """Write delayOffset.json and timercheck now."""
        with self._lock:
            self._persist(self._clock.now_ms(), force=True)

    def close(self) -> None:
        """Persist progress; later calls other than ``close`` raise."""
        with self._lock:
            if self._closed:
                return
            self._persist(self._clock.now_ms(), force=True)
            self._closed = True
            log.info("delay_service_closed", offsets=self._schedule.offsets())

    def _persist(self, now: int, *, force: bool = False) -> None:
        """Save progress, after one store flush, if anything was put since the last persist.

        The re-put messages must be durable before progress says they were delivered: with
        ASYNC_FLUSH an OS crash could otherwise lose both the message and its schedule entry.
        With nothing put since, progress that moved anyway (the timer's read time, messages
        dropped or expired) rests on nothing new: no flush, and no write unless ``force``.
        """
        written = self._tracked.written
        if written:
            self._store.flush()
            self._tracked.written = False
        if written or force:
            self._schedule.persist(now, force=force)
            if self._timer is not None:
                self._timer.persist(now, force=force)
        self._last_persist_ms = now

    def _check_open(self) -> None:
        if self._closed:
            raise DelayServiceError("the delay service is closed; create a new DelayService to continue")

    def __enter__(self) -> DelayService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
