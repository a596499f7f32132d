from __future__ import annotations

import pytest

from rmqcore.client.batch import DEFAULT_BATCH_SIZE_LIMIT, check_batch, encode_batch, message_size, split_batch
from rmqcore.client.errors import MQClientError
from rmqcore.message import Message, decode_batch_body


def test_message_size_is_the_tutorial_rule() -> None:
    msg = Message("TopicTest", b"x" * 100, tags="TagA", keys="k1")
    msg.put_user_property("a", "bc")
    expected = len("TopicTest") + 100 + len("TAGS") + len("TagA") + len("KEYS") + len("k1") + len("a") + len("bc") + 20
    assert message_size(msg) == expected


def test_default_limit_is_four_mebibytes() -> None:
    assert DEFAULT_BATCH_SIZE_LIMIT == 4 * 1024 * 1024


def test_split_keeps_every_batch_under_the_limit_and_loses_nothing() -> None:
    msgs = [Message("T", bytes([i % 251]) * (100 + 37 * i)) for i in range(200)]
    limit = 10_000
    batches = list(split_batch(msgs, limit))
    assert [m for b in batches for m in b] == msgs
    for b in batches:
        assert sum(message_size(m) for m in b) <= limit
    # Greedy: adding the next message to any batch but the last would have crossed the limit.
    for b, nxt in zip(batches, batches[1:]):
        assert sum(message_size(m) for m in b) + message_size(nxt[0]) > limit


def test_oversized_message_travels_alone() -> None:
    small, big = Message("T", b"s"), Message("T", b"B" * 500)
    assert [len(b) for b in split_batch([small, big, small], 200)] == [1, 1, 1]
    assert list(split_batch([], 200)) == []


@pytest.mark.parametrize(
    ("msgs", "text"),
    [
        ([Message("A"), Message("B")], "topic"),
        ([Message("%RETRY%g")], "Retry"),
        ([Message("A", properties={"DELAY": "3"})], "TimeDelayLevel"),
    ],
)
def test_batch_rules(msgs: list[Message], text: str) -> None:
    with pytest.raises(MQClientError, match=text):
        check_batch(msgs)


def test_encode_batch_sets_uniq_keys_and_round_trips() -> None:
    msgs = [Message("T", f"m{i}".encode(), tags="TagA") for i in range(3)]
    body, ids = encode_batch(msgs)
    decoded = decode_batch_body("T", body)
    assert [m.body for m in decoded] == [b"m0", b"m1", b"m2"]
    assert ids.split(",") == [m.uniq_key for m in msgs]
    assert all(d.uniq_key == m.uniq_key for d, m in zip(decoded, msgs))
