"""The message store: CommitLog, ConsumeQueue and IndexFile on mmap'ed files (C hot path).

A store directory has RocketMQ's layout (``commitlog/%020d``,
``consumequeue/{topic}/{queueId}/%020d``, ``index/``, ``checkpoint``, ``abort``) and
its byte formats (reference sections 4 and 5). Puts, CQ scans, index look-ups and
the crash-recovery scan run in C (``csrc/``), one call per message or batch; a
``put_batch`` of ``Message`` objects is gathered in C too (``_batch_gather``), and a
plain single ``put`` runs in one C call from the message to its result (``_put_path``).

>>> import tempfile
>>> from rmqcore.message import Message, tags_code
>>> from rmqcore.store import MessageStore, StoreConfig
>>> with tempfile.TemporaryDirectory() as root:
...     with MessageStore.open(root, StoreConfig(mapped_file_size_commit_log=1 << 20)) as store:
...         r = store.put(Message("TopicTest", b"hello", tags="TagA", keys="order-1"), 0)
...         _ = store.put(Message("TopicTest", b"world", tags="TagB"), 0)
...         got = store.get("TopicTest", 0, 0, tag_codes={tags_code("TagA")})
...         found = store.query_by_key("TopicTest", "order-1").messages
...     with MessageStore.open(root, StoreConfig(mapped_file_size_commit_log=1 << 20)) as again:
...         after_reopen = again.max_offset("TopicTest", 0)
>>> r.status.name, r.queue_offset, r.commitlog_offset
('PUT_OK', 0, 0)
>>> got.status.name, [m.body for m in got.messages], got.next_offset
('FOUND', [b'hello'], 2)
>>> [m.body for m in found], after_reopen
([b'hello'], 2)
"""

from rmqcore.store.config import ASYNC_FLUSH, SYNC_FLUSH, StoreConfig
from rmqcore.store.errors import (
    MessageIllegalError,
    MessageTooLargeError,
    MissingUniqKeyError,
    PropertiesTooLargeError,
    StoreClosedError,
    StoreConfigError,
    StoreError,
    StoreIOError,
    StoreLayoutError,
)
from rmqcore.store.message_store import MessageStore
from rmqcore.store.recovery import RecoveryReport
from rmqcore.store.results import GetResult, GetStatus, PutResult, PutStatus, QueryResult
from rmqcore.store.retention import RetentionPolicy, RetentionReport

__all__ = [
    "ASYNC_FLUSH",
    "SYNC_FLUSH",
    "GetResult",
    "GetStatus",
    "MessageIllegalError",
    "MessageStore",
    "MessageTooLargeError",
    "MissingUniqKeyError",
    "PropertiesTooLargeError",
    "PutResult",
    "PutStatus",
    "QueryResult",
    "RecoveryReport",
    "RetentionPolicy",
    "RetentionReport",
    "StoreClosedError",
    "StoreConfig",
    "StoreConfigError",
    "StoreError",
    "StoreIOError",
    "StoreLayoutError",
]
