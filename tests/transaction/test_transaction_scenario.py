"""The seed's transaction scenario on a FakeClock, end to end on the real store.

TagA commits at once, TagB rolls back at once, TagC commits when checked, TagD rolls back when
checked, TagE answers "unknown" forever and is discarded after transactionCheckMax (15) checks.
Only TagA and TagC become visible in the real topic; TagE lands in TRANS_CHECK_MAXTIME_TOPIC.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rmqcore.clock import FakeClock
from rmqcore.message import MessageExt
from rmqcore.message import constants as C
from rmqcore.transaction import COMMIT, ROLLBACK, UNKNOWN, TransactionalMessageService, TransactionChecker

from tests.transaction.conftest import StoreBox

TOPIC = "TxTopic"
GROUP = "please_rename_unique_group_name"
PER_TAG = 3
CHECK_INTERVAL_MS = 30_000
ANSWER_ON_CHECK = {"TagC": COMMIT, "TagD": ROLLBACK, "TagE": UNKNOWN}


class Producer:
    """The producer group: sends half messages, ends TagA/TagB at once, answers check-backs later."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.checks: Counter[str] = Counter()  # per tag
        self.checks_per_message: Counter[str] = Counter()  # per UNIQ_KEY
        self.answers: list[tuple[int, int, int]] = []  # END_TRANSACTION requests not yet sent

    def send_all(self, service: TransactionalMessageService) -> None:
        for tag in ("TagA", "TagB", "TagC", "TagD", "TagE"):
            for i in range(PER_TAG):
                msg = MessageExt(
                    TOPIC,
                    f"{tag}-{i}".encode(),
                    tags=tag,
                    keys=(f"KEY{tag}{i}",),
                    properties={"TRAN_MSG": "true", "PGROUP": GROUP, "UNIQ_KEY": f"U-{tag}-{i}"},
                    sys_flag=C.TRANSACTION_PREPARED_TYPE,
                    born_timestamp=self.clock.now_ms(),
                )
                sent = service.prepare(msg, queue_id=i % 2)
                assert sent.ok
                if tag == "TagA":
                    service.end(GROUP, sent.queue_offset, sent.commitlog_offset, COMMIT)
                elif tag == "TagB":
                    service.end(GROUP, sent.queue_offset, sent.commitlog_offset, ROLLBACK)

    def check_back(self, half: MessageExt) -> None:
        """CHECK_TRANSACTION_STATE arrives (one-way): the answer goes back later."""
        assert half.topic == C.TRANS_HALF_TOPIC
        self.checks[half.tags or ""] += 1
        self.checks_per_message[half.properties["UNIQ_KEY"]] += 1
        self.answers.append((half.queue_offset, half.commitlog_offset, ANSWER_ON_CHECK[half.tags or ""]))

    def answer(self, service: TransactionalMessageService) -> None:
        answers, self.answers = self.answers, []
        for queue_offset, commitlog_offset, state in answers:
            service.end(GROUP, queue_offset, commitlog_offset, state, from_transaction_check=True)


class Broker:
    """The pieces the broker composes: one store, the service, the checker."""

    def __init__(self, box: StoreBox, clock: FakeClock, producer: Producer, progress_dir: Path) -> None:
        self.box, self.clock, self.progress_dir, self.producer = box, clock, progress_dir, producer
        self.start()

    def start(self) -> None:
        self.service = TransactionalMessageService(self.box.store, self.clock)
        self.checker = TransactionChecker(
            self.service, self.clock, self.producer.check_back, check_interval_ms=CHECK_INTERVAL_MS, progress_dir=self.progress_dir
        )

    def restart(self) -> None:
        self.checker.close()
        self.service.close()
        self.box.reopen()
        self.start()

    def round(self) -> int:
        self.clock.advance(CHECK_INTERVAL_MS)
        return self.checker.run_due()


def visible(store, topic: str, queue_ids: range = range(2)) -> list[MessageExt]:  # noqa: ANN001
    return [m for q in queue_ids for m in store.get(topic, q, 0, max_count=1000).messages]


def assert_final_state(box: StoreBox, producer: Producer, check_backs: int) -> None:
    store = box.store
    real = visible(store, TOPIC)
    assert Counter(m.tags for m in real) == {"TagA": PER_TAG, "TagC": PER_TAG}
    assert sorted(m.body for m in real) == sorted(f"{t}-{i}".encode() for t in ("TagA", "TagC") for i in range(PER_TAG))
    discarded = visible(store, C.TRANS_CHECK_MAX_TIME_TOPIC, range(1))
    assert Counter(m.tags for m in discarded) == {"TagE": PER_TAG}
    assert {m.properties["TRANSACTION_CHECK_TIMES"] for m in discarded} == {"15"}
    assert producer.checks == {"TagC": PER_TAG, "TagD": PER_TAG, "TagE": 15 * PER_TAG}
    assert {k: v for k, v in producer.checks_per_message.items() if "TagE" in k} == {
        f"U-TagE-{i}": 15 for i in range(PER_TAG)
    }
    assert check_backs == PER_TAG + PER_TAG + 15 * PER_TAG


def test_seed_scenario_exact_counts(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    producer = Producer(clock)
    broker = Broker(box, clock, producer, tmp_path / "config")
    producer.send_all(broker.service)
    # TagA is visible at once; nothing else yet.
    assert Counter(m.tags for m in visible(box.store, TOPIC)) == {"TagA": PER_TAG}
    issued = []
    for _ in range(20):
        issued.append(broker.round())
        producer.answer(broker.service)
    # round 1 checks TagC, TagD, TagE; rounds 2..15 check TagE again; round 16 discards TagE
    assert issued == [3 * PER_TAG] + [PER_TAG] * 14 + [0] * 5
    assert_final_state(box, producer, sum(issued))
    # Nothing is left open: the checker has moved past every half message.
    half_end = box.store.max_offset(C.TRANS_HALF_TOPIC, 0)
    assert broker.checker.progress.half_offset == half_end
    assert half_end == 5 * PER_TAG + PER_TAG * 2 + 15 * PER_TAG  # originals + one copy per check-back
    broker.checker.close()
    broker.service.close()


def test_committed_message_shape(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    producer = Producer(clock)
    broker = Broker(box, clock, producer, tmp_path / "config")
    producer.send_all(broker.service)
    broker.round()
    copies = {q: c for q, c, state in producer.answers if state == COMMIT}
    producer.answer(broker.service)
    tag_c = [m for m in visible(box.store, TOPIC) if m.tags == "TagC"]
    assert len(tag_c) == PER_TAG
    for real in tag_c:
        assert real.sys_flag & C.TRANSACTION_TYPE_MASK == C.TRANSACTION_COMMIT_TYPE
        assert real.prepared_transaction_offset in copies.values()  # the checked copy's commitlog offset
        half = box.store.look_message(real.prepared_transaction_offset)
        assert half is not None and half.topic == C.TRANS_HALF_TOPIC
        assert real.queue_id == int(half.properties["REAL_QID"])
        assert "REAL_TOPIC" not in real.properties and "REAL_QID" not in real.properties
        assert "TRAN_MSG" not in real.properties
        assert real.properties["__transactionId__"] == real.properties["UNIQ_KEY"]
        assert real.properties["PGROUP"] == GROUP and real.properties["TRANSACTION_CHECK_TIMES"] == "1"
    broker.checker.close()


@pytest.mark.parametrize("answers_after_restart", [False, True])
def test_checker_restart_midway_resumes_without_loss_or_double_commit(
    box: StoreBox, clock: FakeClock, tmp_path: Path, answers_after_restart: bool
) -> None:
    producer = Producer(clock)
    broker = Broker(box, clock, producer, tmp_path / "config")
    producer.send_all(broker.service)
    issued = []
    for round_number in range(1, 21):
        issued.append(broker.round())
        if round_number in (1, 7) and answers_after_restart:
            broker.restart()  # check-backs of this round are answered to the restarted broker
        producer.answer(broker.service)
        if round_number in (4, 9) and not answers_after_restart:
            broker.restart()
    assert issued == [3 * PER_TAG] + [PER_TAG] * 14 + [0] * 5
    assert_final_state(box, producer, sum(issued))
    broker.checker.close()
    broker.service.close()


def test_nothing_is_checked_before_the_transaction_timeout(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    producer = Producer(clock)
    broker = Broker(box, clock, producer, tmp_path / "config")
    producer.send_all(broker.service)
    clock.advance(6_000)  # transactionTimeOut: not *older* than it yet
    assert broker.checker.check_once() == 0
    clock.advance(1)
    assert broker.checker.check_once() == 3 * PER_TAG
    # run_due waits a whole check interval after a round
    clock.advance(CHECK_INTERVAL_MS - 1)
    assert broker.checker.run_due() == 0
    clock.advance(1)
    assert broker.checker.run_due() == 3 * PER_TAG  # nobody answered: all asked again
    broker.checker.close()


def test_crash_with_stale_checker_progress_loses_nothing_and_checks_each_transaction_once_per_round(
    box: StoreBox, clock: FakeClock, tmp_path: Path
) -> None:
    producer = Producer(clock)
    broker = Broker(box, clock, producer, tmp_path / "config")
    progress_file = tmp_path / "config" / "transactionCheckOffset.json"
    producer.send_all(broker.service)
    issued = []
    stale = b""
    for round_number in range(1, 21):
        issued.append(broker.round())
        if round_number == 3:
            stale = progress_file.read_bytes()
        if round_number == 6:
            # The broker process dies after round 6: its check-backs are never answered, and the
            # checker's progress on disk is the one of round 3.
            producer.answers.clear()
            box.store._simulate_crash()
            progress_file.write_bytes(stale)
            box.store = box._open()
            broker.start()
            continue
        producer.answer(broker.service)
    assert issued == [3 * PER_TAG] + [PER_TAG] * 14 + [0] * 5
    assert_final_state(box, producer, sum(issued))
    broker.checker.close()
    broker.service.close()


def test_crash_losing_batched_op_markers_does_not_commit_twice(box: StoreBox, clock: FakeClock, tmp_path: Path) -> None:
    """Op markers are batched: a crash right after the ENDs answering round 1 loses them, so the
    restarted checker asks about TagC and TagD again.  The producer commits TagC again; the store
    already holds those messages (found by UNIQ_KEY), so nothing is written twice."""
    producer = Producer(clock)
    broker = Broker(box, clock, producer, tmp_path / "config")
    producer.send_all(broker.service)
    assert broker.round() == 3 * PER_TAG
    producer.answer(broker.service)
    assert broker.service.pending_ops()  # not yet written when the process dies
    box.store._simulate_crash()
    box.store = box._open()
    broker.start()
    issued = []
    for _ in range(19):
        issued.append(broker.round())
        producer.answer(broker.service)
    assert issued[0] == 3 * PER_TAG  # TagC and TagD asked again, TagE as usual
    real = visible(box.store, TOPIC)
    assert Counter(m.tags for m in real) == {"TagA": PER_TAG, "TagC": PER_TAG}  # TagC once each
    assert producer.checks == {"TagC": 2 * PER_TAG, "TagD": 2 * PER_TAG, "TagE": 15 * PER_TAG}
    assert Counter(m.tags for m in visible(box.store, C.TRANS_CHECK_MAX_TIME_TOPIC, range(1))) == {"TagE": PER_TAG}
    broker.checker.close()
    broker.service.close()
