"""Half messages, commit and rollback on a store (reference section 8).

``prepare`` stores the half message in RMQ_SYS_TRANS_HALF_TOPIC (it IS dispatched to the half
topic's ConsumeQueue: its transaction bits are cleared).  ``end`` is END_TRANSACTION: commit (8)
writes the real message and then the op marker; rollback (12) writes the op marker only;
unknown (0) is ignored.  Op markers are batched (``op_batch``).

A transaction is ended once per process: a second END for the same half offset, or for another
half of the same transaction (``__transactionId__``: the original and the copies the checker
re-appends), is not applied again -- it only closes that half with an op marker, returns None
and is logged.  RocketMQ would commit twice when the producer's own late END and its answer to
a check-back both arrive; here the second is dropped.

>>> import tempfile
>>> from rmqcore.clock import FakeClock
>>> from rmqcore.message import MessageExt
>>> from rmqcore.store import MessageStore, StoreConfig
>>> root = tempfile.TemporaryDirectory(); clock = FakeClock(start_ms=0)
>>> store = MessageStore.open(root.name, StoreConfig(mapped_file_size_commit_log=1 << 20), clock=clock)
>>> service = TransactionalMessageService(store, clock)
>>> msg = MessageExt("TopicTest", b"order", tags="TagA", sys_flag=0x4,
...                  properties={"TRAN_MSG": "true", "PGROUP": "pg", "UNIQ_KEY": "U1"})
>>> half = service.prepare(msg, queue_id=2)
>>> store.max_offset("TopicTest", 2)
0
>>> service.end("pg", half.queue_offset, half.commitlog_offset, COMMIT).queue_offset
0
>>> store.max_offset("TopicTest", 2), service.flush_ops(), store.get("RMQ_SYS_TRANS_OP_HALF_TOPIC", 0, 0).messages[0].body
(1, 1, b'0,')
>>> service.end("other-group", half.queue_offset, half.commitlog_offset, ROLLBACK)
Traceback (most recent call last):
...
rmqcore.transaction.errors.TransactionError: The producer group wrong: ...
>>> store.close(); root.cleanup()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

import structlog

from rmqcore.clock import Clock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C

from rmqcore.transaction.errors import SYSTEM_ERROR, TransactionError
from rmqcore.transaction.half_message import (
    HALF_QUEUE_ID,
    op_message,
    to_check_copy,
    to_committed_message,
    to_discard_message,
    to_half_message,
    to_immunity_copy,
)
from rmqcore.transaction.op_batch import OpBatch
from rmqcore.transaction.store_protocol import TransactionStore, put_succeeded

log = structlog.get_logger(__name__)

COMMIT: Final = C.TRANSACTION_COMMIT_TYPE  # 8
ROLLBACK: Final = C.TRANSACTION_ROLLBACK_TYPE  # 12
UNKNOWN: Final = C.TRANSACTION_NOT_TYPE  # 0
DEFAULT_OP_BATCH_INTERVAL_MS: Final = 3_000  # transactionOpBatchInterval
FinalPut = Callable[[MessageExt, int], Any]


class TransactionalMessageService:
    """prepare / end over one store; the broker's END_TRANSACTION handler calls ``end``.

    ``final_put`` (optional) writes the committed message instead of ``store.put``; the broker
    passes one that routes a committed message with DELAY through the delay service (section 7:
    the delay hook applies to commit messages) and falls back to ``store.put``.
    """

    def __init__(
        self,
        store: TransactionStore,
        clock: Clock,
        *,
        op_batch_max_bytes: int = 4096,
        op_batch_interval_ms: int = DEFAULT_OP_BATCH_INTERVAL_MS,
        final_put: FinalPut | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self._final_put = final_put
        self._lock = threading.RLock()
        self._ops = OpBatch(max_bytes=op_batch_max_bytes, interval_ms=op_batch_interval_ms, write=self._write_op)
        # Repeat guard, for this process's lifetime (pruned behind the checker's progress):
        self._ended: dict[int, str | None] = {}  # half queue offset -> its transaction id
        self._ended_transactions: dict[str, int] = {}  # transaction id -> state it ended with

    # -- prepare --------------------------------------------------------------------------
    def prepare(self, msg: MessageExt, queue_id: int) -> Any:
        """Store ``msg`` as a half message (section 8); returns the store's put result."""
        half = to_half_message(msg, queue_id)
        return self.store.put(half, HALF_QUEUE_ID)

    # -- end ------------------------------------------------------------------------------
    def end(
        self,
        producer_group: str,
        tran_state_table_offset: int,
        commit_log_offset: int,
        commit_or_rollback: int,
        from_transaction_check: bool = False,
    ) -> Any | None:
        """END_TRANSACTION.  Commit: the real message's put result; rollback, unknown or a repeat: None.

        Raises ``TransactionError(SYSTEM_ERROR, remark)`` when the half message cannot be found or
        does not match the request (section 8).
        """
        if commit_or_rollback not in (COMMIT, ROLLBACK):
            # Section 8: 0 (unknown) is ignored; RocketMQ ignores any other value too.
            log.info(
                "transaction_end_ignored",
                producer_group=producer_group,
                commit_log_offset=commit_log_offset,
                commit_or_rollback=commit_or_rollback,
                from_transaction_check=from_transaction_check,
            )
            return None
        with self._lock:
            half = self._checked_half(producer_group, tran_state_table_offset, commit_log_offset)
            transaction_id = half.properties.get(C.PROPERTY_TRANSACTION_ID)
            if half.queue_offset in self._ended or transaction_id in self._ended_transactions:
                log.warning(
                    "transaction_end_repeated",
                    producer_group=producer_group,
                    half_queue_offset=half.queue_offset,
                    transaction_id=transaction_id,
                    commit_or_rollback=commit_or_rollback,
                    ended_with=self._ended_transactions.get(transaction_id or ""),
                    action="not applied again",
                )
                self._close_half(half)
                return None
            result = None
            if commit_or_rollback == COMMIT and self._committed_before(half):
                log.warning(
                    "transaction_commit_repeated",
                    producer_group=producer_group,
                    half_queue_offset=half.queue_offset,
                    transaction_id=transaction_id,
                    action="not written again: the store already holds the committed message",
                )
                if transaction_id:
                    self._ended_transactions[transaction_id] = COMMIT
                self._close_half(half)
                return None
            if commit_or_rollback == COMMIT:
                real, queue_id = to_committed_message(half, commit_log_offset)
                result = self._final_put(real, queue_id) if self._final_put else None
                if result is None:  # no hook, or a hook that declined: store it plainly
                    # Section 8: the committed message keeps the half message's store timestamp.
                    result = self.store.put(real, queue_id, store_timestamp=real.store_timestamp)
                if not put_succeeded(result):
                    # No op marker: the half stays open and the checker asks again later.
                    log.error("transaction_commit_put_failed", half_queue_offset=half.queue_offset, result=repr(result))
                    return result
            if transaction_id:
                self._ended_transactions[transaction_id] = commit_or_rollback
            self._close_half(half)
            return result

    def _committed_before(self, half: MessageExt) -> bool:
        """Whether the store already holds this transaction's committed message (found through the
        index by UNIQ_KEY).  It catches a commit repeated after a crash lost the op marker of the
        first one (ops are batched) or this process's repeat guard: the check-back is answered
        again and, without this, the message would be written twice."""
        uniq_key = half.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        transaction_id = half.properties.get(C.PROPERTY_TRANSACTION_ID)
        real_topic = half.properties.get(C.PROPERTY_REAL_TOPIC)
        if not uniq_key or not transaction_id or not real_topic:
            return False
        # A committed message with DELAY/TIMER_* sits in a system topic until it is due.
        for topic in (real_topic, C.SCHEDULE_TOPIC, C.TIMER_TOPIC):
            for msg in self.store.query_by_key(topic, uniq_key, max_count=8).messages:
                if (
                    msg.properties.get(C.PROPERTY_TRANSACTION_ID) == transaction_id
                    and msg.sys_flag & C.TRANSACTION_TYPE_MASK == C.TRANSACTION_COMMIT_TYPE
                ):
                    return True
        return False

    def _close_half(self, half: MessageExt) -> None:
        """Write (batched) the op marker of ``half`` once; later ENDs for it are repeats."""
        if half.queue_offset in self._ended:
            return
        self._ended[half.queue_offset] = half.properties.get(C.PROPERTY_TRANSACTION_ID)
        now = self.clock.now_ms()
        self._ops.add(half.queue_offset, now_ms=now)
        self._ops.flush_if_due(now)

    def _checked_half(self, producer_group: str, tran_state_table_offset: int, commit_log_offset: int) -> MessageExt:
        """``EndTransactionProcessor.checkPrepareMessage`` with remarks a person can act on."""
        half = self.store.look_message(commit_log_offset)
        if half is None or half.topic != C.TRANS_HALF_TOPIC:
            found = "no message" if half is None else f"a message of topic {half.topic!r}"
            raise TransactionError(
                SYSTEM_ERROR,
                f"Find prepared transaction message failed: {found} at commitlog offset {commit_log_offset}; "
                "END_TRANSACTION must cite the commitLogOffset of the half message from the send result "
                "or the check request (it may also have been removed by retention)",
            )
        group = half.properties.get(C.PROPERTY_PRODUCER_GROUP)
        if group != producer_group:
            raise TransactionError(
                SYSTEM_ERROR,
                f"The producer group wrong: the half message at commitlog offset {commit_log_offset} was sent by "
                f"group {group!r}, END_TRANSACTION came from group {producer_group!r}; end it from the sending group",
            )
        if half.queue_offset != tran_state_table_offset:
            raise TransactionError(
                SYSTEM_ERROR,
                f"The transaction state table offset wrong: the half message at commitlog offset {commit_log_offset} "
                f"has half-queue offset {half.queue_offset}, END_TRANSACTION cited tranStateTableOffset "
                f"{tran_state_table_offset}; cite the queueOffset from the send result or the check request",
            )
        if half.commitlog_offset != commit_log_offset:
            raise TransactionError(
                SYSTEM_ERROR,
                f"The commit log offset wrong: found the half message at {half.commitlog_offset}, "
                f"END_TRANSACTION cited {commit_log_offset}",
            )
        return half

    # -- ops ------------------------------------------------------------------------------
    def _write_op(self, half_queue_offsets: Sequence[int]) -> bool:
        try:
            result = self.store.put(op_message(half_queue_offsets), HALF_QUEUE_ID)
        except Exception as exc:  # kept buffered and written by a later flush; the commit already stands
            log.error("transaction_op_put_failed", offsets=half_queue_offsets, error=repr(exc))
            return False
        return put_succeeded(result)

    def flush_ops(self) -> int:
        """Write the buffered op markers now; returns the number of op messages written."""
        with self._lock:
            return self._ops.flush()

    def pending_ops(self) -> list[int]:
        """Half offsets ended but whose op marker is still buffered."""
        with self._lock:
            return self._ops.pending()

    def close(self) -> None:
        """Write the buffered op markers (a clean shutdown leaves nothing to re-check)."""
        self.flush_ops()

    # -- used by the checker ----------------------------------------------------------------
    def is_ended(self, half_queue_offset: int) -> bool:
        with self._lock:
            return half_queue_offset in self._ended

    def close_if_transaction_ended(self, half: MessageExt) -> bool:
        """If another half of ``half``'s transaction was already ended, close this one too (op marker)."""
        transaction_id = half.properties.get(C.PROPERTY_TRANSACTION_ID)
        with self._lock:
            if not transaction_id or transaction_id not in self._ended_transactions:
                return False
            self._close_half(half)
            return True

    def forget_ended_below(self, half_queue_offset: int) -> None:
        """Drop the repeat-guard entries the checker has moved past (keeps memory bounded)."""
        with self._lock:
            if not any(offset < half_queue_offset for offset in self._ended):
                return
            self._ended = {o: t for o, t in self._ended.items() if o >= half_queue_offset}
            alive = set(self._ended.values())
            self._ended_transactions = {t: s for t, s in self._ended_transactions.items() if t in alive}

    def put_back_half(self, half: MessageExt, times: int | None) -> MessageExt | None:
        """Re-append ``half`` with TRANSACTION_CHECK_TIMES=``times`` (None: an immunity copy,
        see ``to_immunity_copy``); the copy as stored, or None if the put failed."""
        copy = to_immunity_copy(half) if times is None else to_check_copy(half, times)
        result = self.store.put(copy, HALF_QUEUE_ID)
        if not put_succeeded(result):
            log.error("transaction_half_put_back_failed", half_queue_offset=half.queue_offset, result=repr(result))
            return None
        return self.store.look_message(result.commitlog_offset)

    def discard(self, half: MessageExt) -> bool:
        """Move ``half`` to TRANS_CHECK_MAXTIME_TOPIC queue 0."""
        result = self.store.put(to_discard_message(half), 0)
        return put_succeeded(result)
