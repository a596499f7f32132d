"""The client's event loop as a thread outside it sees it (the synchronous facade's threads)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

_T = TypeVar("_T")


class LoopHandle(Protocol):
    """What a blocking request path needs from the loop that owns the client's state."""

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` in the loop; block until it ends and return its result."""

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Schedule the plain call ``fn(*args)`` in the loop's thread; do not wait."""
