"""The C store and the pure-Python reference model, driven by the same operations.

Hypothesis picks puts, batch puts, puts of encoded property strings (``put_encoded``),
offset-by-time searches (both boundary types), reads (with tag filters and byte limits), key
queries, clean reopens and crashes (the store dropped without close: no flush, no
checkpoint, ``abort`` left behind), on files small enough that every kind of roll
happens. Every read is compared byte for byte.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rmqcore.clock import FakeClock
from rmqcore.message import Message, encode_properties, tags_code
from rmqcore.store import MessageStore, StoreConfig
from rmqcore.store.reference_model import ReferenceStore

CONFIG = StoreConfig(
    mapped_file_size_commit_log=4096,
    mapped_file_size_consume_queue=20 * 5,
    max_message_size=1500,
    max_hash_slot_num=16,
    max_index_num=8,
)
TOPICS = ["TopicA", "TopicB", "L" * 130]  # the long one is stored with the V2 magic
TAGS = [None, "TagA", "TagB", "标签"]
KEYS = ["k1", "k2", "k3"]

messages = st.builds(
    lambda topic, body, tag, keys, flag: Message(topic, body, tags=tag, keys=keys, flag=flag),
    st.sampled_from(TOPICS),
    st.binary(max_size=600),
    st.sampled_from(TAGS),
    st.lists(st.sampled_from(KEYS), max_size=2, unique=True),
    st.integers(0, 3),
)


class StoreVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="rmq-store-model-"))
        self.clock = FakeClock(start_ms=1_700_000_000_000)
        self.model = ReferenceStore(CONFIG)
        self.store = MessageStore.open(self.dir, CONFIG, clock=self.clock)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(msg=messages, queue_id=st.integers(0, 1))
    def put(self, msg: Message, queue_id: int) -> None:
        now = self.clock.now_ms()
        result = self.store.put(msg, queue_id)
        phys, queue_offset = self.model.put(msg, queue_id, now)
        assert result.ok
        assert (result.commitlog_offset, result.queue_offset) == (phys, queue_offset)
        assert result.wrote_bytes == len(self.model.records[phys])

    @rule(msg=messages, queue_id=st.integers(0, 1), uniq=st.none() | st.sampled_from(KEYS))
    def put_encoded(self, msg: Message, queue_id: int, uniq: str | None) -> None:
        """The property string as a client sends it: the same record, tag code and index keys as put."""
        if uniq is not None:
            msg.properties["UNIQ_KEY"] = uniq
        now = self.clock.now_ms()
        encoded = encode_properties(msg.properties).encode()
        result = self.store.put_encoded(msg.topic, queue_id, msg.body, encoded, flag=msg.flag)
        phys, queue_offset = self.model.put(msg, queue_id, now)
        assert result.ok
        assert (result.commitlog_offset, result.queue_offset) == (phys, queue_offset)
        assert result.wrote_bytes == len(self.model.records[phys])

    @rule(topic=st.sampled_from(TOPICS), batch=st.lists(messages, min_size=1, max_size=6), queue_id=st.integers(0, 1))
    def put_batch(self, topic: str, batch: list[Message], queue_id: int) -> None:
        for m in batch:
            m.topic = topic
        now = self.clock.now_ms()
        result = self.store.put_batch(batch, queue_id)
        expected = self.model.put_batch(batch, queue_id, now)
        assert result.ok
        assert list(result.commitlog_offsets or ()) == [p for p, _ in expected]
        assert result.queue_offset == expected[0][1]

    @rule(ms=st.integers(0, 5_000))
    def tick(self, ms: int) -> None:
        self.clock.advance(ms)

    @rule(
        topic=st.sampled_from(TOPICS),
        queue_id=st.integers(0, 2),
        delta=st.integers(-2, 30),
        max_count=st.integers(1, 8),
        tags=st.none() | st.sets(st.sampled_from(TAGS[1:]), min_size=1),
        max_bytes=st.none() | st.integers(1, 3000),
    )
    def get(self, topic: str, queue_id: int, delta: int, max_count: int, tags: set[str] | None, max_bytes: int | None) -> None:
        offset = self.model.min_offset(topic, queue_id) + delta
        codes = {tags_code(t) for t in tags} if tags else None
        got = self.store.get_raw(topic, queue_id, offset, max_count, codes, max_bytes)
        want = self.model.get(topic, queue_id, offset, max_count, codes, max_bytes)
        assert got.status.name == want.status
        assert (got.next_offset, got.min_offset, got.max_offset) == (want.next_offset, want.min_offset, want.max_offset)
        assert got.raw == want.raw
        assert got.message_count == want.count

    @rule(topic=st.sampled_from(TOPICS), key=st.sampled_from(KEYS), max_count=st.integers(1, 5))
    def query(self, topic: str, key: str, max_count: int) -> None:
        hits = self.store.query_by_key(topic, key, max_count)
        assert [m.commitlog_offset for m in hits.messages] == self.model.query_by_key(topic, key, max_count, 0, 2**62)

    @rule(topic=st.sampled_from(TOPICS), queue_id=st.integers(0, 2), data=st.data(), upper=st.booleans())
    def offset_by_time(self, topic: str, queue_id: int, data: st.DataObject, upper: bool) -> None:
        stored = sorted({m.store_timestamp for m in self.model.messages.values()})
        ts = data.draw(st.sampled_from(stored or [self.clock.now_ms()])) + data.draw(st.sampled_from([-1, 0, 0, 1]))
        got = self.store.offset_by_time(topic, queue_id, ts, upper=upper)
        assert got == self.model.offset_by_time(topic, queue_id, ts, upper)

    @precondition(lambda self: self.model.records)
    @rule(data=st.data())
    def look(self, data: st.DataObject) -> None:
        phys = data.draw(st.sampled_from(sorted(self.model.records)))
        assert self.store.look_message_raw(phys) == self.model.records[phys]

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = MessageStore.open(self.dir, CONFIG, clock=self.clock)
        assert not self.store.recovery_report.truncated

    @rule(flush_first=st.booleans())
    def crash(self, flush_first: bool) -> None:
        if flush_first:
            self.store.flush()
        self.store._simulate_crash()
        self.store = MessageStore.open(self.dir, CONFIG, clock=self.clock)
        assert self.store.recovery_report.abnormal
        assert not self.store.recovery_report.truncated

    @invariant()
    def offsets_agree(self) -> None:
        assert self.store.max_phy_offset == self.model.write_pos
        for topic in TOPICS:
            for queue_id in (0, 1):
                assert self.store.max_offset(topic, queue_id) == self.model.max_offset(topic, queue_id)
                assert self.store.min_offset(topic, queue_id) == self.model.min_offset(topic, queue_id)


StoreVersusModel.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_store_matches_reference_model = StoreVersusModel.TestCase
