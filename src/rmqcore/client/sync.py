"""A thin synchronous facade for scripts: the async clients driven from a background event loop.

``SyncClient(async_client)`` runs an anyio event loop in a background thread
(``anyio.from_thread.start_blocking_portal``) and calls the client's coroutine methods
through it; plain methods and attributes pass straight through. ``start()``/``shutdown()``
enter and leave the client's ``async with`` in one task of that loop, as anyio requires.

    from rmqcore.client import sync
    with sync.Producer("group", namesrv_addr="127.0.0.1:9876") as producer:
        print(producer.send(Message("TopicTest", b"hello")))

Listeners given to a synchronous consumer are plain functions; they run in worker threads.
Callbacks of ``send_async`` run in the loop's thread.

A synchronous producer's ``send`` and ``send_oneway``, and a synchronous pull consumer's ``pull`` and
``pull_block_if_not_found``, do not go through the loop at all once the route is known: the
calling thread writes the request and reads the answer on a blocking connection of its own
to the broker (:mod:`rmqcore.client.blocking_channel`), as redis-py does; sends keep the
producer's retry rules (:mod:`rmqcore.client.send_attempts`). That saves the two
cross-thread wake-ups below. Route look-ups, heartbeats, offsets and transaction
check-backs stay on the loop.

The loop is uvloop's when uvloop is installed (``RMQCORE_EVENT_LOOP=asyncio`` picks the
standard one, as for the servers): it costs a round trip about half the CPU. A coroutine
method is handed to the loop with ``asyncio.run_coroutine_threadsafe``, one wake-up each
way; ``BlockingPortal.call`` takes two (one to start a task in the portal's task group,
one for its result), which costs a synchronous send tens of microseconds.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from rmqcore.client import admin as _admin
from rmqcore.client import lite_pull_consumer as _lite
from rmqcore.client import producer as _producer
from rmqcore.client import pull_consumer as _pull
from rmqcore.client import push_consumer as _push
from rmqcore.client import transaction as _transaction
from rmqcore.client.blocking_channel import BlockingChannels
from rmqcore.client.errors import ClientStateError
from rmqcore.client.pull_result import PullResult
from rmqcore.client.send_result import SendResult


def event_loop_options() -> dict[str, Any]:
    """anyio backend options for the facade's loop: uvloop when installed, unless
    ``RMQCORE_EVENT_LOOP=asyncio``."""
    use_uvloop = os.environ.get("RMQCORE_EVENT_LOOP", "uvloop") != "asyncio"
    if use_uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            use_uvloop = False
    return {"use_uvloop": use_uvloop}


def _loop_and_thread() -> tuple[asyncio.AbstractEventLoop, int]:
    return asyncio.get_running_loop(), threading.get_ident()


class SyncClient:
    """Wraps one async client object; see the module docstring."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    @property
    def async_client(self) -> Any:
        return self._client

    def start(self) -> None:
        if self._stack is not None:
            raise ClientStateError("already started")
        stack = ExitStack()
        try:
            portal = stack.enter_context(start_blocking_portal("asyncio", event_loop_options()))
            self._portal = portal
            self._loop, self._loop_thread = portal.call(_loop_and_thread)
            cm: AbstractContextManager[Any] = portal.wrap_async_context_manager(self._client)
            stack.enter_context(cm)
        except BaseException:
            stack.close()
            self._portal = self._loop = None
            raise
        self._stack = stack

    def shutdown(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        self._portal = self._loop = None

    def __enter__(self) -> SyncClient:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` (a coroutine function or a plain one) in the client's loop."""
        loop = self._loop
        if loop is None or self._portal is None:
            raise ClientStateError("not started")
        if not inspect.iscoroutinefunction(fn):
            return self._portal.call(functools.partial(fn, *args, **kwargs))
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("a synchronous client method cannot be called from its own event loop's thread")
        return asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), loop).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in ("start", "shutdown"):
            return attr
        is_coroutine = inspect.iscoroutinefunction(attr)
        if is_coroutine or (callable(attr) and name in _LOOP_BOUND):
            if is_coroutine:

                @functools.wraps(attr)
                def run(*args: Any, **kwargs: Any) -> Any:
                    loop = self._loop
                    if loop is None:
                        raise ClientStateError("not started")
                    if threading.get_ident() == self._loop_thread:
                        raise RuntimeError("a synchronous client method cannot be called from its own event loop's thread")
                    return asyncio.run_coroutine_threadsafe(attr(*args, **kwargs), loop).result()

            else:

                @functools.wraps(attr)
                def run(*args: Any, **kwargs: Any) -> Any:
                    if self._portal is None:
                        return attr(*args, **kwargs)  # configuration before start
                    return self.call(attr, *args, **kwargs)

            # A bound method of the one wrapped client: built once, found without __getattr__ next time.
            self.__dict__[name] = run
            return run
        return attr


# Plain methods that must run in the loop's thread (they start tasks there).
_LOOP_BOUND = frozenset({"send_async", "request_async", "subscribe", "assign", "unsubscribe"})


class _LoopFromThread:
    """The facade's loop as :class:`rmqcore.client.loop_handle.LoopHandle`."""

    __slots__ = ("_loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def run(self, coro: Any) -> Any:
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError as exc:  # the loop closed under a send racing shutdown()
            coro.close()
            raise ClientStateError("the client is shut down") from exc
        return future.result()

    def call_soon(self, fn: Any, *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # best effort (route refreshes): a closed loop has nothing left to refresh


class _BlockingRequestClient(SyncClient):
    """A facade whose hot requests run in the calling thread on blocking connections
    (:mod:`rmqcore.client.blocking_channel`), everything else through the loop."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._channels: BlockingChannels | None = None
        self._loop_handle: _LoopFromThread | None = None

    def start(self) -> None:
        super().start()
        assert self._loop is not None
        self._loop_handle = _LoopFromThread(self._loop)
        self._channels = BlockingChannels()

    def shutdown(self) -> None:
        channels, self._channels = self._channels, None
        if channels is not None:
            channels.close()
        self._loop_handle = None
        super().shutdown()

    def _blocking(self) -> tuple[BlockingChannels, _LoopFromThread]:
        channels, loop = self._channels, self._loop_handle
        if channels is None or loop is None:
            raise ClientStateError("not started")
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("a synchronous client method cannot be called from its own event loop's thread")
        return channels, loop


class SyncProducer(_BlockingRequestClient):
    """A producer's facade whose ``send`` runs in the calling thread on blocking connections."""

    def send(self, msg: Any, timeout: float | None = None, **kwargs: Any) -> SendResult:
        """``Producer.send``: same arguments, retries and result."""
        channels, loop = self._blocking()
        result: SendResult = self._client.send_blocking(msg, timeout, channels, loop, **kwargs)
        return result

    def send_oneway(self, msg: Any, **kwargs: Any) -> None:
        """``Producer.send_oneway``: written on the calling thread's connection, not waited for."""
        channels, loop = self._blocking()
        self._client.send_oneway_blocking(msg, channels, loop, **kwargs)


class SyncPullConsumer(_BlockingRequestClient):
    """A pull consumer's facade whose pulls run in the calling thread on blocking connections."""

    def pull(self, mq: Any, expression: Any, offset: int, max_nums: int, timeout: float | None = None) -> PullResult:
        """``PullConsumer.pull``: same arguments and result."""
        channels, loop = self._blocking()
        result: PullResult = self._client.pull_blocking(mq, expression, offset, max_nums, channels, loop, timeout=timeout)
        return result

    def pull_block_if_not_found(self, mq: Any, expression: Any, offset: int, max_nums: int) -> PullResult:
        """``PullConsumer.pull_block_if_not_found``: the broker holds the pull until a message arrives."""
        channels, loop = self._blocking()
        result: PullResult = self._client.pull_blocking(
            mq, expression, offset, max_nums, channels, loop, block_if_not_found=True
        )
        return result


def Producer(*args: Any, **kwargs: Any) -> SyncProducer:  # noqa: N802 - reads like the class it wraps
    return SyncProducer(_producer.Producer(*args, **kwargs))


def TransactionProducer(*args: Any, **kwargs: Any) -> SyncProducer:  # noqa: N802
    return SyncProducer(_transaction.TransactionProducer(*args, **kwargs))


def PushConsumer(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_push.PushConsumer(*args, **kwargs))


def LitePullConsumer(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_lite.LitePullConsumer(*args, **kwargs))


def PullConsumer(*args: Any, **kwargs: Any) -> SyncPullConsumer:  # noqa: N802
    return SyncPullConsumer(_pull.PullConsumer(*args, **kwargs))


def Admin(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_admin.Admin(*args, **kwargs))
