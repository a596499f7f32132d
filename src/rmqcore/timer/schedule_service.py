"""Delay-level delivery over SCHEDULE_TOPIC_XXXX (RocketMQ's ``ScheduleMessageService``, section 7).

A message with DELAY=level is stored in queue level−1 of SCHEDULE_TOPIC_XXXX with its deliver
time (store time + delay of the level) as the ConsumeQueue tag code (section 5).  Within one
level every message has the same delay, so a level's queue is in deliver order: ``tick`` reads
each level from its progress offset and re-puts messages until it meets one not yet due.

Progress (the next offset per level) is written to ``delayOffset.json`` (sections 7, 10) every
``persist_interval_ms`` and on ``close``; a restart resumes from it.  Progress is advanced only
after the re-put returns, so a crash can deliver a message again but never lose one.

Not thread-safe on its own: ``DelayService`` serialises calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import structlog

from rmqcore.clock import Clock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C

from rmqcore.timer.delay_levels import DelayLevelTable
from rmqcore.timer.delay_progress import DelayOffsetFile
from rmqcore.timer.message_transform import from_schedule_message, to_schedule_message
from rmqcore.timer.redelivery import Redelivery, redeliver
from rmqcore.timer.store_protocol import DelayStore, put_succeeded

log = structlog.get_logger(__name__)

READ_BATCH: Final = 32
RETRY_AFTER_ERROR_MS: Final = 10_000  # section 7: "10 000 ms after error"


class _Empty:
    """Marker: the level's queue had nothing left to deliver at its last scan."""

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Final = _Empty()


class ScheduleMessageService:
    """Puts DELAY messages into the level queues and re-puts them to their real topic when due."""

    def __init__(self, store: DelayStore, clock: Clock, levels: DelayLevelTable, progress_file: Path) -> None:
        self._store = store
        self._clock = clock
        self._levels = levels
        self._file = DelayOffsetFile(progress_file)
        loaded = self._file.load()
        self._offsets: dict[int, int] = {level: loaded.get(level, 0) for level in range(1, levels.max_level + 1)}
        # Per level: earliest known deliver time of what is left, EMPTY, or None (unknown: scan).
        self._next_due: dict[int, int | _Empty | None] = {level: None for level in self._offsets}
        self._dirty = False
        log.info("schedule_service_started", progress_file=str(self._file.path), offsets=self.offsets())

    # -- put ------------------------------------------------------------------------------
    def put(self, msg: MessageExt, queue_id: int, level: int) -> object:
        """Store ``msg`` (DELAY=``level`` > 0) in its level queue; returns the store's put result."""
        level = self._levels.clamp_level(level)  # section 7: clamp to the highest level
        # Section 5: the ConsumeQueue tag code of a schedule message is its deliver timestamp.
        deliver_ms = self._levels.deliver_timestamp_ms(level, self._clock.now_ms())
        scheduled = to_schedule_message(msg, queue_id, level)
        result = self._store.put(scheduled, scheduled.queue_id, tag_code=deliver_ms)
        if put_succeeded(result):
            known = self._next_due[level]
            if known is EMPTY:
                self._next_due[level] = deliver_ms
        return result

    # -- delivery -------------------------------------------------------------------------
    def tick(self, now_ms: int) -> int:
        """Re-put every message due at ``now_ms``; returns how many were delivered."""
        delivered = 0
        for level in self._offsets:
            known = self._next_due[level]
            if known is EMPTY:
                if self._store.max_offset(C.SCHEDULE_TOPIC, level - 1) <= self._offsets[level]:
                    continue
            elif isinstance(known, int) and known > now_ms:
                continue
            delivered += self._deliver_level(level, now_ms)
        return delivered

    def _deliver_level(self, level: int, now_ms: int) -> int:
        queue_id = level - 1
        delivered = 0
        offset = self._offsets[level]
        min_offset = self._store.min_offset(C.SCHEDULE_TOPIC, queue_id)
        if offset < min_offset:
            # The store's retention removed messages never delivered: say so, do not stall.
            log.error("schedule_messages_expired_undelivered", level=level, from_offset=offset, to_offset=min_offset)
            offset = min_offset
        while True:
            result = self._store.get(C.SCHEDULE_TOPIC, queue_id, offset, max_count=READ_BATCH)
            messages = list(result.messages)
            if not messages:
                next_offset = result.next_offset
                if next_offset > offset:  # entries the store could not serve: do not stall on them
                    log.error("schedule_entries_unreadable", level=level, from_offset=offset, to_offset=next_offset)
                    offset = next_offset
                    continue
                self._next_due[level] = EMPTY
                break
            for msg in messages:
                deliver_ms = self._deliver_ms(msg, level, now_ms)
                if deliver_ms > now_ms:
                    self._next_due[level] = deliver_ms
                    self._set_offset(level, msg.queue_offset)
                    return delivered
                outcome = self._redeliver(msg, level)
                if outcome is Redelivery.RETRY:
                    self._next_due[level] = now_ms + RETRY_AFTER_ERROR_MS
                    self._set_offset(level, msg.queue_offset)
                    return delivered
                delivered += outcome is Redelivery.DELIVERED
                offset = msg.queue_offset + 1
            self._set_offset(level, offset)
        self._set_offset(level, offset)
        return delivered

    def _deliver_ms(self, msg: MessageExt, level: int, now_ms: int) -> int:
        # The ConsumeQueue tag code holds the deliver time, but a get returns messages, not CQ
        # entries: recompute it with the same formula (section 5: store time + delay of the level;
        # the store stamps with the same clock), then ``correctDeliverTimestamp`` (section 7).
        deliver_ms = self._levels.deliver_timestamp_ms(level, msg.store_timestamp)
        return self._levels.correct_deliver_timestamp_ms(level, now_ms, deliver_ms)

    def _redeliver(self, msg: MessageExt, level: int) -> Redelivery:
        try:
            real, real_queue_id = from_schedule_message(msg)
        except ValueError as exc:  # REAL_TOPIC/REAL_QID missing: nothing to deliver to, skip it
            log.error("schedule_message_without_destination", level=level, queue_offset=msg.queue_offset, error=str(exc))
            return Redelivery.DROPPED
        return redeliver(self._store, real, real_queue_id, "schedule_redeliver_failed", level=level, queue_offset=msg.queue_offset)

    def _set_offset(self, level: int, offset: int) -> None:
        if offset != self._offsets[level]:
            self._offsets[level] = offset
            self._dirty = True

    # -- state ----------------------------------------------------------------------------
    def next_due_ms(self, now_ms: int) -> int | None:
        """Earliest time a level may have something to deliver; ``now_ms`` when unknown."""
        due: int | None = None
        for known in self._next_due.values():
            if known is EMPTY:
                continue
            candidate = now_ms if known is None else known
            assert isinstance(candidate, int)
            due = candidate if due is None else min(due, candidate)
        return due

    def offsets(self) -> dict[int, int]:
        return dict(self._offsets)

    def persist(self, now_ms: int, *, force: bool = False) -> None:
        if self._dirty or force:
            self._file.save(self._offsets, now_ms=now_ms)
            self._dirty = False
