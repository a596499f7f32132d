"""Child process of the SIGKILL crash tests: appends to a store until it is killed.

Usage: ``python append_child.py STORE_DIR FLUSH_DISK_TYPE``, run with the test's
``sys.executable`` so that it imports the same installed ``rmqcore``.

It opens the store with :func:`store_config`, prints ``start <queue offset>`` (where
recovery left the queue), then puts :func:`expected_message` for each queue offset in
turn and, after each ``put`` returns, prints ``ack <queue offset> <commitlog offset>``
and flushes: a line on stdout means the store acknowledged that message.

The parent test imports this file for :data:`TOPIC`, :func:`store_config` and
:func:`expected_message`, so writer and checker agree on every byte.
"""

from __future__ import annotations

import random
import sys
from typing import Any

from rmqcore.message import Message

TOPIC = "CrashTopic"
QUEUE_ID = 0
# Small segments so that the CommitLog and the ConsumeQueue roll many times per test.
# Records are 100 to ~1100 bytes, except every LARGE_EVERY-th one of up to LARGE_BODY
# bytes: copying that one is long enough for some kills to land inside it (a torn record).
# About 40 records fit in a CommitLog segment.
COMMITLOG_SEGMENT = 128 * 1024
CONSUME_QUEUE_SEGMENT = 20 * 64
LARGE_EVERY = 16
LARGE_BODY = 60 * 1024
MAX_MESSAGE_SIZE = 64 * 1024


def store_config(flush_disk_type: str) -> dict[str, Any]:
    return {
        "flush_disk_type": flush_disk_type,
        "mapped_file_size_commit_log": COMMITLOG_SEGMENT,
        "mapped_file_size_consume_queue": CONSUME_QUEUE_SEGMENT,
        "max_message_size": MAX_MESSAGE_SIZE,
    }


def expected_message(queue_offset: int) -> Message:
    """The message written at ``queue_offset``: a pure function of it, so a rewrite after a
    lost write is byte-identical and the checker can rebuild any message it reads."""
    rng = random.Random(queue_offset)
    size = rng.randrange(LARGE_BODY // 2, LARGE_BODY) if queue_offset % LARGE_EVERY == LARGE_EVERY - 1 else rng.randrange(0, 1000)
    body = b"%010d|" % queue_offset + rng.randbytes(size)
    return Message(
        TOPIC,
        body,
        tags=f"Tag{queue_offset % 3}",
        keys=(f"key-{queue_offset}",),
        flag=queue_offset % 7,
        properties={"seq": str(queue_offset), "filler": "p" * rng.randrange(0, 40) or "-"},
    )


def main(store_dir: str, flush_disk_type: str) -> None:
    from rmqcore.logs import configure_logging
    from rmqcore.store import MessageStore, StoreConfig

    configure_logging("info", sys.stderr)  # stdout carries only the protocol lines
    out = sys.stdout
    with MessageStore.open(store_dir, StoreConfig(**store_config(flush_disk_type))) as store:
        queue_offset = store.max_offset(TOPIC, QUEUE_ID)
        out.write(f"start {queue_offset}\n")
        out.flush()
        while True:
            result = store.put(expected_message(queue_offset), QUEUE_ID)
            if not result.ok:
                sys.exit(f"put at queue offset {queue_offset} answered {result}")
            out.write(f"ack {result.queue_offset} {result.commitlog_offset}\n")
            out.flush()
            queue_offset += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
