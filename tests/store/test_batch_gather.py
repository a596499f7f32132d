"""put_batch's C gathering (``rmqcore.store._batch_gather``) against the interpreter's.

C reads each message's body address, length, flag and properties; whatever it declines
goes to ``_gather_py``. Both must store the same bytes, and C must decline (never
misread) anything unusual, including a list changed under it by Python code it runs.
"""

from __future__ import annotations

import gc
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmqcore.message import Message, MessageExt
from rmqcore.store import MessageStore
from rmqcore.store import message_store as store_module

_batch_gather = pytest.importorskip("rmqcore.store._batch_gather")
gather = _batch_gather.gather
REF = struct.Struct("@Pii")  # rmq_body_ref: const char *body, int32 body_len, int32 flag


def refs_of(refs: bytes) -> list[tuple[int, int]]:
    """(body_len, flag) of each rmq_body_ref."""
    return [REF.unpack_from(refs, i)[1:] for i in range(0, len(refs), REF.size)]


# --- gather itself ---------------------------------------------------------------------------


def test_gathers_lengths_flags_and_uniform_properties() -> None:
    msgs = [Message("T", b"x" * i, tags="A", flag=i - 2) for i in range(5)]
    refs, keep, total, largest, props = gather(msgs)  # type: ignore[misc]
    assert refs_of(refs) == [(i, i - 2) for i in range(5)]
    assert list(keep) == [m.body for m in msgs] and all(a is m.body for a, m in zip(keep, msgs))
    assert (total, largest) == (10, 4)
    assert props is msgs[0].properties  # equal dicts: the first one, encoded once


def test_unequal_properties_are_listed_each() -> None:
    msgs = [Message("T", b"a", tags="A"), Message("T", b"b", tags="A"), Message("T", b"c", tags="B")]
    *_, props = gather(tuple(msgs))  # type: ignore[misc]
    assert isinstance(props, list)
    assert [p is m.properties for p, m in zip(props, msgs)] == [True, True, True]


def test_equal_topics_need_not_be_one_object() -> None:
    a, b = "To" + "pic", "".join(["Top", "ic"])
    assert a is not b
    assert gather([Message(a, b"1"), Message(b, b"2")]) is not None


def _with(attr: str, value: Any) -> Message:
    m = Message("T", b"body")
    setattr(m, attr, value)
    return m


@pytest.mark.parametrize(
    "msgs",
    [
        pytest.param([], id="empty"),
        pytest.param([Message("T", b"a"), Message("U", b"b")], id="two-topics"),
        pytest.param([MessageExt("T", b"a")], id="subclass"),
        pytest.param([Message("T", b"a"), "not a message"], id="foreign-element"),
        pytest.param([_with("body", bytearray(b"ab"))], id="bytearray-body"),
        pytest.param([_with("body", memoryview(b"ab"))], id="memoryview-body"),
        pytest.param([_with("flag", 2**31)], id="flag-over-int32"),
        pytest.param([_with("flag", -(2**31) - 1)], id="flag-under-int32"),
        pytest.param([_with("flag", 2**70)], id="flag-huge"),
        pytest.param([_with("flag", True)], id="flag-bool"),
        pytest.param([_with("properties", [("TAGS", "A")])], id="properties-not-a-dict"),
        pytest.param([Message("T", b"a"), _with("properties", None)], id="later-properties-not-a-dict"),
        pytest.param([_with("topic", b"T")], id="bytes-topic"),
    ],
)
def test_declines_what_is_not_the_plain_case(msgs: list[Any]) -> None:
    assert gather(msgs) is None


def test_declines_unset_slots_and_other_sequences() -> None:
    m = Message("T", b"a")
    del m.body
    assert gather([m]) is None
    assert gather(iter([Message("T", b"a")])) is None
    assert gather(x for x in [Message("T", b"a")]) is None


class _ClearsOnCompare(str):
    """A property value whose comparison empties the batch list it is compared in."""

    victim: list[Message] = []

    def __eq__(self, other: object) -> bool:
        self.victim.clear()
        gc.collect()
        return False

    __hash__ = str.__hash__


def test_a_list_changed_by_a_comparison_is_declined_not_misread() -> None:
    batch = [Message("T", b"x" * 100, properties={"K": "v"}) for _ in range(50)]
    batch[10].properties = {"K": _ClearsOnCompare("w")}
    _ClearsOnCompare.victim = batch
    assert gather(batch) is None
    assert batch == []


class _DeletesOnCompare(str):
    """A property value whose comparison deletes an earlier message's properties."""

    victim: Message | None = None

    def __eq__(self, other: object) -> bool:
        if self.victim is not None:
            del self.victim.properties
        return False

    __hash__ = str.__hash__


def test_properties_deleted_by_a_comparison_are_declined_not_misread() -> None:
    batch = [Message("T", b"x", properties={"K": "v"}) for _ in range(5)]
    _DeletesOnCompare.victim = batch[1]
    batch[3].properties = {"K": _DeletesOnCompare("w")}
    assert gather(batch) is None


class _Meddler:
    """Cyclic garbage whose finalizer rebinds messages' attributes and resizes the batch,
    run by whatever collection an allocation inside gather starts."""

    def __init__(self, batch: list[Message]) -> None:
        self.batch = batch
        self.me = self

    def __del__(self) -> None:
        if self.batch:
            self.batch[0].body = b"rebound"
            self.batch[-1].properties = {"TAGS": "other"}
            self.batch.append(Message("T", b"late"))


@pytest.mark.usefixtures("collector_at_threshold_one")
def test_collections_inside_gather_never_misread() -> None:
    """Allocations inside gather run finalizers (collector at threshold 1) that
    change the batch: every result is None or describes bodies it holds."""
    for _ in range(300):
        batch = [Message("T", b"x" * 64, tags="A") for _ in range(16)]
        batch[5].properties = {"TAGS": "B"}  # unequal: gather allocates the list of dicts
        for _ in range(3):
            _Meddler(batch)
        got = gather(batch)
        if got is not None:
            refs, keep, total, _, props = got
            assert [n for n, _ in refs_of(refs)] == [len(b) for b in keep]
            assert total == sum(map(len, keep))
            assert isinstance(props, list) and len(props) == len(keep)


def test_gathered_bodies_outlive_their_messages() -> None:
    """keep holds the bodies: a put copies from them even if the messages rebind theirs."""
    msgs = [Message("T", bytes([65 + i]) * 1000) for i in range(8)]
    refs, keep, *_ = gather(msgs)  # type: ignore[misc]
    for m in msgs:
        m.body = b""
    del msgs
    gc.collect()
    assert [bytes(b[:1]) for b in keep] == [bytes([65 + i]) for i in range(8)]
    assert refs_of(refs) == [(1000, 0)] * 8


def test_no_references_leak_on_any_outcome() -> None:
    """Taken, listed (unequal properties) and declined part-way: every reference the
    call took is given back."""
    shared = {"TAGS": "A"}
    taken = [Message("T", b"a" * 10, properties=shared) for _ in range(8)]
    listed = [*taken, Message("T", b"b", tags="B")]
    declined = [*listed, _with("flag", 2**40)]
    objects = [shared, *(m.body for m in declined), *(m.properties for m in declined)]
    gather(taken), gather(listed), gather(declined)  # warm: first-call allocations
    before = [sys.getrefcount(o) for o in objects]
    for _ in range(1000):
        assert gather(taken) is not None
        assert gather(listed) is not None
        assert gather(declined) is None
    assert [sys.getrefcount(o) for o in objects] == before


# --- the store, C gathering against the interpreter's ----------------------------------------------


PAIR_CONFIG = dict(mapped_file_size_commit_log=64 * 1024, max_message_size=8192, max_hash_slot_num=256, max_index_num=1024)


property_maps = st.sampled_from(
    [{}, {"TAGS": "TagA"}, {"TAGS": "TagB"}, {"TAGS": "TagA", "KEYS": "k1 k2"}, {"UNIQ_KEY": "0A0B", "a": "é"}]
)
messages = st.builds(
    lambda topic, body, flag, props: Message(topic, body, flag=flag, properties=props),
    st.just("GatherTopic"),
    st.binary(max_size=600),
    st.one_of(st.just(0), st.integers(-(2**31), 2**31 - 1)),
    property_maps,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(messages, min_size=1, max_size=40), min_size=1, max_size=4))
def test_c_gathering_stores_what_the_interpreter_stores(
    store_pair: Callable[..., tuple[MessageStore, MessageStore]], batches: list[list[Message]], monkeypatch_gather: Any
) -> None:
    with_c, with_py = store_pair(**PAIR_CONFIG)
    # both through the interpreter's put_batch (the C put path, tested in test_put_path.py,
    # gathers in C too): one gathering in C, the other in the interpreter
    with_c._put_batch_fast = with_py._put_batch_fast = store_module._decline_put
    for batch in batches:
        assert gather(batch) is not None
        a = with_c.put_batch(batch, 0)
        with monkeypatch_gather():
            b = with_py.put_batch(batch, 0)
        assert a == b
    total = sum(map(len, batches))
    got_c = with_c.get_raw("GatherTopic", 0, 0, max_count=total)
    got_py = with_py.get_raw("GatherTopic", 0, 0, max_count=total)
    assert bytes(got_c.raw) == bytes(got_py.raw)
    stored = with_c.get("GatherTopic", 0, 0, max_count=total).messages
    sent = [m for batch in batches for m in batch]
    assert [(m.body, m.flag, m.properties) for m in stored] == [(m.body, m.flag, m.properties) for m in sent]


@pytest.fixture
def monkeypatch_gather() -> Callable[[], Any]:
    """A context in which put_batch gathers in the interpreter only."""
    import contextlib

    @contextlib.contextmanager
    def _python_only() -> Iterator[None]:
        saved = store_module._gather
        store_module._gather = None
        try:
            yield
        finally:
            store_module._gather = saved

    return _python_only


def test_errors_are_the_interpreters(store_pair: Callable[..., tuple[MessageStore, MessageStore]]) -> None:
    """What C declines reaches _gather_py, which raises as put_batch always has."""
    from rmqcore.store import MessageIllegalError

    store, _ = store_pair(**PAIR_CONFIG)
    with pytest.raises(MessageIllegalError, match="at least one message"):
        store.put_batch([], 0)
    with pytest.raises(MessageIllegalError, match="one topic"):
        store.put_batch([Message("A", b"1"), Message("B", b"2")], 0)
    with pytest.raises(MessageIllegalError, match="over max_message_size"):
        store.put_batch([Message("A", b"1"), Message("A", b"x" * 9000)], 0)
    assert store.max_offset("A", 0) == 0
