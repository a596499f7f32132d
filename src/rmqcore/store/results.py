"""What the store answers: put status/results and get status/results.

Names follow RocketMQ's ``PutMessageStatus`` and ``GetMessageStatus`` (reference
section 3, "Pull status"). PutResult is a NamedTuple because a put builds one per
message and a tuple is the cheapest object Python makes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple

from rmqcore.message import MessageExt, create_offset_message_id, decode_stored_messages
from rmqcore.message.ids import Host


class PutStatus(enum.Enum):
    PUT_OK = "PUT_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"
    SERVICE_NOT_AVAILABLE = "SERVICE_NOT_AVAILABLE"
    CREATE_MAPPED_FILE_FAILED = "CREATE_MAPPED_FILE_FAILED"
    MESSAGE_ILLEGAL = "MESSAGE_ILLEGAL"
    PROPERTIES_SIZE_EXCEEDED = "PROPERTIES_SIZE_EXCEEDED"
    OS_PAGE_CACHE_BUSY = "OS_PAGE_CACHE_BUSY"
    DISK_FULL = "DISK_FULL"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"


class GetStatus(enum.Enum):
    FOUND = "FOUND"
    NO_MATCHED_MESSAGE = "NO_MATCHED_MESSAGE"
    NO_MESSAGE_IN_QUEUE = "NO_MESSAGE_IN_QUEUE"
    OFFSET_TOO_SMALL = "OFFSET_TOO_SMALL"
    OFFSET_OVERFLOW_ONE = "OFFSET_OVERFLOW_ONE"
    OFFSET_OVERFLOW_BADLY = "OFFSET_OVERFLOW_BADLY"
    NO_MATCHED_LOGIC_QUEUE = "NO_MATCHED_LOGIC_QUEUE"


class PutResult(NamedTuple):
    """Outcome of ``put``/``put_batch``.

    For a batch, ``commitlog_offset``/``queue_offset`` are the first record's and
    ``commitlog_offsets`` holds every record's (an ``array('q')``: one object, not one int
    object per record); ``wrote_bytes`` is the records'
    total (not counting an end-of-file blank). ``end_offset`` is the CommitLog offset
    just past the (last) record: it is durable once ``MessageStore.flushed_offset``
    reaches it (-1 when nothing was written).
    """

    status: PutStatus
    commitlog_offset: int = -1
    queue_offset: int = 0
    wrote_bytes: int = 0
    store_timestamp: int = 0
    store_host: Host = ("127.0.0.1", 0)
    message_count: int = 1
    commitlog_offsets: Sequence[int] | None = None
    error: str | None = None
    end_offset: int = -1

    @property
    def ok(self) -> bool:
        return self.status is PutStatus.PUT_OK

    @property
    def msg_id(self) -> str:
        """Offset message id of the (first) record (reference section 4)."""
        return create_offset_message_id(self.store_host, self.commitlog_offset)

    @property
    def msg_ids(self) -> list[str]:
        """Offset message ids of every record; SEND_BATCH answers them comma-joined."""
        offsets = self.commitlog_offsets if self.commitlog_offsets is not None else (self.commitlog_offset,)
        return [create_offset_message_id(self.store_host, o) for o in offsets]


class _GetFields(NamedTuple):
    status: GetStatus
    next_offset: int
    min_offset: int
    max_offset: int
    raw: bytes = b""
    message_count: int = 0


class GetResult(_GetFields):
    """Outcome of ``get``/``get_raw``: status, offsets, and the records found.

    ``raw`` is the stored records concatenated (a PULL body as is); ``messages``
    decodes them on first use. Bodies are returned as stored (not decompressed).

    A tuple underneath: a read builds one per pull, and ``tuple.__new__`` is the cheapest
    object Python makes (a third of a slotted class's ``__init__``). No ``__slots__``, so
    the decoded messages can be kept in the instance dict once asked for.
    """

    @property
    def messages(self) -> list[MessageExt]:
        cached = self.__dict__.get("decoded")
        if cached is None:
            cached = self.__dict__["decoded"] = decode_stored_messages(self.raw, decompress=False) if self.raw else []
        return cached

    @property
    def _messages(self) -> list[MessageExt] | None:
        """The decoded messages if ``messages`` was read, else None (nothing decoded yet)."""
        return self.__dict__.get("decoded")

    def __repr__(self) -> str:
        return (
            f"GetResult(status={self.status.name}, next_offset={self.next_offset}, min_offset={self.min_offset}, "
            f"max_offset={self.max_offset}, message_count={self.message_count}, bytes={len(self.raw)})"
        )


class QueryResult(NamedTuple):
    """Outcome of ``query_by_key``: the records (as stored) and the index state the
    QUERY_MESSAGE response reports (indexLastUpdateTimestamp / indexLastUpdatePhyoffset)."""

    messages: list[MessageExt]
    raw: bytes
    index_last_update_timestamp: int
    index_last_update_phy_offset: int
