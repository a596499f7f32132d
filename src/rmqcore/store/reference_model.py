"""A pure-Python model of the store, for tests: same puts, same bytes, same reads.

It keeps every record in a dict and encodes it with the reference codec
(``rmqcore.message.encode_stored_message``); CommitLog offsets follow the file-roll
rule of reference section 4 (a record that does not leave 8 bytes in its file goes to
the next one). Reads follow reference section 3 ("Pull status") and the C scan's
limits, so a test can compare every byte the C store returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rmqcore.message import MessageExt, encode_stored_message, stored_size, tags_code
from rmqcore.message import constants as C
from rmqcore.message.model import Message
from rmqcore.message.properties import encode_properties
from rmqcore.store.config import StoreConfig

BLANK = 8


@dataclass
class ModelGet:
    status: str
    next_offset: int
    min_offset: int
    max_offset: int
    raw: bytes = b""
    count: int = 0


@dataclass
class _Queue:
    entries: list[tuple[int, int, int]] = field(default_factory=list)  # (phys, size, tag code)
    min_offset: int = 0


class ReferenceStore:
    """The model. ``now`` is passed in by the caller (the same clock the C store reads)."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.file_size = config.mapped_file_size_commit_log
        self.write_pos = 0
        self.records: dict[int, bytes] = {}
        self.messages: dict[int, MessageExt] = {}
        self.queues: dict[tuple[str, int], _Queue] = {}
        self.scratch_cap = max(config.max_message_size + 4096, 4 * 1024 * 1024)

    def _place(self, size: int) -> int:
        pos = self.write_pos
        in_file = pos % self.file_size
        remaining = self.file_size - in_file
        if in_file and size + BLANK > remaining:
            pos += remaining
        return pos

    def put(self, msg: Message, queue_id: int, now: int, tag_code: int | None = None) -> tuple[int, int]:
        """Returns (commitlog offset, queue offset)."""
        topic = msg.topic
        props = encode_properties(msg.properties).encode()
        size = stored_size(len(topic.encode()), len(msg.body), len(props), 0, len(topic.encode()) > C.MAX_V1_TOPIC_LENGTH)
        phys = self._place(size)
        q = self.queues.setdefault((topic, queue_id), _Queue())
        queue_offset = len(q.entries)
        ext = MessageExt(
            topic,
            msg.body,
            flag=msg.flag,
            properties=msg.properties,
            queue_id=queue_id,
            queue_offset=queue_offset,
            commitlog_offset=phys,
            born_timestamp=now,
            born_host=self.config.store_host,
            store_timestamp=now,
            store_host=self.config.store_host,
        )
        record = encode_stored_message(ext)
        assert len(record) == size
        self.records[phys] = record
        self.messages[phys] = ext
        if tag_code is None:
            tag_code = tags_code(msg.properties.get(C.PROPERTY_TAGS))
        q.entries.append((phys, size, tag_code))
        self.write_pos = phys + size
        return phys, queue_offset

    def put_batch(self, msgs: Sequence[Message], queue_id: int, now: int) -> list[tuple[int, int]]:
        return [self.put(m, queue_id, now) for m in msgs]

    def max_offset(self, topic: str, queue_id: int) -> int:
        q = self.queues.get((topic, queue_id))
        return len(q.entries) if q else 0

    def min_offset(self, topic: str, queue_id: int) -> int:
        q = self.queues.get((topic, queue_id))
        return q.min_offset if q else 0

    def get(
        self,
        topic: str,
        queue_id: int,
        offset: int,
        max_count: int = 32,
        tag_codes: Iterable[int] | None = None,
        max_bytes: int | None = None,
    ) -> ModelGet:
        q = self.queues.get((topic, queue_id))
        if q is None:
            return ModelGet("NO_MATCHED_LOGIC_QUEUE", 0, 0, 0)
        lo, hi = q.min_offset, len(q.entries)
        if hi == 0:
            return ModelGet("NO_MESSAGE_IN_QUEUE", 0, lo, hi)
        if offset < lo:
            return ModelGet("OFFSET_TOO_SMALL", lo, lo, hi)
        if offset == hi:
            return ModelGet("OFFSET_OVERFLOW_ONE", offset, lo, hi)
        if offset > hi:
            return ModelGet("OFFSET_OVERFLOW_BADLY", hi, lo, hi)
        codes = set(tag_codes) if tag_codes else None
        limit = max_bytes if max_bytes is not None and max_bytes > 0 else self.scratch_cap
        scan_limit = max(max_count, 800)
        out: list[bytes] = []
        total = 0
        n = offset
        scanned = 0
        while n < hi and scanned < scan_limit:
            scanned += 1
            phys, size, code = q.entries[n]
            if codes is not None and code not in codes:
                n += 1
                continue
            if out and (total + size > limit or total + size > self.scratch_cap):
                break
            out.append(self.records[phys])
            total += size
            n += 1
            if len(out) >= max_count:
                break
        return ModelGet("FOUND" if out else "NO_MATCHED_MESSAGE", n, lo, hi, b"".join(out), len(out))

    def offset_by_time(self, topic: str, queue_id: int, ts_ms: int, upper: bool = False) -> int:
        """RocketMQ 5.x ``getOffsetInQueueByTime`` clamped to [min, max], by a linear walk:
        LOWER the first offset stored at or after ``ts_ms`` (max if none), UPPER the last
        stored at or before it (min if none)."""
        q = self.queues.get((topic, queue_id))
        if q is None:
            return 0
        lo, hi = q.min_offset, len(q.entries)
        times = [(n, self.messages[q.entries[n][0]].store_timestamp) for n in range(lo, hi)]
        if upper:
            at_or_before = [n for n, t in times if t <= ts_ms]
            return at_or_before[-1] if at_or_before else lo
        return next((n for n, t in times if t >= ts_ms), hi)

    def query_by_key(self, topic: str, key: str, max_count: int, begin_ms: int, end_ms: int) -> list[int]:
        """CommitLog offsets of the newest ``max_count`` matches, in CommitLog order."""
        hits = [
            phys
            for phys, m in sorted(self.messages.items())
            if m.topic == topic
            and begin_ms <= m.store_timestamp <= end_ms
            and (key == m.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or key in m.keys)
        ]
        return hits[-max_count:] if max_count else []
