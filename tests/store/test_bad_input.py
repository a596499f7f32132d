"""Bad input is refused with a typed error before anything is written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rmqcore.message import Message
from rmqcore.store import MessageIllegalError, MessageStore, MessageTooLargeError, PropertiesTooLargeError, StoreConfig
from rmqcore.store.errors import StoreConfigError

OpenStore = Callable[..., MessageStore]


def _snapshot(store: MessageStore) -> tuple[int, list[tuple[str, int]], bytes]:
    return store.max_phy_offset, store.queue_keys(), store.get_raw("ok", 0, 0).raw


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: Message("", b"x"), MessageIllegalError, "topic is empty"),
        (lambda: Message("t" * 32768, b"x"), MessageIllegalError, "at most 32767"),
        (lambda: Message("big", b"x" * 2049), MessageTooLargeError, "max_message_size=2048"),
        (lambda: Message("props", b"x", properties={"k": "v" * 40000}), PropertiesTooLargeError, "32767"),
    ],
)
def test_refused_before_writing(open_store: OpenStore, make, error, words) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    store.put(Message("ok", b"kept"), 0)
    before = _snapshot(store)
    with pytest.raises(error, match=words) as info:
        store.put(make(), 0)
    assert info.value.put_status in ("MESSAGE_ILLEGAL", "PROPERTIES_SIZE_EXCEEDED")
    with pytest.raises(error):
        store.put_batch([Message("ok", b"fine"), make()], 0) if make().topic == "ok" else store.put_batch([make()], 0)
    assert _snapshot(store) == before


def test_record_over_max_size_is_refused_by_the_c_check(open_store: OpenStore) -> None:
    store = open_store()
    before = store.max_phy_offset
    # body fits max_message_size but body + header + properties does not
    with pytest.raises(MessageTooLargeError):
        store.put(Message("T", b"x" * 2000, properties={"p": "q" * 100}), 0)
    assert store.max_phy_offset == before
    assert store.put(Message("T", b"ok"), 0).queue_offset == 0


def test_batch_is_all_or_nothing(open_store: OpenStore) -> None:
    store = open_store()
    store.put(Message("T", b"first"), 0)
    with pytest.raises(MessageIllegalError, match="one topic"):
        store.put_batch([Message("T", b"a"), Message("U", b"b")], 0)
    with pytest.raises(MessageTooLargeError):
        store.put_batch([Message("T", b"a"), Message("T", b"b" * 2000, properties={"p": "q" * 100})], 0)
    assert store.max_offset("T", 0) == 1
    assert store.put_batch([Message("T", b"c")], 0).queue_offset == 1
    assert [m.body for m in store.get("T", 0, 0).messages] == [b"first", b"c"]


def test_bad_config_is_refused() -> None:
    with pytest.raises(StoreConfigError, match="multiple of 20"):
        StoreConfig(mapped_file_size_consume_queue=30)
    with pytest.raises(StoreConfigError, match="flush_disk_type"):
        StoreConfig(flush_disk_type="SOMETIMES")
    with pytest.raises(StoreConfigError, match="delete_when"):
        StoreConfig(delete_when="25")
