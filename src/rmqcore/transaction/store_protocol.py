"""What the transaction service needs from a message store, as a ``typing.Protocol``.

``rmqcore.transaction`` never imports ``rmqcore.store``: the broker passes its store in.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from rmqcore.message import Message, MessageExt


@runtime_checkable
class TransactionStore(Protocol):
    """The store methods the transaction service and checker call."""

    def put(self, msg: Message, queue_id: int, *, store_timestamp: int | None = None) -> Any:
        """Append ``msg`` to ``msg.topic``/``queue_id``; the result has ``commitlog_offset``, ``queue_offset``.

        ``store_timestamp`` (when given) is stored instead of the store's clock reading."""
        ...

    def get(self, topic: str, queue_id: int, offset: int, max_count: int = 32) -> Any:
        """Messages of a queue from ``offset``; the result has ``messages`` (``MessageExt`` with queue offsets)."""
        ...

    def look_message(self, commitlog_offset: int) -> MessageExt | None: ...

    def max_offset(self, topic: str, queue_id: int) -> int: ...

    def min_offset(self, topic: str, queue_id: int) -> int: ...

    def query_by_key(self, topic: str, key: str, max_count: int = 32) -> Any:
        """Messages of ``topic`` whose UNIQ_KEY or a KEYS token is ``key`` (result has ``messages``)."""
        ...

    def flush(self) -> None:
        """Make everything stored so far durable (called before progress is saved)."""
        ...


def put_succeeded(result: Any) -> bool:
    """Whether a store put result says the message was written."""
    ok = getattr(result, "ok", None)
    if ok is not None:
        return bool(ok() if callable(ok) else ok)
    status = getattr(result, "status", None)
    return getattr(status, "name", status) in ("PUT_OK", "OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT", "SLAVE_NOT_AVAILABLE")
