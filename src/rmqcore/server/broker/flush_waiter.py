"""SYNC_FLUSH answers without a worker thread per send.

A send's put is a fast C call, so it runs on the event loop with ``wait_for_flush=False``;
the handler then awaits a future from :class:`FlushWaiter`, which resolves it once the
store's flushed offset covers the record's end. One background thread waits in the store
(``MessageStore.wait_flushed``, GIL released) for the highest end asked for; each group
commit reaches the loop as one ``call_soon_threadsafe`` carrying the new flushed offset,
which resolves every future it covers. A thread hop per send (and the worker-thread
limit) is what capped SYNC_FLUSH sends before.

Futures resolve to True (durable) or False (not durable within ``syncFlushTimeout``, or
the store closed first: the put stored the message, so the send answers
FLUSH_DISK_TIMEOUT as a timed-out put does); a failed msync fails them with its
StoreIOError, as the put would have raised it.

Everything but the thread runs on the event loop; the broker closes the waiter after it
closed the store.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# The thread returns from the store's wait at least this often, so it stops soon after
# close() even if the store did not wake it.
_WAIT_SLICE_S = 1.0


class FlushWaiter:
    def __init__(self, store: Any, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self._store = store
        self._loop = loop
        self._timeout_s = timeout_s
        # [end, deadline, future] in registration order. Puts made on the loop end at
        # increasing offsets and share one timeout, so both ends and deadlines increase
        # along the deque: the flushed prefix and the expired prefix are both at its left.
        self._pending: deque[tuple[int, float, asyncio.Future[bool]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._flushed = store.flushed_offset
        # read by the thread without the lock (a plain attribute; the thread re-checks it
        # under the lock before sleeping, see _run)
        self._target = self._flushed
        self._idle = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="rmqcore-broker-flush-waiter", daemon=True)
        self._thread.start()

    # -- the event loop side --------------------------------------------------------------------
    def wait(self, end: int) -> asyncio.Future[bool]:
        """A future resolved once the CommitLog is flushed up to ``end`` (see the module doc)."""
        fut = self._loop.create_future()
        if end <= self._flushed:
            fut.set_result(True)
            return fut
        if self._closed:
            fut.set_result(self._store_flushed() >= end)
            return fut
        deadline = self._loop.time() + self._timeout_s
        if self._timer is None:  # else a timer is due no later than this deadline
            self._timer = self._loop.call_at(deadline, self._expire)
        self._pending.append((end, deadline, fut))
        if end > self._target:
            self._target = end
            if self._idle:
                with self._cond:
                    self._cond.notify()
        return fut

    def _advanced(self, flushed: int) -> None:
        """From the thread: the CommitLog is flushed up to ``flushed``."""
        if flushed <= self._flushed:
            return
        self._flushed = flushed
        pending = self._pending
        while pending and pending[0][0] <= flushed:
            fut = pending.popleft()[2]
            if not fut.done():  # a cancelled send (its connection went) leaves its future done
                fut.set_result(True)

    def _failed(self, exc: BaseException, target: int, flushed: int) -> None:
        """From the thread: the msync meant to cover ``target`` failed; fail the sends it
        left out (later ones get a sync of their own)."""
        self._advanced(flushed)
        pending = self._pending
        while pending and pending[0][0] <= target:
            fut = pending.popleft()[2]
            if not fut.done():
                fut.set_exception(exc)

    def _expire(self) -> None:
        self._timer = None
        pending = self._pending
        now = self._loop.time()
        while pending and pending[0][1] <= now:
            fut = pending.popleft()[2]
            if not fut.done():
                fut.set_result(False)
        if pending and not self._closed:
            self._timer = self._loop.call_at(pending[0][1], self._expire)

    def close(self) -> None:
        """Stop the thread and answer every pending future (after the store closed: its
        final flush covered what it could). Idempotent; on the event loop."""
        if self._closed:
            return
        self._closed = True
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        flushed = self._store_flushed()
        pending, self._pending = self._pending, deque()
        for end, _, fut in pending:
            if not fut.done():
                fut.set_result(end <= flushed)

    def _store_flushed(self) -> int:
        try:
            return max(self._flushed, self._store.flushed_offset)
        except Exception:  # a store that cannot say any more: nothing beyond what we learned
            return self._flushed

    @property
    def pending(self) -> int:
        """Sends waiting for their flush (tests)."""
        return len(self._pending)

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        store = self._store
        cond = self._cond
        flushed = self._flushed
        failed_at = -1  # after a failed msync, wait for a new end before asking again
        while True:
            with cond:
                # idle is set before the target is re-read: a send that raised the target
                # after that read sees idle and notifies under the lock we hold until wait()
                self._idle = True
                while not self._stopping and (self._target <= flushed or self._target <= failed_at):
                    cond.wait()
                self._idle = False
                if self._stopping:
                    return
                target = self._target
            try:
                now = store.wait_flushed(target, min(self._timeout_s, _WAIT_SLICE_S))
            except Exception as exc:
                failed_at = target
                log.error("sync_flush_failed", target=target, flushed=flushed, error=str(exc))
                if not self._post(self._failed, exc, target, store.flushed_offset):
                    return
                continue
            if now > flushed:
                flushed = now
                if not self._post(self._advanced, flushed):
                    return
            if store.closed:  # close() answers the rest from the store's final flushed offset
                return

    def _post(self, callback: Any, *args: Any) -> bool:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is left to answer
            return False
        return True
