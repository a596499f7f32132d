"""Errors of the transaction service, carrying the RocketMQ response code the broker answers with.

``TransactionError.code`` is a ``ResponseCode`` (reference section 2); ``remark`` is the text for
the response's remark: it starts with RocketMQ's own remark (so a log search for the Java text
still matches) and goes on with the values that did not match and what to do.
"""

from __future__ import annotations

from typing import Final

SYSTEM_ERROR: Final = 1  # ResponseCode.SYSTEM_ERROR (section 2)


class TransactionError(Exception):
    """END_TRANSACTION refused: the broker answers ``code`` with ``remark``."""

    def __init__(self, code: int, remark: str) -> None:
        self.code = code
        self.remark = remark
        super().__init__(remark)

    def __repr__(self) -> str:
        return f"TransactionError(code={self.code}, remark={self.remark!r})"


class TransactionProgressError(Exception):
    """The checker's progress file exists but cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(
            f"transaction check progress file {path} is unreadable ({reason}); move it aside to re-check "
            "every half message still in the store (producers are asked again about open transactions)"
        )
