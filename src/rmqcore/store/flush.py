"""Making the CommitLog durable: the flushed offset, group commit, the background flusher.

* ``SYNC_FLUSH``: a put returns only once msync covered its bytes. Puts from many
  threads share syncs (group commit, RocketMQ's GroupCommitService): a dedicated C
  thread (csrc/group_commit.c) msyncs up to the current write position -- every record
  appended so far -- and wakes the waiters it covered; puts made during that msync are
  covered by the next. Writers wait in C with the GIL released (GroupCommitFlusher).
* ``ASYNC_FLUSH``: a daemon thread msyncs every ``flush_interval_commit_log`` ms once
  ``flush_commit_log_least_pages`` pages are dirty (all of it every thorough interval).

The background thread also flushes ConsumeQueues, the index and the checkpoint, and
re-reads disk usage; the store passes those jobs in as plain callables.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from rmqcore.store._ffi import check, ffi, lib
from rmqcore.store.commitlog import CommitLog
from rmqcore.store.config import StoreConfig

log = structlog.get_logger(__name__)
PAGE = 4096


class CommitLogFlusher:
    """Owns ``flushed_offset``; every msync of the CommitLog goes through here."""

    def __init__(self, commitlog: CommitLog, flushed_offset: int) -> None:
        self._commitlog = commitlog
        self.flushed_offset = flushed_offset
        self.sync_count = 0
        self.closed = False
        # held while msync runs; retention/close take it too so no file is unmapped under a sync
        self.sync_lock = threading.Lock()

    def flush_to(self, target: int) -> None:
        with self.sync_lock:
            if self.closed:  # the mappings are gone; close() flushed everything before that
                return
            start = self.flushed_offset
            if target <= start:
                return
            self._commitlog.sync(start, target)
            self.flushed_offset = target
            self.sync_count += 1

    def flush_all(self) -> None:
        self.flush_to(self._commitlog.write_pos)

    def stop(self) -> None:
        """No more msyncs (the store is closing or crashing); set ``closed`` first."""

    def wait_durable(self, end: int, timeout_s: float) -> bool:
        """Block until ``flushed_offset >= end``; True when reached within the timeout.

        Without group commit (ASYNC_FLUSH stores never wait) this flushes on the caller's
        thread; SYNC_FLUSH stores use GroupCommitFlusher.
        """
        if self.flushed_offset < end:
            self.flush_to(self._commitlog.write_pos)
        return self.flushed_offset >= end


class GroupCommitFlusher(CommitLogFlusher):
    """SYNC_FLUSH: the same contract, served by the C group-commit thread.

    ``flushed_offset`` and ``sync_count`` live in C. The C object is freed when the
    last Python reference goes (a writer still inside ``wait_durable`` holds one), so a
    put racing ``close`` never touches freed memory; after :meth:`stop` waits return
    at once.
    """

    def __init__(self, commitlog: CommitLog, flushed_offset: int) -> None:
        super().__init__(commitlog, flushed_offset)
        gc = lib.rmq_gc_start(commitlog.ptr, flushed_offset)
        if gc == ffi.NULL:
            raise MemoryError("cannot start the group-commit thread")
        self._gc = ffi.gc(gc, lib.rmq_gc_free)
        self._wait = lib.rmq_gc_wait

    @property  # type: ignore[override]
    def flushed_offset(self) -> int:
        return self._gc.flushed

    @flushed_offset.setter
    def flushed_offset(self, value: int) -> None:  # the base __init__ sets it; C owns it after
        pass

    @property  # type: ignore[override]
    def sync_count(self) -> int:
        return self._gc.syncs

    @sync_count.setter
    def sync_count(self, value: int) -> None:
        pass

    def flush_to(self, target: int) -> None:
        with self.sync_lock:
            if self.closed:
                return
            check(lib.rmq_gc_flush_to(self._gc, target), "msync commitlog")

    def wait_durable(self, end: int, timeout_s: float) -> bool:
        gc = self._gc
        if gc.flushed >= end:
            return True
        return check(self._wait(gc, end, int(timeout_s * 1000)), "msync commitlog") == 1

    def stop(self) -> None:
        lib.rmq_gc_stop(self._gc)


class FlushService:
    """The background thread: CommitLog flush (async mode), logics flush, disk checks."""

    def __init__(
        self,
        config: StoreConfig,
        flusher: CommitLogFlusher,
        commitlog: CommitLog,
        flush_logics: Callable[[], None],
        check_disk: Callable[[], object],  # its result (the disk usage) is not used here
        name: str = "rmqcore-store-flush",
    ) -> None:
        self._config = config
        self._flusher = flusher
        self._commitlog = commitlog
        self._flush_logics = flush_logics
        self._check_disk = check_disk
        self._stop = threading.Event()
        intervals = [config.flush_interval_consume_queue, 200]
        if not config.sync_flush:
            intervals.append(config.flush_interval_commit_log)
        self._tick_s = max(1, min(intervals)) / 1000
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        cfg = self._config
        last_thorough = last_logics = last_disk = time.monotonic()
        while not self._stop.wait(self._tick_s):
            now = time.monotonic()
            try:
                if not cfg.sync_flush:
                    dirty = self._commitlog.write_pos - self._flusher.flushed_offset
                    thorough = (now - last_thorough) * 1000 >= cfg.flush_commit_log_thorough_interval
                    if dirty > 0 and (thorough or dirty >= cfg.flush_commit_log_least_pages * PAGE):
                        self._flusher.flush_all()
                        if thorough:
                            last_thorough = now
                if (now - last_logics) * 1000 >= cfg.flush_interval_consume_queue:
                    last_logics = now
                    self._flush_logics()
                if (now - last_disk) * 1000 >= cfg.disk_check_interval:
                    last_disk = now
                    self._check_disk()
            except Exception:  # a failing flush must not kill the thread; the next tick retries
                log.exception("store.flush_failed")
