"""TransactionalMessageService and TransactionChecker rules (reference section 8) on the real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmqcore.clock import FakeClock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C
from rmqcore.transaction import (
    COMMIT,
    ROLLBACK,
    SYSTEM_ERROR,
    UNKNOWN,
    TransactionalMessageService,
    TransactionChecker,
    TransactionError,
    TransactionProgressError,
)

from tests.transaction.conftest import StoreBox

TOPIC = "TxTopic"
GROUP = "pg"


def tx_message(body: str, clock: FakeClock, **props: str) -> MessageExt:
    return MessageExt(
        TOPIC,
        body.encode(),
        tags="TagA",
        properties={"TRAN_MSG": "true", "PGROUP": GROUP, "UNIQ_KEY": f"U-{body}", **props},
        sys_flag=C.TRANSACTION_PREPARED_TYPE,
        born_timestamp=clock.now_ms(),
    )


def test_half_message_is_stored_in_the_half_topic_and_invisible(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock)
    sent = service.prepare(tx_message("h", clock, color="red"), queue_id=3)
    assert sent.ok and sent.queue_offset == 0
    assert box.store.max_offset(TOPIC, 3) == 0
    (half,) = box.store.get(C.TRANS_HALF_TOPIC, 0, 0).messages  # dispatched to the half topic's ConsumeQueue
    assert half.commitlog_offset == sent.commitlog_offset
    assert half.sys_flag & C.TRANSACTION_TYPE_MASK == C.TRANSACTION_NOT_TYPE
    assert half.properties == {
        "TAGS": "TagA",
        "TRAN_MSG": "true",
        "PGROUP": GROUP,
        "UNIQ_KEY": "U-h",
        "color": "red",
        "__transactionId__": "U-h",
        "REAL_TOPIC": TOPIC,
        "REAL_QID": "3",
    }


def test_commit_and_rollback(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock)
    a = service.prepare(tx_message("a", clock), 0)
    b = service.prepare(tx_message("b", clock), 0)
    clock.advance(5)
    committed = service.end(GROUP, a.queue_offset, a.commitlog_offset, COMMIT)
    assert committed is not None and committed.ok
    assert service.end(GROUP, b.queue_offset, b.commitlog_offset, ROLLBACK) is None
    (real,) = box.store.get(TOPIC, 0, 0).messages
    assert real.body == b"a" and real.prepared_transaction_offset == a.commitlog_offset
    assert real.sys_flag & C.TRANSACTION_TYPE_MASK == C.TRANSACTION_COMMIT_TYPE


def test_committed_message_keeps_the_half_store_timestamp(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock)
    a = service.prepare(tx_message("a", clock), 0)
    clock.advance(5)
    service.end(GROUP, a.queue_offset, a.commitlog_offset, COMMIT)
    (real,) = box.store.get(TOPIC, 0, 0).messages
    assert real.store_timestamp == box.store.look_message(a.commitlog_offset).store_timestamp


def test_unknown_state_and_repeats_are_ignored(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock)
    a = service.prepare(tx_message("a", clock), 0)
    assert service.end(GROUP, a.queue_offset, a.commitlog_offset, UNKNOWN) is None
    assert box.store.max_offset(TOPIC, 0) == 0 and service.pending_ops() == []
    assert service.end(GROUP, a.queue_offset, a.commitlog_offset, COMMIT).ok
    assert service.end(GROUP, a.queue_offset, a.commitlog_offset, COMMIT, from_transaction_check=True) is None
    assert service.end(GROUP, a.queue_offset, a.commitlog_offset, ROLLBACK) is None
    assert box.store.max_offset(TOPIC, 0) == 1  # committed once
    assert service.pending_ops() == [a.queue_offset]


def test_commit_checks_raise_transaction_error_with_actionable_remarks(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock)
    service.prepare(tx_message("first", clock), 0)
    a = service.prepare(tx_message("a", clock), 0)
    plain = box.store.put(MessageExt("Other", b"not a half"), 0)

    with pytest.raises(TransactionError, match=r"^The producer group wrong: .*'pg'.*'intruder'") as wrong_group:
        service.end("intruder", a.queue_offset, a.commitlog_offset, COMMIT)
    assert wrong_group.value.code == SYSTEM_ERROR == 1
    with pytest.raises(TransactionError, match=r"^The transaction state table offset wrong: .* offset 1, .*cited tranStateTableOffset 0"):
        service.end(GROUP, 0, a.commitlog_offset, COMMIT)
    with pytest.raises(TransactionError, match=r"^Find prepared transaction message failed: no message at commitlog offset 99999999"):
        service.end(GROUP, a.queue_offset, 99_999_999, COMMIT)
    with pytest.raises(TransactionError, match=r"^Find prepared transaction message failed: a message of topic 'Other'"):
        service.end(GROUP, 0, plain.commitlog_offset, ROLLBACK)
    with pytest.raises(TransactionError, match="The producer group wrong"):
        service.end("intruder", a.queue_offset, a.commitlog_offset, ROLLBACK)  # rollback is checked too
    assert box.store.max_offset(TOPIC, 0) == 0 and service.pending_ops() == []
    assert service.end(GROUP, a.queue_offset, a.commitlog_offset, COMMIT).ok  # the right request still works


def test_op_body_is_offsets_each_followed_by_a_comma(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock)
    sent = [service.prepare(tx_message(f"m{i}", clock), 0) for i in range(19)]
    service.end(GROUP, sent[17].queue_offset, sent[17].commitlog_offset, ROLLBACK)
    service.end(GROUP, sent[18].queue_offset, sent[18].commitlog_offset, COMMIT)
    assert box.store.max_offset(C.TRANS_OP_HALF_TOPIC, 0) == 0  # batched until flushed
    assert service.flush_ops() == 1
    (op,) = box.store.get(C.TRANS_OP_HALF_TOPIC, 0, 0).messages
    assert op.body == b"17,18," and op.tags == "d" and op.queue_id == 0


def test_op_batches_flush_by_size_and_by_time(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock, op_batch_max_bytes=6)
    sent = [service.prepare(tx_message(f"m{i}", clock), 0) for i in range(12)]
    for s in sent[8:12]:  # "8,9,10,11," is 10 bytes: over 6 after the third
        service.end(GROUP, s.queue_offset, s.commitlog_offset, ROLLBACK)
    assert [m.body for m in box.store.get(C.TRANS_OP_HALF_TOPIC, 0, 0).messages] == [b"8,9,", b"10,"]
    assert service.pending_ops() == [11]
    clock.advance(3_000)  # transactionOpBatchInterval: the next END flushes what waited that long
    service.end(GROUP, sent[0].queue_offset, sent[0].commitlog_offset, ROLLBACK)
    assert [m.body for m in box.store.get(C.TRANS_OP_HALF_TOPIC, 0, 0).messages] == [b"8,9,", b"10,", b"11,0,"]


def test_check_immunity_time_sets_the_half_aside_until_its_time(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    service = TransactionalMessageService(box.store, clock)
    asked: list[MessageExt] = []
    checker = TransactionChecker(service, clock, asked.append, progress_dir=tmp_path)
    service.prepare(tx_message("slow", clock, CHECK_IMMUNITY_TIME_IN_SECONDS="60"), 0)  # offset 0
    service.prepare(tx_message("short", clock, CHECK_IMMUNITY_TIME_IN_SECONDS="2"), 0)  # 2 s < timeout: 6 s
    clock.advance(30_000)
    # "slow" is re-appended unchecked (offset 2) so that "short" behind it is checked (copy at 3).
    assert checker.check_once() == 1
    assert [(m.body, m.queue_offset, m.properties["TRANSACTION_CHECK_TIMES"]) for m in asked] == [(b"short", 3, "1")]
    (aside,) = box.store.get(C.TRANS_HALF_TOPIC, 0, 2, max_count=1).messages
    assert aside.body == b"slow" and aside.properties["TRAN_PREPARED_QUEUE_OFFSET"] == "0"
    assert "TRANSACTION_CHECK_TIMES" not in aside.properties
    clock.advance(30_001)  # slow's 60 s are over
    assert checker.check_once() == 2
    assert [(m.body, m.properties["TRANSACTION_CHECK_TIMES"]) for m in asked[1:]] == [(b"slow", "1"), (b"short", "2")]
    # The producer's END cites the check copy; the check copy still names the original.
    assert asked[1].properties["TRAN_PREPARED_QUEUE_OFFSET"] == "0"
    assert service.end(GROUP, asked[1].queue_offset, asked[1].commitlog_offset, COMMIT).ok


def test_immunity_copy_of_an_ended_original_is_done_after_a_restart(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    service = TransactionalMessageService(box.store, clock)
    asked: list[MessageExt] = []
    checker = TransactionChecker(service, clock, asked.append, progress_dir=tmp_path)
    original = service.prepare(tx_message("slow", clock, CHECK_IMMUNITY_TIME_IN_SECONDS="60"), 0)
    clock.advance(30_000)
    assert checker.check_once() == 0  # set aside as offset 1
    assert service.end(GROUP, original.queue_offset, original.commitlog_offset, COMMIT).ok
    checker.close()
    service.close()
    store = box.reopen()
    service = TransactionalMessageService(store, clock)  # no memory of the END: only the op marker
    checker = TransactionChecker(service, clock, asked.append, progress_dir=tmp_path)
    clock.advance(40_000)
    assert checker.check_once() == 0 and asked == []
    assert checker.progress.half_offset == 2
    assert [m.body for m in store.get(TOPIC, 0, 0).messages] == [b"slow"]  # committed once


def test_half_older_than_file_reserved_time_is_discarded_unchecked(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    service = TransactionalMessageService(box.store, clock)
    asked: list[MessageExt] = []
    checker = TransactionChecker(service, clock, asked.append, progress_dir=tmp_path, file_reserved_time_hours=72)
    old = tx_message("ancient", clock)
    old.born_timestamp = clock.now_ms() - 72 * 3_600_000 - 1
    service.prepare(old, 0)
    assert checker.check_once() == 0 and asked == []
    (discarded,) = box.store.get(C.TRANS_CHECK_MAX_TIME_TOPIC, 0, 0).messages
    assert discarded.body == b"ancient" and discarded.properties["REAL_TOPIC"] == TOPIC


def test_a_failing_check_back_does_not_stop_the_round(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    service = TransactionalMessageService(box.store, clock)
    calls: list[int] = []

    def flaky(half: MessageExt) -> None:
        calls.append(half.queue_offset)
        if len(calls) == 1:
            raise ConnectionError("producer channel closed")

    checker = TransactionChecker(service, clock, flaky, progress_dir=tmp_path)
    service.prepare(tx_message("x", clock), 0)
    service.prepare(tx_message("y", clock), 0)
    clock.advance(7_000)
    assert checker.check_once() == 2 and calls == [2, 3]


def test_progress_file_shape_and_unreadable_file(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    service = TransactionalMessageService(box.store, clock)
    checker = TransactionChecker(service, clock, lambda half: None, progress_dir=tmp_path)
    a = service.prepare(tx_message("a", clock), 0)
    service.end(GROUP, a.queue_offset, a.commitlog_offset, ROLLBACK)
    checker.check_once()
    data = json.loads((tmp_path / "transactionCheckOffset.json").read_text())
    assert data["offsetTable"] == {
        "RMQ_SYS_TRANS_HALF_TOPIC@CID_SYS_RMQ_TRANS": {"0": 1},
        "RMQ_SYS_TRANS_OP_HALF_TOPIC@CID_SYS_RMQ_TRANS": {"0": 1},
    }
    assert set(data["dataVersion"]) == {"stateVersion", "timestamp", "counter"}
    (tmp_path / "transactionCheckOffset.json").write_text("[broken")
    with pytest.raises(TransactionProgressError, match="move it aside"):
        TransactionChecker(service, clock, lambda half: None, progress_dir=tmp_path)


def test_late_end_after_a_check_back_commits_once(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    """The producer's own END for the original half arrives after the checker re-appended a copy
    and asked about it: whichever END comes second is not applied again, and the copy is closed."""
    service = TransactionalMessageService(box.store, clock)
    asked: list[MessageExt] = []
    checker = TransactionChecker(service, clock, asked.append, progress_dir=tmp_path)
    original = service.prepare(tx_message("slow-local-tx", clock), 0)
    clock.advance(7_000)
    assert checker.check_once() == 1
    (copy,) = asked
    assert service.end(GROUP, original.queue_offset, original.commitlog_offset, COMMIT).ok  # the late END
    assert service.end(GROUP, copy.queue_offset, copy.commitlog_offset, COMMIT, from_transaction_check=True) is None
    assert [m.body for m in box.store.get(TOPIC, 0, 0).messages] == [b"slow-local-tx"]
    clock.advance(60_000)
    assert checker.check_once() == 0  # both halves are closed
    assert checker.progress.half_offset == 2


def test_copy_of_an_ended_transaction_is_closed_without_asking(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    service = TransactionalMessageService(box.store, clock)
    asked: list[MessageExt] = []
    checker = TransactionChecker(service, clock, asked.append, progress_dir=tmp_path)
    original = service.prepare(tx_message("x", clock), 0)
    clock.advance(7_000)
    assert checker.check_once() == 1  # copy at offset 1, nobody answers it
    service.end(GROUP, original.queue_offset, original.commitlog_offset, ROLLBACK)
    clock.advance(30_000)
    assert checker.check_once() == 0 and len(asked) == 1
    assert box.store.max_offset(TOPIC, 0) == 0
    # The rollback's marker was flushed at the start of the round; the copy's is batched ...
    assert [m.body for m in box.store.get(C.TRANS_OP_HALF_TOPIC, 0, 0).messages] == [b"0,"]
    assert service.pending_ops() == [1]
    service.flush_ops()  # ... and written with the next flush
    assert [m.body for m in box.store.get(C.TRANS_OP_HALF_TOPIC, 0, 0).messages] == [b"0,", b"1,"]


def test_commit_repeated_by_a_new_service_is_not_written_twice(box: StoreBox, clock: FakeClock) -> None:
    service = TransactionalMessageService(box.store, clock)
    a = service.prepare(tx_message("a", clock), 0)
    assert service.end(GROUP, a.queue_offset, a.commitlog_offset, COMMIT).ok
    restarted = TransactionalMessageService(box.reopen(), clock)  # no memory of the first END
    assert restarted.end(GROUP, a.queue_offset, a.commitlog_offset, COMMIT) is None
    assert [m.body for m in box.store.get(TOPIC, 0, 0).messages] == [b"a"]


class FlushCountingStore:
    """The box's store, counting ``flush`` calls."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        self._store.flush()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_rounds_that_write_nothing_neither_flush_nor_save_progress(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    store = FlushCountingStore(box.store)
    service = TransactionalMessageService(store, clock)  # type: ignore[arg-type]
    asked: list[MessageExt] = []
    checker = TransactionChecker(service, clock, asked.append, progress_dir=tmp_path)
    progress_file = tmp_path / "transactionCheckOffset.json"
    a = service.prepare(tx_message("a", clock), 0)
    assert checker.check_once() == 0  # too young: the round stops at once
    assert store.flushes == 0 and not progress_file.exists()

    service.end(GROUP, a.queue_offset, a.commitlog_offset, ROLLBACK)
    clock.advance(7_000)
    assert checker.check_once() == 0  # the op marker is written and the progress moves past both
    assert store.flushes == 1 and json.loads(progress_file.read_text())["offsetTable"] == {
        "RMQ_SYS_TRANS_HALF_TOPIC@CID_SYS_RMQ_TRANS": {"0": 1},
        "RMQ_SYS_TRANS_OP_HALF_TOPIC@CID_SYS_RMQ_TRANS": {"0": 1},
    }
    saved = progress_file.read_bytes()

    clock.advance(60_000)
    assert checker.check_once() == 0  # nothing new: nothing written, nothing moved
    assert store.flushes == 1 and progress_file.read_bytes() == saved
    checker.close()  # no buffered op markers, no new progress
    assert store.flushes == 1 and progress_file.read_bytes() == saved
