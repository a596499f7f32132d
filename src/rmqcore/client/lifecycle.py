"""``start()``/``shutdown()`` of a client around the :class:`ClientInstance` it runs on.

Every client (producers, consumers, admin) opens one client instance on ``start()`` and
closes it, with whatever it started on top of it, on ``shutdown()``. One
``AsyncExitStack`` holds all of it, so that a start that fails half-way unwinds what it had
already done, in reverse order, and a shutdown does the same for a started client.
"""

from __future__ import annotations

import abc
from contextlib import AsyncExitStack
from typing import Self

from rmqcore.client.client_instance import ClientInstance
from rmqcore.client.config import ClientConfig
from rmqcore.client.errors import ClientStateError


class ClientLifecycle(abc.ABC):
    """Base of the clients: owns the client instance from ``start()`` to ``shutdown()``; ``async with``.

    A subclass sets ``config``, names itself in ``_client_name`` (for error messages) and puts
    its own start steps in :meth:`_on_start`, registering their clean-up on the stack.
    """

    config: ClientConfig
    _stack: AsyncExitStack | None = None
    """Set while started: closing it shuts the client down."""
    _instance: ClientInstance | None = None

    @property
    @abc.abstractmethod
    def _client_name(self) -> str:
        """What error messages call this client ("producer", "admin" ...)."""

    def _check_can_start(self) -> None:
        """Refuse to start an incompletely configured client, before anything is opened."""

    async def _on_start(self, instance: ClientInstance, stack: AsyncExitStack) -> None:
        """The client's own start steps, once ``instance`` runs."""

    def _on_shutdown(self) -> None:
        """After everything on the stack is closed."""

    async def start(self) -> None:
        if self._stack is not None:
            raise ClientStateError(f"{self._client_name} is already started")
        self._check_can_start()
        stack = AsyncExitStack()
        try:
            # Set before the client's own steps: they, and the tasks they start, use it.
            self._instance = await stack.enter_async_context(ClientInstance(self.config))
            await self._on_start(self._instance, stack)
        except BaseException:
            await stack.aclose()
            # A client whose start failed is not started: nothing may use the closed instance.
            self._instance = None
            raise
        self._stack = stack

    async def shutdown(self) -> None:
        if self._stack is None:
            return
        stack, self._stack = self._stack, None
        await stack.aclose()
        self._instance = None
        self._on_shutdown()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def _started_instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientStateError(f"{self._client_name} is not started")
        return self._instance
