"""Batches: the tutorial's size rule and splitter, and the batch checks of ``MessageBatch``.

The size rule is the one the RocketMQ tutorial's ``ListSplitter`` uses (topic length + body
length + every property key and value + 20 bytes of log overhead); the splitter keeps each
batch at or under the limit, and lets a single message that alone exceeds it travel in a
batch of its own (the broker will judge it) rather than block the split.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rmqcore.client.errors import MQClientError
from rmqcore.message import Message, encode_batch_body, new_uniq_key
from rmqcore.message import constants as C

DEFAULT_BATCH_SIZE_LIMIT = 4 * 1024 * 1024
"""The tutorial's ``SIZE_LIMIT`` (4 MiB, the broker's default maxMessageSize); older docs used 1 MiB."""

LOG_OVERHEAD = 20


def message_size(msg: Message) -> int:
    """The tutorial's estimate of one message's share of a batch.

    >>> message_size(Message("T", b"abc", tags="A"))  # 1 + 3 + len("TAGS") + len("A") + 20
    29
    """
    size = len(msg.topic) + len(msg.body)
    for key, value in msg.properties.items():
        size += len(key) + len(value)
    return size + LOG_OVERHEAD


def split_batch(messages: Sequence[Message], size_limit: int = DEFAULT_BATCH_SIZE_LIMIT) -> Iterator[list[Message]]:
    """Yield consecutive sub-lists whose :func:`message_size` sum stays within ``size_limit``.

    >>> msgs = [Message("T", b"x" * 30) for _ in range(5)]   # 51 bytes each
    >>> [len(b) for b in split_batch(msgs, size_limit=110)]
    [2, 2, 1]
    """
    start = 0
    n = len(messages)
    while start < n:
        end = start
        total = 0
        while end < n:
            size = message_size(messages[end])
            if size > size_limit:
                # Too big for any batch: send it alone rather than stall the split.
                if end == start:
                    end += 1
                break
            if total + size > size_limit:
                break
            total += size
            end += 1
        yield list(messages[start:end])
        start = end


def check_batch(messages: Sequence[Message]) -> None:
    """``MessageBatch.generateFromList`` rules: one topic, one WAIT flag, no delay, no retry topic."""
    if not messages:
        raise MQClientError("a batch needs at least one message")
    first = messages[0]
    for msg in messages:
        if msg.delay_level > 0:
            raise MQClientError("TimeDelayLevel is not supported for batching")
        if msg.topic.startswith(C.RETRY_GROUP_TOPIC_PREFIX):
            raise MQClientError("Retry Group is not supported for batching")
        if msg.topic != first.topic:
            raise MQClientError("The topic of the messages in one batch should be the same")
        if msg.wait_store_msg_ok != first.wait_store_msg_ok:
            raise MQClientError("The waitStoreMsgOK of the messages in one batch should the same")


def encode_batch(messages: Sequence[Message]) -> tuple[bytes, str]:
    """Give every inner message a UNIQ_KEY and encode the SEND_BATCH body.

    Returns the body and the comma-joined UNIQ_KEYs, which is what the Java client reports
    as the batch's ``msgId``.
    """
    check_batch(messages)
    for msg in messages:
        if not msg.uniq_key:
            msg.uniq_key = new_uniq_key()
    return encode_batch_body(messages), ",".join(m.uniq_key or "" for m in messages)
