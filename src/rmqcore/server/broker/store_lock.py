"""One broker per store directory: an exclusive ``fcntl.flock`` on ``{storePathRootDir}/lock``.

The lock dies with the process (the kernel releases it), so a crashed broker never
leaves a stale lock behind; a second live broker on the same directory is refused
with a message naming the directory and the holder's pid.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

LOCK_FILE_NAME = "lock"


class StoreLockedError(RuntimeError):
    """Another live broker holds the store directory."""


class StoreDirLock:
    """Exclusive, non-blocking lock on a store root; ``release()`` or process exit frees it."""

    def __init__(self, store_root: Path) -> None:
        self.store_root = Path(store_root)
        self.path = self.store_root / LOCK_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.store_root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"store directory {self.store_root} is in use by another broker (pid {holder}, lock file {self.path}); "
                "stop that broker or set a different storePathRootDir"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        log.debug("store_dir_locked", path=str(self.path))

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StoreDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
