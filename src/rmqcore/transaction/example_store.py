"""A tiny in-memory store with the ``TransactionStore`` methods, for docstring examples only.

The tests run the transaction service on the real ``rmqcore.store.MessageStore``; this exists so the
examples in this package run without a store directory.  Messages are kept whole in lists;
"commitlog offsets" are positions in one global list.

>>> from rmqcore.message import Message
>>> store = ExampleStore()
>>> r = store.put(Message("T", b"a"), 0)
>>> r.ok, r.queue_offset, store.get("T", 0, 0).messages[0].body
(True, 0, b'a')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.message import Message, MessageExt
from rmqcore.message import tags_code as tags_code_of


@dataclass(frozen=True)
class ExamplePutResult:
    ok: bool
    commitlog_offset: int
    queue_offset: int


@dataclass(frozen=True)
class ExampleGetResult:
    messages: list[MessageExt]
    next_offset: int


@dataclass
class ExampleStore:
    clock: Clock = SYSTEM_CLOCK
    _log: list[MessageExt] = field(default_factory=list)
    _queues: dict[tuple[str, int], list[tuple[int, int]]] = field(default_factory=dict)  # (log index, tag code)

    def put(self, msg: Message, queue_id: int, *, tag_code: int | None = None) -> ExamplePutResult:
        tags_code_override = tag_code
        queue = self._queues.setdefault((msg.topic, queue_id), [])
        stored = MessageExt(
            msg.topic,
            msg.body,
            flag=msg.flag,
            properties=dict(msg.properties),
            queue_id=queue_id,
            queue_offset=len(queue),
            commitlog_offset=len(self._log),
            sys_flag=getattr(msg, "sys_flag", 0),
            born_timestamp=getattr(msg, "born_timestamp", 0),
            born_host=getattr(msg, "born_host", ("127.0.0.1", 0)),
            reconsume_times=getattr(msg, "reconsume_times", 0),
            store_timestamp=getattr(msg, "store_timestamp", 0) or self.clock.now_ms(),
            prepared_transaction_offset=getattr(msg, "prepared_transaction_offset", 0),
        )
        code = tags_code_of(msg.tags) if tags_code_override is None else tags_code_override
        queue.append((stored.commitlog_offset, code))
        self._log.append(stored)
        return ExamplePutResult(True, stored.commitlog_offset, stored.queue_offset)

    def get(
        self, topic: str, queue_id: int, offset: int, max_count: int = 32, tag_codes: list[int] | None = None
    ) -> ExampleGetResult:
        queue = self._queues.get((topic, queue_id), [])
        entries = queue[offset : offset + max_count]
        found = [self._log[i] for i, code in entries if tag_codes is None or code in tag_codes]
        return ExampleGetResult(found, offset + len(entries))

    def look_message(self, commitlog_offset: int) -> MessageExt | None:
        return self._log[commitlog_offset] if 0 <= commitlog_offset < len(self._log) else None

    def max_offset(self, topic: str, queue_id: int) -> int:
        return len(self._queues.get((topic, queue_id), []))

    def min_offset(self, topic: str, queue_id: int) -> int:
        return 0

    def query_by_key(self, topic: str, key: str, max_count: int = 32) -> ExampleGetResult:
        found = [m for m in self._log if m.topic == topic and (m.properties.get("UNIQ_KEY") == key or key in m.keys)]
        return ExampleGetResult(found[-max_count:], 0)

    def flush(self) -> None:
        """Nothing to make durable: it lives in memory."""

    def close(self) -> None:
        """Nothing to release: it lives in memory."""
