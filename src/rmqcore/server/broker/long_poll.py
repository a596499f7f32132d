"""Parked pulls (RocketMQ's ``PullRequestHoldService``): a pull that found nothing waits here.

A PULL_MESSAGE with the SUSPEND flag that finds no message waits until a message
arrives on its queue past its offset (the store's dispatch listener calls :meth:`notify`)
or its suspend timeout ends; then the pull runs again (``notifyMessageArriving``).

The store may dispatch from a worker thread (half-message and delayed puts, the delay
service's tick); :meth:`notify` then hands the wake-up to the event loop without blocking.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import anyio
import anyio.from_thread
import anyio.lowlevel
import structlog

log = structlog.get_logger(__name__)

class _Waiter:
    __slots__ = ("offset", "event")

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.event = anyio.Event()


class LongPollHolder:
    """(topic, queue id) → parked pulls."""

    def __init__(self) -> None:
        self._waiters: dict[tuple[str, int], set[_Waiter]] = {}
        self._loop_thread: int | None = None
        self._call_soon_threadsafe: Callable[..., object] | None = None

    def bind_to_current_loop(self) -> None:
        """Remember the event loop so notifications from other threads can reach it."""
        self._loop_thread = threading.get_ident()
        try:
            self._call_soon_threadsafe = asyncio.get_running_loop().call_soon_threadsafe
        except RuntimeError:  # pragma: no cover - another anyio backend: a blocking hand-over
            token = anyio.lowlevel.current_token()

            def hand_over(func: Callable[..., object], *args: object) -> None:
                anyio.from_thread.run_sync(func, *args, token=token)

            self._call_soon_threadsafe = hand_over

    @property
    def parked(self) -> int:
        return sum(len(s) for s in self._waiters.values())

    def parked_on(self, topic: str, queue_id: int) -> int:
        return len(self._waiters.get((topic, queue_id), ()))

    async def wait(
        self,
        topic: str,
        queue_id: int,
        offset: int,
        timeout_s: float,
        *,
        arrived: Callable[[], bool] | None = None,
    ) -> bool:
        """Park until woken (True) or ``timeout_s`` passes (False).

        ``arrived`` is checked after parking, closing the gap in which another thread
        could have stored a message between the caller's empty pull and this call.
        """
        key = (topic, queue_id)
        waiter = _Waiter(offset)
        waiters = self._waiters.get(key)
        if waiters is None:
            waiters = self._waiters[key] = set()
        waiters.add(waiter)
        try:
            if arrived is not None and arrived():
                return True
            with anyio.move_on_after(timeout_s):
                await waiter.event.wait()
            return waiter.event.is_set()
        finally:
            waiters.discard(waiter)
            if not waiters and self._waiters.get(key) is waiters:
                del self._waiters[key]

    def notify(self, topic: str, queue_id: int, max_offset: int) -> None:
        """The queue's max offset (next offset to be written) is now ``max_offset``; wake waiters below it."""
        if (topic, queue_id) not in self._waiters:
            return
        if self._loop_thread is not None and threading.get_ident() != self._loop_thread:
            if self._call_soon_threadsafe is not None:
                try:
                    self._call_soon_threadsafe(self._wake, topic, queue_id, max_offset)
                except RuntimeError:
                    pass  # the loop is closing; parked pulls end with it
            return
        self._wake(topic, queue_id, max_offset)

    def _wake(self, topic: str, queue_id: int, max_offset: int) -> None:
        waiters = self._waiters.get((topic, queue_id))
        if not waiters:
            return
        for waiter in list(waiters):
            if max_offset > waiter.offset:
                waiter.event.set()

    def wake_all(self) -> None:
        """Release every parked pull (shutdown)."""
        for waiters in list(self._waiters.values()):
            for waiter in list(waiters):
                waiter.event.set()
