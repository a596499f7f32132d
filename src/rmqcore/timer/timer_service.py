"""5.x timer messages over ``rmq_sys_wheel_timer`` and an in-memory ``TimerWheel`` (section 7).

A message with TIMER_DELAY_SEC / TIMER_DELAY_MS / TIMER_DELIVER_MS (in that priority) whose
deliver time is ahead is stored in the timer topic, queue 0, with TIMER_OUT_MS = the deliver
time rounded per section 7 (exact multiples of the precision get −precision, others floor).
The wheel holds ``TimerHandle``s (timer-queue offset, commitlog offset), never bodies; a
message fires at TIMER_OUT_MS + precision (the end of its slot: never early), when it is read
back by commitlog offset and re-put to REAL_TOPIC/REAL_QID.

A message with TIMER_DEL_UNIQKEY = ``REAL_TOPIC + "+" + UNIQ_KEY`` of a pending timer message
(``TimerMessageStore.buildDeleteKey``) is a delete marker: it is stored like any timer message
(so a rebuild sees it) and cancels that message; the marker itself is never delivered.

The wheel is rebuilt at start by scanning the timer queue from the checkpoint's
``lastTimerQueueOffset``; a message whose fire time is ≤ ``lastReadTimeMs`` was delivered
before (see ``timer_checkpoint``).  The checkpoint is written every ``persist_interval_ms`` and
on close: after a crash, messages fired since the last checkpoint fire again; none is lost.

Not thread-safe on its own: ``DelayService`` serialises calls.
"""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Final, NamedTuple

import structlog

from rmqcore.clock import Clock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C

from rmqcore.timer.errors import DelayTooLongError
from rmqcore.timer.message_transform import (
    cancel_key,
    delete_key,
    from_timer_message,
    timer_deliver_ms,
    timer_out_ms,
    to_timer_message,
)
from rmqcore.timer.redelivery import Redelivery, redeliver
from rmqcore.timer.store_protocol import DelayStore, put_succeeded
from rmqcore.timer.timer_checkpoint import TimerCheckpoint, TimerCheckpointFile, encode_timer_checkpoint
from rmqcore.timer.wheel import TimerId, TimerWheel, round_deliver_ms

log = structlog.get_logger(__name__)

READ_BATCH: Final = 32
RETRY_AFTER_ERROR_MS: Final = 10_000


class TimerHandle(NamedTuple):
    """What the wheel holds for a timer message: where to find it, not the message itself."""

    queue_offset: int
    commitlog_offset: int


class TimerMessageService:
    def __init__(
        self,
        store: DelayStore,
        clock: Clock,
        checkpoint_file: Path,
        *,
        precision_ms: int,
        max_delay_sec: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._precision = precision_ms
        self._max_delay_sec = max_delay_sec
        self._wheel: TimerWheel[TimerHandle] = TimerWheel(clock, precision_ms=precision_ms, max_delay_sec=max_delay_sec)
        self._file = TimerCheckpointFile(checkpoint_file)
        self._pending_heap: list[int] = []  # queue offsets in the wheel (lazy deletion)
        self._pending: set[int] = set()
        # Pending messages whose fire time is not after the read time (a re-put that failed, or a
        # put after the clock stepped back): the checkpoint's read time stays below them.
        self._behind: dict[int, int] = {}  # queue offset -> fire time
        self._tokens: dict[int, TimerId] = {}  # queue offset -> wheel token, for cancelling
        self._by_key: dict[str, int] = {}  # REAL_TOPIC+UNIQ_KEY -> queue offset of the pending timer
        self._scan_end = 0  # every queue offset below this is known to the service
        checkpoint = self._file.load()
        self._read_time_ms = checkpoint.last_read_time_ms
        self._saved = checkpoint
        self._rebuild(checkpoint)

    # -- start ----------------------------------------------------------------------------
    def _rebuild(self, checkpoint: TimerCheckpoint) -> None:
        offset = max(checkpoint.last_timer_queue_offset, self._store.min_offset(C.TIMER_TOPIC, 0))
        start, restored = offset, 0
        while True:
            messages = list(self._store.get(C.TIMER_TOPIC, 0, offset, max_count=READ_BATCH).messages)
            if not messages:
                break
            for msg in messages:
                offset = msg.queue_offset + 1
                out_ms = timer_out_ms(msg)
                if out_ms is None:
                    log.error("timer_message_without_timer_out_ms", queue_offset=msg.queue_offset, action="skipped")
                    continue
                fire_ms = out_ms + self._precision
                if delete_key(msg) is not None:
                    self._apply_delete(msg)  # whatever its time: the message it cancels may be pending
                    continue
                if fire_ms <= checkpoint.last_read_time_ms:
                    continue  # delivered before the checkpoint was written
                self._track(TimerHandle(msg.queue_offset, msg.commitlog_offset), fire_ms, msg)
                restored += 1
        self._scan_end = max(offset, checkpoint.last_timer_queue_offset)
        log.info(
            "timer_wheel_rebuilt",
            from_queue_offset=start,
            to_queue_offset=offset,
            pending=restored,
            last_read_time_ms=checkpoint.last_read_time_ms,
        )

    # -- put ------------------------------------------------------------------------------
    def put(self, msg: MessageExt, queue_id: int) -> object | None:
        """Store a timer message in the timer topic; None when it is not one or is due now."""
        now = self._clock.now_ms()
        deliver_ms = timer_deliver_ms(msg, now)
        if deliver_ms is None or deliver_ms <= now:
            return None  # section 7: deliverMs ≤ now is delivered immediately (a normal put)
        if deliver_ms - now > self._max_delay_sec * 1000:
            raise DelayTooLongError(deliver_ms, now, self._max_delay_sec)
        out_ms = round_deliver_ms(deliver_ms, self._precision)
        timer_msg = to_timer_message(msg, queue_id, out_ms)
        result = self._store.put(timer_msg, 0)
        if put_succeeded(result):
            handle = TimerHandle(result.queue_offset, result.commitlog_offset)
            fire_ms = out_ms + self._precision
            if delete_key(timer_msg) is not None:
                self._apply_delete(timer_msg)
            else:
                self._track(handle, fire_ms, timer_msg)
                if fire_ms <= self._read_time_ms:  # the clock stepped back since the last tick
                    self._behind[handle.queue_offset] = fire_ms
            self._scan_end = max(self._scan_end, handle.queue_offset + 1)
        return result

    def _track(self, handle: TimerHandle, fire_ms: int, msg: MessageExt) -> None:
        # restore(): the max-delay check was made when the message was accepted.
        (self._tokens[handle.queue_offset],) = self._wheel.restore([(fire_ms, handle)])
        heapq.heappush(self._pending_heap, handle.queue_offset)
        self._pending.add(handle.queue_offset)
        key = cancel_key(msg)
        if key is not None:
            self._by_key[key] = handle.queue_offset

    def _apply_delete(self, marker: MessageExt) -> None:
        """A TIMER_DEL_UNIQKEY marker: cancel the pending timer message it names (section 7).

        The marker itself is never delivered (``TimerMessageStore`` drops delete markers).
        """
        key = delete_key(marker)
        queue_offset = self._by_key.pop(key, None) if key else None
        token = self._tokens.pop(queue_offset, None) if queue_offset is not None else None
        if token is None or not self._wheel.cancel(token):
            log.info("timer_delete_target_not_pending", key=key)
            return
        assert queue_offset is not None  # the token was found under it
        self._pending.discard(queue_offset)
        self._behind.pop(queue_offset, None)
        log.info("timer_message_deleted", key=key, queue_offset=queue_offset)

    # -- delivery -------------------------------------------------------------------------
    def tick(self, now_ms: int) -> int:
        delivered = 0
        due = self._wheel.advance_to(now_ms)
        for index, (fire_ms, handle) in enumerate(due):
            outcome = self._fire(handle, now_ms)
            if outcome is Redelivery.RETRY:
                # Keep it (and what follows) for a later tick; the checkpoint stays below it.
                for later_fire_ms, later in due[index:]:
                    self._behind.setdefault(later.queue_offset, later_fire_ms)
                    (self._tokens[later.queue_offset],) = self._wheel.restore([(now_ms + RETRY_AFTER_ERROR_MS, later)])
                break
            self._behind.pop(handle.queue_offset, None)
            self._pending.discard(handle.queue_offset)
            self._tokens.pop(handle.queue_offset, None)
            delivered += outcome is Redelivery.DELIVERED
        self._read_time_ms = max(self._read_time_ms, now_ms)
        return delivered

    def _fire(self, handle: TimerHandle, now_ms: int) -> Redelivery:
        msg = self._store.look_message(handle.commitlog_offset)
        if msg is not None:
            key = cancel_key(msg)
            if key is not None and self._by_key.get(key) == handle.queue_offset:
                del self._by_key[key]
        if msg is None or msg.topic != C.TIMER_TOPIC:
            log.error("timer_message_missing", queue_offset=handle.queue_offset, commitlog_offset=handle.commitlog_offset, action="skipped")
            return Redelivery.DROPPED
        try:
            real, real_queue_id = from_timer_message(msg, now_ms)
        except ValueError as exc:
            log.error("timer_message_without_destination", queue_offset=handle.queue_offset, error=str(exc), action="skipped")
            return Redelivery.DROPPED
        return redeliver(self._store, real, real_queue_id, "timer_redeliver_failed", queue_offset=handle.queue_offset)

    # -- state ----------------------------------------------------------------------------
    def next_due_ms(self) -> int | None:
        return self._wheel.next_deadline_ms()

    def pending(self) -> int:
        return len(self._wheel)

    def checkpoint(self) -> TimerCheckpoint:
        heap = self._pending_heap
        while heap and heap[0] not in self._pending:
            heapq.heappop(heap)
        low_water = heap[0] if heap else self._scan_end
        floor = min(self._behind.values(), default=None)
        read_time = self._read_time_ms if floor is None else min(self._read_time_ms, floor - 1)
        return TimerCheckpoint(read_time, low_water)

    def checkpoint_record(self, now_ms: int) -> bytes:
        """:meth:`checkpoint` in the timercheck layout, stamped ``now_ms`` with the last saved counter."""
        return encode_timer_checkpoint(self.checkpoint(), timestamp_ms=now_ms, counter=self._file.counter)

    def persist(self, now_ms: int, *, force: bool = False) -> None:
        checkpoint = self.checkpoint()
        if force or checkpoint != self._saved:
            self._file.save(checkpoint, now_ms=now_ms)
            self._saved = checkpoint
