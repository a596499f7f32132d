"""The transaction check loop (``TransactionalMessageServiceImpl.check``, reference section 8).

Each round reads the op queue from its progress offset (which half offsets were ended), then
walks the half queue from its progress offset, up to where it ended when the round began:

* a half with an op marker is done;
* TRANSACTION_CHECK_TIMES already ≥ ``transaction_check_max``, or born more than
  ``file_reserved_time_hours`` ago: moved to TRANS_CHECK_MAXTIME_TOPIC and logged;
* born less than ``transaction_timeout_ms`` ago: the round stops here (the queue is in arrival
  order; later halves are younger);
* still inside a CHECK_IMMUNITY_TIME_IN_SECONDS×1000 longer than that: re-appended with
  TRAN_PREPARED_QUEUE_OFFSET = its original queue offset and not checked yet, so the halves
  after it are (``checkPrepareQueueOffset``); such a copy whose original has an op marker is done;
* otherwise it is re-appended with TRANSACTION_CHECK_TIMES incremented (1 on the first check)
  and ``check_back`` is called with the re-appended copy, whose commitlog and queue offsets
  the producer's END_TRANSACTION will cite.

Progress (half and op offsets) is saved after every round (``check_progress``), so a restarted
checker resumes where the last round ended: nothing is lost, and a half already checked is not
checked again (its copy is, later, like any half).  After a crash the saved progress may be a
few rounds old: a half that has a later half of the same transaction (``__transactionId__``)
in the queue is then skipped, the latest one carrying the transaction on.

>>> import tempfile
>>> from structlog.testing import capture_logs
>>> from rmqcore.clock import FakeClock
>>> from rmqcore.message import MessageExt
>>> from rmqcore.store import MessageStore, StoreConfig
>>> from rmqcore.transaction.service import TransactionalMessageService
>>> root = tempfile.TemporaryDirectory(); clock = FakeClock(start_ms=0)
>>> store = MessageStore.open(f"{root.name}/store", StoreConfig(mapped_file_size_commit_log=1 << 20), clock=clock)
>>> service = TransactionalMessageService(store, clock)
>>> asked = []
>>> with capture_logs():
...     checker = TransactionChecker(service, clock, asked.append, progress_dir=f"{root.name}/config")
>>> msg = MessageExt("T", b"x", born_timestamp=0, properties={"PGROUP": "pg", "TRAN_MSG": "true"})
>>> _ = service.prepare(msg, 0)
>>> clock.advance(6_000); checker.check_once()          # not older than transactionTimeOut yet
0
>>> clock.advance(1)
>>> with capture_logs() as events:
...     checker.check_once()
1
>>> asked[0].queue_offset, asked[0].properties["TRANSACTION_CHECK_TIMES"], events[0]["event"]
(1, '1', 'transaction_check_round')
>>> store.close(); root.cleanup()
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

import structlog

from rmqcore.clock import Clock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C

from rmqcore.transaction.check_progress import FILE_NAME, CheckProgress, CheckProgressFile
from rmqcore.transaction.half_message import HALF_QUEUE_ID, REMOVE_TAG, check_times, origin_queue_offset, parse_op_body
from rmqcore.transaction.service import TransactionalMessageService

log = structlog.get_logger(__name__)

READ_BATCH: Final = 32
# How far behind the checker's progress the service still refuses a repeated END for one half.
REPEAT_GUARD_WINDOW: Final = 1_000_000


class _Outcome(enum.Enum):
    CHECKED = "checked"
    DONE = "done"  # discarded
    WAIT = "wait"  # not old enough: the round stops
    RETRY = "retry"  # a put failed: the round stops, the next one tries again


class TransactionChecker:
    def __init__(
        self,
        service: TransactionalMessageService,
        clock: Clock,
        check_back: Callable[[MessageExt], None],
        *,
        transaction_timeout_ms: int = 6_000,
        transaction_check_max: int = 15,
        check_interval_ms: int = 30_000,
        file_reserved_time_hours: int = 72,
        progress_dir: str | os.PathLike[str],
    ) -> None:
        self._service = service
        self._clock = clock
        self._check_back = check_back
        self._timeout_ms = transaction_timeout_ms
        self._check_max = transaction_check_max
        self._interval_ms = check_interval_ms
        self._reserved_ms = file_reserved_time_hours * 3_600_000
        self._file = CheckProgressFile(Path(progress_dir) / FILE_NAME)
        self._progress = self._file.load()
        self._saved = self._progress  # what the progress file says
        self._last_round_ms = clock.now_ms()  # RocketMQ waits one interval before the first round
        # After a crash the saved progress can be older than the copies re-appended since: halves
        # up to the queue end seen by the first round are skipped when a later half of the same
        # transaction exists, so each open transaction is checked once per round, not twice.
        self._resume_end: int | None = None
        self._latest_half: dict[str, int] = {}
        self._lock = threading.Lock()
        log.info("transaction_checker_started", half_offset=self._progress.half_offset, op_offset=self._progress.op_offset)

    # -- rounds ---------------------------------------------------------------------------
    def run_due(self) -> int:
        """``check_once`` if ``check_interval_ms`` has passed since the last round; else 0."""
        if self._clock.now_ms() - self._last_round_ms < self._interval_ms:
            return 0
        return self.check_once()

    def check_once(self) -> int:
        """One check round; returns the number of check-backs issued."""
        with self._lock:
            self._service.flush_ops()  # every END so far must be visible as an op marker
            store = self._service.store
            now = self._clock.now_ms()
            self._last_round_ms = now
            half_end = store.max_offset(C.TRANS_HALF_TOPIC, HALF_QUEUE_ID)
            half_offset = max(self._progress.half_offset, store.min_offset(C.TRANS_HALF_TOPIC, HALF_QUEUE_ID))
            op_offset = max(self._progress.op_offset, store.min_offset(C.TRANS_OP_HALF_TOPIC, HALF_QUEUE_ID))
            ops = self._read_ops(op_offset)
            removed = {offset for _, offsets in ops for offset in offsets}
            if self._resume_end is None:  # first round of this checker: the saved progress may be stale
                self._resume_end = half_end
                self._latest_half = self._latest_halves(half_offset, half_end)

            checks = 0
            offset = half_offset
            stopped = False
            while offset < half_end and not stopped:
                batch = list(store.get(C.TRANS_HALF_TOPIC, HALF_QUEUE_ID, offset, max_count=READ_BATCH).messages)
                if not batch:
                    break
                for half in batch:
                    if half.queue_offset >= half_end:
                        stopped = True
                        break
                    if half.queue_offset not in removed and not self._superseded(half):
                        outcome = self._examine(half, now, removed)
                        if outcome in (_Outcome.WAIT, _Outcome.RETRY):
                            stopped = True
                            break
                        checks += outcome is _Outcome.CHECKED
                    offset = half.queue_offset + 1

            # An op message is done once every half offset it names is behind the half progress.
            new_op_offset = op_offset
            for op_queue_offset, offsets in ops:
                if any(o >= offset for o in offsets):
                    break
                new_op_offset = op_queue_offset + 1
            self._progress = CheckProgress(offset, new_op_offset)
            if offset >= self._resume_end:
                self._latest_half = {}
            self._persist(now)
            self._service.forget_ended_below(offset - REPEAT_GUARD_WINDOW)
            if checks or offset != half_offset:
                log.info("transaction_check_round", check_backs=checks, half_offset=offset, op_offset=new_op_offset)
            return checks

    def _latest_halves(self, start: int, end: int) -> dict[str, int]:
        """Transaction id -> queue offset of its last half in [start, end)."""
        store = self._service.store
        latest: dict[str, int] = {}
        offset = start
        while offset < end:
            batch = list(store.get(C.TRANS_HALF_TOPIC, HALF_QUEUE_ID, offset, max_count=READ_BATCH).messages)
            if not batch:
                break
            for half in batch:
                transaction_id = half.properties.get(C.PROPERTY_TRANSACTION_ID)
                if transaction_id and half.queue_offset < end:
                    latest[transaction_id] = half.queue_offset
                offset = half.queue_offset + 1
        return latest

    def _superseded(self, half: MessageExt) -> bool:
        """A half re-appended later (by a round whose progress was lost in a crash) is handled there."""
        if not self._latest_half:
            return False
        transaction_id = half.properties.get(C.PROPERTY_TRANSACTION_ID)
        return transaction_id is not None and self._latest_half.get(transaction_id, -1) > half.queue_offset

    def _read_ops(self, op_offset: int) -> list[tuple[int, list[int]]]:
        store = self._service.store
        ops: list[tuple[int, list[int]]] = []
        offset = op_offset
        while True:
            batch = list(store.get(C.TRANS_OP_HALF_TOPIC, HALF_QUEUE_ID, offset, max_count=READ_BATCH).messages)
            if not batch:
                return ops
            for op in batch:
                offsets = parse_op_body(op.body) if op.tags == REMOVE_TAG else []
                ops.append((op.queue_offset, offsets))
                offset = op.queue_offset + 1

    def _examine(self, half: MessageExt, now: int, removed: set[int]) -> _Outcome:
        times = check_times(half)
        age = now - half.born_timestamp
        if times is not None and times >= self._check_max:
            return self._discard(half, f"checked {times} times (transactionCheckMax={self._check_max})")
        if age > self._reserved_ms:
            return self._discard(half, f"born {age} ms ago, beyond fileReservedTime={self._reserved_ms // 3_600_000} h")
        if self._service.close_if_transaction_ended(half):
            return _Outcome.DONE  # the producer ended this transaction through another of its halves
        if origin_queue_offset(half) in removed:
            return _Outcome.DONE  # an immunity copy whose original half has an op marker
        if 0 <= age <= self._immunity_ms(half):
            if C.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS not in half.properties:
                return _Outcome.WAIT  # younger than transactionTimeOut: so is everything after it
            # Immune for longer than the timeout: set it aside so the halves after it are checked.
            return _Outcome.DONE if self._service.put_back_half(half, None) is not None else _Outcome.RETRY
        copy = self._service.put_back_half(half, 1 if times is None else times + 1)
        if copy is None:
            return _Outcome.RETRY
        try:
            self._check_back(copy)
        except Exception:  # the broker's callback failing must not stop the loop; the copy is re-checked
            log.exception("transaction_check_back_failed", half_queue_offset=copy.queue_offset)
        return _Outcome.CHECKED

    def _immunity_ms(self, half: MessageExt) -> int:
        raw = half.properties.get(C.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS)
        if raw:
            try:
                return max(self._timeout_ms, int(raw) * 1000)
            except ValueError:
                pass
        return self._timeout_ms

    def _discard(self, half: MessageExt, reason: str) -> _Outcome:
        if not self._service.discard(half):
            log.error("transaction_discard_failed", half_queue_offset=half.queue_offset, action="retried next round")
            return _Outcome.RETRY
        log.error(
            "transaction_half_discarded",
            reason=reason,
            topic=C.TRANS_CHECK_MAX_TIME_TOPIC,
            half_queue_offset=half.queue_offset,
            half_commitlog_offset=half.commitlog_offset,
            transaction_id=half.properties.get(C.PROPERTY_TRANSACTION_ID),
            real_topic=half.properties.get(C.PROPERTY_REAL_TOPIC),
            producer_group=half.properties.get(C.PROPERTY_PRODUCER_GROUP),
        )
        return _Outcome.DONE

    # -- state ----------------------------------------------------------------------------
    @property
    def progress(self) -> CheckProgress:
        return self._progress

    def _persist(self, now: int, *, ops_written: int = 0) -> None:
        """Save the progress if it moved, after one store flush.

        Copies, discards and op markers written this round must be durable before the progress
        that skips their originals is (ASYNC_FLUSH: an OS crash would lose them). A round that
        moved neither offset wrote nothing of its own (a copy or discard moves the half offset
        past its original) and the saved progress still holds: no flush, no write.
        """
        if self._progress == self._saved and not ops_written:
            return
        self._service.store.flush()
        if self._progress != self._saved:
            self._file.save(self._progress, now_ms=now)
            self._saved = self._progress

    def close(self) -> None:
        """Write the service's buffered op markers and this checker's progress (durably)."""
        with self._lock:
            self._persist(self._clock.now_ms(), ops_written=self._service.flush_ops())
