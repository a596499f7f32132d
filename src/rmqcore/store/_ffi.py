"""The cffi handles and the errno check shared by the store's Python files.

Importing ``ffi``/``lib`` from here keeps one place that knows the extension's name.
"""

from __future__ import annotations

import os

from rmqcore.store._native import ffi, lib  # type: ignore[import-not-found]
from rmqcore.store.errors import MessageTooLargeError, StoreIOError

__all__ = ["ffi", "lib", "check", "NULL"]

NULL = ffi.NULL


def check(rc: int, what: str) -> int:
    """Raise for a negative return code from C; pass other values through."""
    if rc >= 0:
        return rc
    if rc == lib.RMQ_E_TOO_LARGE:
        raise MessageTooLargeError(f"{what}: the stored record would exceed max_message_size")
    if rc == lib.RMQ_E_FILE_TOO_SMALL:
        raise MessageTooLargeError(
            f"{what}: the stored record does not fit one CommitLog file; raise mapped_file_size_commit_log"
        )
    err = -rc
    raise StoreIOError(err, f"{what}: {os.strerror(err)}")
