"""Typed errors of the message store.

Bad input is refused with one of these *before* anything is written, so the data
already stored stays intact. Each error that answers a put carries the RocketMQ
``PutMessageStatus`` name a broker maps to its response code (``put_status``).
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises."""

    put_status: str = "UNKNOWN_ERROR"


class MessageIllegalError(StoreError, ValueError):
    """The message breaks a store rule (empty topic, topic too long, ...)."""

    put_status = "MESSAGE_ILLEGAL"


class MessageTooLargeError(MessageIllegalError):
    """Body or whole stored record longer than ``max_message_size``."""


class PropertiesTooLargeError(MessageIllegalError):
    """Encoded property string over 32767 bytes (it has a 2-byte length, reference section 4)."""

    put_status = "PROPERTIES_SIZE_EXCEEDED"


class MissingUniqKeyError(MessageIllegalError):
    """``put_batch_encoded(require_uniq_key=True)``: an inner message has no UNIQ_KEY.

    Nothing was written; decode the batch, give those messages a UNIQ_KEY and use
    ``put_batch`` (as RocketMQ's SendMessageProcessor adds one when it is missing)."""


class StoreClosedError(StoreError):
    """The store was closed; open it again to use it."""

    put_status = "SERVICE_NOT_AVAILABLE"


class StoreIOError(StoreError, OSError):
    """An operating-system call on the store files failed (mmap, fallocate, msync...)."""

    put_status = "UNKNOWN_ERROR"


class StoreConfigError(StoreError, ValueError):
    """A StoreConfig value the store cannot work with."""


class StoreLayoutError(StoreError):
    """Files in the store directory that do not fit the expected layout."""
