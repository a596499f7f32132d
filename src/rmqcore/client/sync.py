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
"""

from __future__ import annotations

import functools
import inspect
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from rmqcore.client import admin as _admin
from rmqcore.client import lite_pull_consumer as _lite
from rmqcore.client import producer as _producer
from rmqcore.client import pull_consumer as _pull
from rmqcore.client import push_consumer as _push
from rmqcore.client import transaction as _transaction
from rmqcore.client.errors import ClientStateError


class SyncClient:
    """Wraps one async client object; see the module docstring."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None

    @property
    def async_client(self) -> Any:
        return self._client

    def start(self) -> None:
        if self._stack is not None:
            raise ClientStateError("already started")
        stack = ExitStack()
        try:
            portal = stack.enter_context(start_blocking_portal())
            self._portal = portal
            cm: AbstractContextManager[Any] = portal.wrap_async_context_manager(self._client)
            stack.enter_context(cm)
        except BaseException:
            stack.close()
            self._portal = None
            raise
        self._stack = stack

    def shutdown(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        self._portal = None

    def __enter__(self) -> SyncClient:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` (a coroutine function or a plain one) in the client's loop."""
        if self._portal is None:
            raise ClientStateError("not started")
        return self._portal.call(functools.partial(fn, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in ("start", "shutdown"):
            return attr
        if inspect.iscoroutinefunction(attr) or (callable(attr) and name in _LOOP_BOUND):
            @functools.wraps(attr)
            def run(*args: Any, **kwargs: Any) -> Any:
                if self._portal is None and not inspect.iscoroutinefunction(attr):
                    return attr(*args, **kwargs)  # configuration before start
                return self.call(attr, *args, **kwargs)

            return run
        return attr


# Plain methods that must run in the loop's thread (they start tasks there).
_LOOP_BOUND = frozenset({"send_async", "subscribe", "assign", "unsubscribe"})


def Producer(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802 - reads like the class it wraps
    return SyncClient(_producer.Producer(*args, **kwargs))


def TransactionProducer(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_transaction.TransactionProducer(*args, **kwargs))


def PushConsumer(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_push.PushConsumer(*args, **kwargs))


def LitePullConsumer(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_lite.LitePullConsumer(*args, **kwargs))


def PullConsumer(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_pull.PullConsumer(*args, **kwargs))


def Admin(*args: Any, **kwargs: Any) -> SyncClient:  # noqa: N802
    return SyncClient(_admin.Admin(*args, **kwargs))
