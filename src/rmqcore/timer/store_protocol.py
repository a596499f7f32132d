"""What the delay service needs from a message store, as a ``typing.Protocol``.

``rmqcore.timer`` never imports ``rmqcore.store``: the broker passes its store in, and any object
with these methods will do.  The methods are the subset of ``rmqcore.store.MessageStore`` the
delay service calls.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from rmqcore.message import Message, MessageExt


@runtime_checkable
class PutResultLike(Protocol):
    """The fields of a store's put result the delay service reads."""

    @property
    def ok(self) -> bool: ...

    @property
    def commitlog_offset(self) -> int: ...

    @property
    def queue_offset(self) -> int: ...


@runtime_checkable
class GetResultLike(Protocol):
    @property
    def messages(self) -> Sequence[MessageExt]: ...

    @property
    def next_offset(self) -> int: ...


@runtime_checkable
class DelayStore(Protocol):
    """The store methods the delay service calls."""

    def put(self, msg: Message, queue_id: int, *, tag_code: int | None = None) -> Any:
        """Append ``msg`` to ``msg.topic``/``queue_id``; ``tag_code`` overrides the ConsumeQueue tag code."""
        ...

    def get(self, topic: str, queue_id: int, offset: int, max_count: int = 32) -> Any: ...

    def look_message(self, commitlog_offset: int) -> MessageExt | None: ...

    def max_offset(self, topic: str, queue_id: int) -> int: ...

    def min_offset(self, topic: str, queue_id: int) -> int: ...

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


# Put statuses that no retry can fix (the message itself breaks a store rule).
ILLEGAL_PUT_STATUSES = ("MESSAGE_ILLEGAL", "PROPERTIES_SIZE_EXCEEDED")


def put_is_illegal(result: Any) -> bool:
    """Whether a failed put result says the message can never be stored."""
    status = getattr(result, "status", None)
    return getattr(status, "name", status) in ILLEGAL_PUT_STATUSES
