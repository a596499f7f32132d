"""MessageStore.put's C path (``rmqcore.store._put_path``) against the interpreter's.

The C path runs a put's common case in one call; whatever it declines, MessageStore.put
does in the interpreter. Both must store the same bytes and answer the same PutResult,
and C must decline (never misstore) anything unusual, before writing anything.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmqcore.clock import FakeClock
from rmqcore.message import Message, MessageExt
from rmqcore.store import MessageStore, MessageTooLargeError, PutResult, PutStatus, StoreClosedError
from rmqcore.store import message_store as store_module

from .conftest import small_config

pytest.importorskip("rmqcore.store._put_path")

OpenStore = Callable[..., MessageStore]


def c_put(store: MessageStore, msg: Message, queue_id: int) -> PutResult | None:
    """The C path alone: a PutResult when it stored the message, None when it declined."""
    assert store._put_path is not None
    result: PutResult | None = store._put_path.put(msg, queue_id)
    return result


def ready(store: MessageStore, topic: str = "T", queue_id: int = 0, tags: str | None = "TagA") -> None:
    """What the C path needs first: the queue created and the tag's properties cached,
    both by a put through the interpreter."""
    store.put(Message(topic, b"first", tags=tags), queue_id)


# --- what the C path stores ------------------------------------------------------------------------


def test_stores_the_plain_case_in_c(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store()
    ready(store)
    clock.advance(5)
    got = c_put(store, Message("T", b"payload", tags="TagA", flag=7), 0)
    assert got is not None and type(got) is PutResult
    assert got.status is PutStatus.PUT_OK and got.ok
    assert (got.queue_offset, got.message_count, got.commitlog_offsets, got.error) == (1, 1, None, None)
    assert got.store_timestamp == clock.now_ms()
    assert got.end_offset == got.commitlog_offset + got.wrote_bytes == store.max_phy_offset
    stored = store.get("T", 0, 1).messages[0]
    assert (stored.body, stored.flag, stored.tags, stored.store_timestamp) == (b"payload", 7, "TagA", clock.now_ms())
    assert stored.commitlog_offset == got.commitlog_offset


def test_messages_without_properties_take_the_c_path(open_store: OpenStore) -> None:
    store = open_store()
    ready(store, tags=None)
    got = c_put(store, Message("T", b"bare"), 0)
    assert got is not None and got.ok
    assert store.get("T", 0, 1).messages[0].properties == {}


def test_system_clock_is_read_in_c(tmp_path: Path) -> None:
    with MessageStore.open(tmp_path / "s", small_config()) as store:
        assert store._put_path is not None and store._put_path.now is None
        ready(store)
        import time

        before = int(time.time() * 1000)
        got = c_put(store, Message("T", b"x", tags="TagA"), 0)
        after = int(time.time() * 1000)
        assert got is not None and before <= got.store_timestamp <= after


property_maps = st.sampled_from(
    [{}, {"TAGS": "TagA"}, {"TAGS": "TagB"}, {"TAGS": "TagA", "KEYS": "k1 k2"}, {"UNIQ_KEY": "0A0B", "a": "é"}]
)
messages = st.builds(
    lambda queue_id, body, flag, props: (Message("PathTopic", body, flag=flag, properties=dict(props)), queue_id),
    st.integers(0, 2),
    st.binary(max_size=700),
    st.one_of(st.just(0), st.integers(-(2**31), 2**31 - 1)),
    property_maps,
)


def assert_same_queues(with_c: MessageStore, with_py: MessageStore) -> None:
    """PathTopic's three queues hold the same records, byte for byte, in both stores."""
    for queue_id in range(3):
        count = with_py.max_offset("PathTopic", queue_id)
        assert with_c.max_offset("PathTopic", queue_id) == count
        if count:
            a = with_c.get_raw("PathTopic", queue_id, 0, max_count=count)
            b = with_py.get_raw("PathTopic", queue_id, 0, max_count=count)
            assert bytes(a.raw) == bytes(b.raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(puts=st.lists(messages, min_size=1, max_size=60))
def test_c_path_stores_what_the_interpreter_stores(
    store_pair: Callable[..., tuple[MessageStore, MessageStore]], puts: list[tuple[Message, int]]
) -> None:
    """Rolls included (16 KiB CommitLog files): results, bytes and index entries agree."""
    with_c, with_py = store_pair(
        mapped_file_size_commit_log=16 * 1024, max_message_size=4096, max_hash_slot_num=256, max_index_num=1024
    )
    with_py._put_fast = store_module._decline_put  # the interpreter only
    taken = 0
    c_path = with_c._put_fast

    def counted(msg: Message, queue_id: int) -> PutResult | None:
        nonlocal taken
        result = c_path(msg, queue_id)
        taken += result is not None
        return result

    with_c._put_fast = counted
    queues: set[int] = set()
    tags: set[str | None] = set()
    plain = 0  # puts C must take: no properties or a lone TAGS seen before, on a known queue
    for msg, queue_id in puts:
        props = msg.properties
        if queue_id in queues and (not props or (list(props) == ["TAGS"] and props["TAGS"] in tags)):
            plain += 1
        queues.add(queue_id)
        tags.add(props.get("TAGS"))
        assert with_c.put(msg, queue_id) == with_py.put(msg, queue_id)
    assert taken >= plain
    assert_same_queues(with_c, with_py)
    for key in ("k1", "k2", "0A0B"):
        found_c = with_c.query_by_key("PathTopic", key, 100, 0, 2**62).messages
        found_py = with_py.query_by_key("PathTopic", key, 100, 0, 2**62).messages
        assert [m.commitlog_offset for m in found_c] == [m.commitlog_offset for m in found_py]


def test_a_roll_onto_a_new_file_from_the_c_path(open_store: OpenStore) -> None:
    store = open_store()  # 4 KiB CommitLog files
    ready(store)
    offsets = []
    for i in range(40):
        got = c_put(store, Message("T", bytes([i]) * 300, tags="TagA"), 0)
        assert got is not None and got.ok
        offsets.append(got.commitlog_offset)
    assert any(a // 4096 != b // 4096 for a, b in zip(offsets, offsets[1:]))
    assert [m.body for m in store.get("T", 0, 1, max_count=40).messages] == [bytes([i]) * 300 for i in range(40)]


# --- what it declines ----------------------------------------------------------------------------------


def _with(attr: str, value: Any) -> Message:
    m = Message("T", b"body", tags="TagA")
    setattr(m, attr, value)
    return m


@pytest.mark.parametrize(
    "msg",
    [
        pytest.param(MessageExt("T", b"a", tags="TagA"), id="subclass"),
        pytest.param(_with("body", bytearray(b"ab")), id="bytearray-body"),
        pytest.param(_with("flag", 2**31), id="flag-over-int32"),
        pytest.param(_with("flag", True), id="flag-bool"),
        pytest.param(_with("topic", b"T"), id="bytes-topic"),
        pytest.param(_with("properties", [("TAGS", "TagA")]), id="properties-not-a-dict"),
        pytest.param(Message("T", b"a", tags="TagA", keys=["k"]), id="keys"),
        pytest.param(Message("T", b"a", tags="NeverCached"), id="tag-not-cached-yet"),
        pytest.param(Message("T", b"a", properties={"OTHER": "v"}), id="lone-property-not-tags"),
        pytest.param(Message("T", b"x" * (64 * 1024 + 1), tags="TagA"), id="body-over-64k"),
        pytest.param(Message("T", b"x" * 3000, tags="TagA"), id="body-over-max-message-size"),
        pytest.param(Message("Unknown", b"a", tags="TagA"), id="queue-not-created"),
    ],
)
def test_declines_before_writing(open_store: OpenStore, msg: Message) -> None:
    store = open_store(max_message_size=2048 if len(msg.body) < 60000 else 128 * 1024,
                       mapped_file_size_commit_log=4096 if len(msg.body) < 60000 else 256 * 1024)
    ready(store)
    end = store.max_phy_offset
    assert c_put(store, msg, 0) is None
    assert store.max_phy_offset == end


def test_declines_a_queue_id_that_is_not_exactly_an_int(open_store: OpenStore) -> None:
    store = open_store()
    ready(store, queue_id=1)
    assert c_put(store, Message("T", b"a", tags="TagA"), True) is None  # type: ignore[arg-type]
    assert c_put(store, Message("T", b"a", tags="TagA"), 1) is not None


def test_a_tag_is_cached_by_its_first_put(open_store: OpenStore) -> None:
    store = open_store()
    ready(store)
    msg = Message("T", b"a", tags="FreshTag")
    assert c_put(store, msg, 0) is None
    assert store.put(msg, 0).ok  # the interpreter encodes and caches it
    assert c_put(store, msg, 0) is not None


def test_schedule_topic_declines(open_store: OpenStore) -> None:
    from rmqcore.message import constants as C

    store = open_store()
    msg = Message(C.SCHEDULE_TOPIC, b"a", tags="TagA")
    store.put(msg, 0)
    assert c_put(store, msg, 0) is None


def test_tag_code_and_store_timestamp_arguments_skip_the_c_path(open_store: OpenStore) -> None:
    store = open_store()
    ready(store)
    store._put_fast = lambda msg, queue_id: pytest.fail("the C path was asked")
    assert store.put(Message("T", b"a", tags="TagA"), 0, tag_code=5).ok
    assert store.put(Message("T", b"a", tags="TagA"), 0, store_timestamp=123).store_timestamp == 123


def test_sync_flush_puts_wait_for_their_group_commit(open_store: OpenStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under SYNC_FLUSH the C put is followed by the wait: durable on return, else
    FLUSH_DISK_TIMEOUT, as the interpreter's put answers (a message with WAIT=false has a
    second property, so the interpreter puts it)."""
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    ready(store)
    asked: list[Message] = []
    c_path = store._put_fast
    store._put_fast = lambda msg, queue_id: asked.append(msg) or c_path(msg, queue_id)  # type: ignore[func-returns-value]
    msg = Message("T", b"durable", tags="TagA")
    got = store.put(msg, 0)
    assert asked == [msg] and got.ok and store.flushed_offset >= got.end_offset
    monkeypatch.setattr(store._flusher, "wait_durable", lambda end, timeout: False)
    assert store.put(Message("T", b"late", tags="TagA"), 0).status is PutStatus.FLUSH_DISK_TIMEOUT
    unwaited = Message("T", b"late", properties={"TAGS": "TagA", "WAIT": "false"})
    assert store.put(unwaited, 0).status is PutStatus.PUT_OK
    assert c_put(store, unwaited, 0) is None
    asked.clear()
    no_wait = store.put(Message("T", b"no wait", tags="TagA"), 0, wait_for_flush=False)
    assert asked == [] and no_wait.ok  # the interpreter's put, which skips the wait


def test_off_while_refusing(open_store: OpenStore, tmp_path: Path) -> None:
    usage = {"fraction": 0.1}
    store = open_store(path=tmp_path / "full", disk_usage_probe=lambda path: usage["fraction"])
    ready(store)
    assert store._put_path is not None and store._put_path.enabled
    usage["fraction"] = 0.99
    store.check_disk()
    assert c_put(store, Message("T", b"a", tags="TagA"), 0) is None
    assert store.put(Message("T", b"a", tags="TagA"), 0).status is PutStatus.DISK_FULL
    usage["fraction"] = 0.1
    store.check_disk()
    assert c_put(store, Message("T", b"a", tags="TagA"), 0) is not None


def test_off_once_closed(open_store: OpenStore) -> None:
    store = open_store()
    ready(store)
    store.close()
    assert store._put_path is not None and not store._put_path.enabled
    assert c_put(store, Message("T", b"a", tags="TagA"), 0) is None
    with pytest.raises(StoreClosedError):
        store.put(Message("T", b"a", tags="TagA"), 0)


class _ClosingClock(FakeClock):
    """Closes the store when read: a close that lands while a put is between its clock read
    and the store lock."""

    store: MessageStore | None = None

    def now_ms(self) -> int:
        store, self.store = self.store, None
        if store is not None:
            store.close()
        return super().now_ms()


def test_a_close_before_the_lock_declines_and_put_raises(tmp_path: Path) -> None:
    clock = _ClosingClock()
    store = MessageStore.open(tmp_path / "s", small_config(), clock=clock)
    ready(store)
    end = store.max_phy_offset
    clock.store = store
    with pytest.raises(StoreClosedError):
        store.put(Message("T", b"late", tags="TagA"), 0)
    with MessageStore.open(tmp_path / "s", small_config(), clock=FakeClock()) as reopened:
        assert reopened.max_phy_offset == end


# --- errors and listeners are the interpreter's -----------------------------------------------------


def test_errors_are_the_interpreters(open_store: OpenStore) -> None:
    store = open_store()
    ready(store)
    with pytest.raises(MessageTooLargeError):
        store.put(Message("T", b"x" * 3000, tags="TagA"), 0)


def test_a_record_that_fits_no_file_raises_from_the_c_path(open_store: OpenStore) -> None:
    """rmq_put_simple refuses it (nothing written); C hands the code to _put_failed."""
    store = open_store(max_message_size=8192)  # 4 KiB CommitLog files
    ready(store)
    end = store.max_phy_offset
    with pytest.raises(MessageTooLargeError, match="does not fit one CommitLog file"):
        c_put(store, Message("T", b"x" * 5000, tags="TagA"), 0)
    assert store.max_phy_offset == end


def test_clock_errors_propagate_before_writing(tmp_path: Path) -> None:
    class Broken(FakeClock):
        fail = False

        def now_ms(self) -> int:
            if self.fail:
                raise RuntimeError("clock broke")
            return super().now_ms()

    clock = Broken()
    with MessageStore.open(tmp_path / "s", small_config(), clock=clock) as store:
        ready(store)
        end = store.max_phy_offset
        clock.fail = True
        with pytest.raises(RuntimeError, match="clock broke"):
            c_put(store, Message("T", b"a", tags="TagA"), 0)
        assert store.max_phy_offset == end


def test_listeners_hear_c_puts_and_their_errors_are_logged(open_store: OpenStore) -> None:
    store = open_store()
    ready(store, queue_id=2)
    heard: list[tuple[str, int, int]] = []
    store.add_dispatch_listener(lambda *a: heard.append(a))

    def broken(*_: object) -> None:
        raise RuntimeError("listener bug")

    store.add_dispatch_listener(broken)
    assert c_put(store, Message("T", b"a", tags="TagA"), 2) is not None
    store.remove_dispatch_listener(broken)
    assert c_put(store, Message("T", b"b", tags="TagA"), 2) is not None
    assert heard == [("T", 2, 1), ("T", 2, 2)]


# --- other threads and Python code running meanwhile ---------------------------------------------------


class _RebindingClock(FakeClock):
    """Rebinds the message's body and properties when read, as another thread could."""

    msg: Message | None = None

    def now_ms(self) -> int:
        if self.msg is not None:
            self.msg.body = b"rebound"
            self.msg.properties = {"TAGS": "Other"}
            self.msg = None
        return super().now_ms()


def test_fields_rebound_during_the_put_do_not_reach_the_record(tmp_path: Path) -> None:
    """The put stores what it read first: the body object is held, never freed under it."""
    clock = _RebindingClock()
    with MessageStore.open(tmp_path / "s", small_config(), clock=clock) as store:
        ready(store)
        msg = Message("T", b"original-" + b"y" * 100, tags="TagA")
        clock.msg = msg
        got = c_put(store, msg, 0)
        assert got is not None
        stored = store.get("T", 0, 1).messages[0]
        assert (stored.body, stored.tags) == (b"original-" + b"y" * 100, "TagA")


def test_no_references_leak_on_any_outcome(open_store: OpenStore) -> None:
    store = open_store(mapped_file_size_commit_log=1024 * 1024)
    ready(store)
    taken = Message("T", b"a" * 10, tags="TagA")
    declined = Message("T", b"a" * 10, tags="TagA", keys=["k"])
    objects = [taken.body, taken.topic, taken.properties, declined.body, declined.properties, store._targets]
    assert_references_kept(objects, lambda: c_put(store, taken, 0), lambda: c_put(store, declined, 0), 2000)


def assert_references_kept(
    objects: list[object], take: Callable[[], PutResult | None], decline: Callable[[], PutResult | None], times: int
) -> None:
    """``take`` stores and ``decline`` declines, ``times`` over, and every reference either
    took on ``objects`` is given back (one warming call each first)."""
    take(), decline()
    before = [sys.getrefcount(o) for o in objects]
    for _ in range(times):
        assert take() is not None
        assert decline() is None
    assert [sys.getrefcount(o) for o in objects] == before


def test_threads_share_the_store_lock_with_every_put_path(open_store: OpenStore) -> None:
    """C puts, interpreter puts and batches from four threads: one dense queue, every
    record whole and where its result says."""
    store = open_store(mapped_file_size_commit_log=1024 * 1024, max_message_size=4096)
    ready(store)
    results: list[list[tuple[int, bytes]]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        start.wait(timeout=10)
        for i in range(300):
            body = f"{n}-{i}".encode()
            if n == 3 and i % 10 == 0:
                r = store.put_batch([Message("T", body + b"-b0", tags="TagA"), Message("T", body + b"-b1", tags="TagA")], 0)
                results[n] += [(r.queue_offset, body + b"-b0"), (r.queue_offset + 1, body + b"-b1")]
            else:
                msg = Message("T", body, tags="TagA", keys=["k"] if n == 2 else ())
                r = store.put(msg, 0)
                results[n].append((r.queue_offset, body))
            assert r.ok

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    expected = dict(pair for per_thread in results for pair in per_thread)
    total = store.max_offset("T", 0)
    assert total == 1 + len(expected)
    stored = store.get("T", 0, 1, max_count=total).messages
    while len(stored) < total - 1:
        stored += store.get("T", 0, 1 + len(stored), max_count=total).messages
    assert {m.queue_offset: m.body for m in stored} == expected


# --- put_batch through the C path -----------------------------------------------------------------------


def c_put_batch(store: MessageStore, msgs: Any, queue_id: int) -> PutResult | None:
    assert store._put_path is not None
    result: PutResult | None = store._put_path.put_batch(msgs, queue_id)
    return result


def test_stores_a_plain_batch_in_c(open_store: OpenStore, clock: FakeClock) -> None:
    store = open_store(mapped_file_size_commit_log=1 << 20)
    ready(store)
    batch = [Message("T", b"m%d" % i, tags="TagA", flag=i) for i in range(10)]
    got = c_put_batch(store, batch, 0)
    assert got is not None and type(got) is PutResult and got.ok
    assert (got.queue_offset, got.message_count, got.store_timestamp) == (1, 10, clock.now_ms())
    assert list(got.commitlog_offsets or ()) == [m.commitlog_offset for m in store.get("T", 0, 1, max_count=10).messages]
    assert got.commitlog_offset == got.commitlog_offsets[0]  # type: ignore[index]
    assert got.end_offset == store.max_phy_offset == got.commitlog_offset + got.wrote_bytes
    stored = store.get("T", 0, 1, max_count=10).messages
    assert [(m.body, m.flag, m.tags) for m in stored] == [(m.body, m.flag, "TagA") for m in batch]


batches = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.lists(st.tuples(st.binary(max_size=300), st.integers(-(2**31), 2**31 - 1)), min_size=1, max_size=20),
        property_maps,
        st.booleans(),  # every message its own (equal) dict, or one shared
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(puts=batches)
def test_c_batches_store_what_the_interpreter_stores(
    store_pair: Callable[..., tuple[MessageStore, MessageStore]], puts: list[tuple[int, list[tuple[bytes, int]], dict[str, str], bool]]
) -> None:
    with_c, with_py = store_pair(
        mapped_file_size_commit_log=16 * 1024, max_message_size=4096, max_hash_slot_num=256, max_index_num=1024
    )
    with_py._put_batch_fast = store_module._decline_put  # the interpreter only
    taken = plain = 0  # plain: no properties or a lone TAGS seen before, on a known queue
    queues: set[int] = set()
    tags: set[str | None] = set()
    for queue_id, items, props, shared in puts:
        batch = [Message("PathTopic", body, flag=flag, properties=props if shared else dict(props)) for body, flag in items]
        if queue_id in queues and (not props or (list(props) == ["TAGS"] and props["TAGS"] in tags)):
            plain += 1
        queues.add(queue_id)
        tags.add(props.get("TAGS"))
        got = c_put_batch(with_c, batch, queue_id)
        taken += got is not None
        if got is None:
            got = with_c.put_batch(batch, queue_id)
        assert got == with_py.put_batch(batch, queue_id)
    assert taken >= plain
    assert_same_queues(with_c, with_py)


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param([Message("T", b"a", tags="TagA"), Message("T", b"b", tags="TagB")], id="unequal-properties"),
        pytest.param([Message("T", b"a", tags="TagA", keys=["k"])], id="keys"),
        pytest.param([MessageExt("T", b"a", tags="TagA")], id="message-ext"),
        pytest.param([Message("T", b"a", tags="TagA"), Message("U", b"b", tags="TagA")], id="two-topics"),
        pytest.param([Message("T", b"x" * 3000, tags="TagA")], id="body-over-max-message-size"),
        pytest.param([Message("Unknown", b"a", tags="TagA")], id="queue-not-created"),
        pytest.param([], id="empty"),
        pytest.param(iter([Message("T", b"a", tags="TagA")]), id="iterator"),
    ],
)
def test_batches_it_declines_write_nothing(open_store: OpenStore, batch: Any) -> None:
    store = open_store()
    ready(store)
    end = store.max_phy_offset
    assert c_put_batch(store, batch, 0) is None
    assert store.max_phy_offset == end


def test_batch_errors_and_sync_flush_are_the_interpreters(open_store: OpenStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(flush_disk_type="SYNC_FLUSH", mapped_file_size_commit_log=1 << 20)
    ready(store)
    with pytest.raises(MessageTooLargeError):
        store.put_batch([Message("T", b"x" * 3000, tags="TagA")], 0)
    got = store.put_batch([Message("T", b"a", tags="TagA") for _ in range(5)], 0)
    assert got.ok and store.flushed_offset >= got.end_offset
    monkeypatch.setattr(store._flusher, "wait_durable", lambda end, timeout: False)
    assert store.put_batch([Message("T", b"late", tags="TagA")], 0).status is PutStatus.FLUSH_DISK_TIMEOUT


def test_batch_listeners_hear_the_last_queue_offset(open_store: OpenStore) -> None:
    store = open_store()
    ready(store, queue_id=1)
    heard: list[tuple[str, int, int]] = []
    store.add_dispatch_listener(lambda *a: heard.append(a))
    assert c_put_batch(store, [Message("T", b"a", tags="TagA") for _ in range(4)], 1) is not None
    assert heard == [("T", 1, 4)]


def test_a_batch_that_fits_no_file_raises_from_the_c_path(open_store: OpenStore) -> None:
    store = open_store(max_message_size=8192)  # 4 KiB CommitLog files
    ready(store)
    end = store.max_phy_offset
    with pytest.raises(MessageTooLargeError, match="does not fit one CommitLog file"):
        c_put_batch(store, [Message("T", b"x" * 5000, tags="TagA")], 0)
    assert store.max_phy_offset == end


def test_batch_references_are_given_back(open_store: OpenStore) -> None:
    store = open_store(mapped_file_size_commit_log=4 * 1024 * 1024)
    ready(store)
    taken = [Message("T", b"a" * 10, tags="TagA") for _ in range(8)]
    declined = [*taken, Message("T", b"b", tags="TagB")]
    objects = [taken[0].body, taken[0].properties, declined[-1].properties, store._targets]
    assert_references_kept(objects, lambda: c_put_batch(store, taken, 0), lambda: c_put_batch(store, declined, 0), 1000)
