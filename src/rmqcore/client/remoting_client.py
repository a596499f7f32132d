"""``RemotingClient``: one connection per address.

* On anyio's asyncio backend a connection is a protocol-based
  :class:`~rmqcore.transport.protocol_channel.ProtocolChannel` (``loop.create_connection``):
  a response resolves its request's future straight from ``data_received``, with no reader
  task, send lock or cancel scope per request. Other backends use the anyio-stream
  :class:`~rmqcore.transport.Channel`; both behave the same.

* ``invoke(addr, cmd, timeout)`` sends and waits; ``invoke_oneway`` only sends.
* Connections are made on first use and dropped when the peer closes; a request in
  flight on a dropped connection fails at once (the Channel fails its pending requests)
  with :class:`RemotingConnectError`, a missing answer with :class:`RemotingTimeoutError`.
* Reconnecting backs off: after a failed connect the address is not retried before
  ``backoff`` has passed (doubling up to ``max_backoff_ms``, reset by a success), so a
  dead broker costs one fast error per call instead of a connect timeout each time.
* Requests the peer starts (CHECK_TRANSACTION_STATE, NOTIFY_CONSUMER_IDS_CHANGED, ...) go
  to the processor registered for their code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Union

import anyio
import anyio.abc
import structlog

from rmqcore.client.errors import RemotingConnectError, RemotingTimeoutError
from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.remoting import RemotingCommand, ResponseCode, make_response
from rmqcore.transport import Channel, ChannelClosed, ProtocolChannel, RequestTimeout, connect_channel

log = structlog.get_logger(__name__)

# The connection a request arrived on: a Channel, or a ProtocolChannel with the same interface.
ClientChannel = Union[Channel, ProtocolChannel]
Processor = Callable[[ClientChannel, RemotingCommand], Union[RemotingCommand, None, Awaitable[Union[RemotingCommand, None]]]]

DEFAULT_CONNECT_TIMEOUT = 3.0
INITIAL_BACKOFF_MS = 100
MAX_BACKOFF_MS = 5_000


def split_addr(addr: str) -> tuple[str, int]:
    """``"host:port"`` → ``("host", port)`` (IPv6 hosts may be bracketed).

    >>> split_addr("127.0.0.1:9876"), split_addr("[::1]:10911")
    (('127.0.0.1', 9876), ('::1', 10911))
    """
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class _Backoff:
    __slots__ = ("failures", "retry_at_ms")

    def __init__(self) -> None:
        self.failures = 0
        self.retry_at_ms = 0


class RemotingClient:
    """Connection pool by address; use as ``async with RemotingClient() as rc``."""

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        clock: Clock = SYSTEM_CLOCK,
        initial_backoff_ms: int = INITIAL_BACKOFF_MS,
        max_backoff_ms: int = MAX_BACKOFF_MS,
    ) -> None:
        self.connect_timeout = connect_timeout
        self._clock = clock
        self._initial_backoff_ms = initial_backoff_ms
        self._max_backoff_ms = max_backoff_ms
        self._channels: dict[str, ClientChannel] = {}
        self._connect_locks: dict[str, anyio.Lock] = {}
        self._backoff: dict[str, _Backoff] = {}
        self._processors: dict[int, Processor] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> RemotingClient:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        await self.close()
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        return await self._task_group.__aexit__(exc_type, exc, tb)

    async def close(self) -> None:
        self._closed = True
        for channel in list(self._channels.values()):
            await channel.close()
        self._channels.clear()

    def register_processor(self, code: int, processor: Processor) -> None:
        """Handle requests with ``code`` that a peer sends us."""
        self._processors[int(code)] = processor

    @property
    def connected_addrs(self) -> list[str]:
        return [addr for addr, ch in self._channels.items() if not ch.closed]

    # -- connections ------------------------------------------------------------------------
    async def get_channel(self, addr: str) -> ClientChannel:
        channel = self._channels.get(addr)
        if channel is not None and not channel.closed:
            return channel
        lock = self._connect_locks.setdefault(addr, anyio.Lock())
        async with lock:
            channel = self._channels.get(addr)
            if channel is not None and not channel.closed:
                return channel
            return await self._connect(addr)

    async def _connect(self, addr: str) -> ClientChannel:
        if self._closed or self._task_group is None:
            raise RemotingConnectError(f"remoting client is closed; cannot connect to {addr}", addr)
        backoff = self._backoff.get(addr)
        now = self._clock.now_ms()
        if backoff is not None and now < backoff.retry_at_ms:
            raise RemotingConnectError(
                f"connect to {addr} failed {backoff.failures} time(s); next attempt in {backoff.retry_at_ms - now} ms", addr
            )
        try:
            host, port = split_addr(addr)
            with anyio.fail_after(self.connect_timeout):
                channel = await self._open_channel(addr, host, port)
        except (OSError, TimeoutError, ValueError, OverflowError) as exc:
            backoff = self._backoff.setdefault(addr, _Backoff())
            backoff.failures += 1
            delay = min(self._initial_backoff_ms * 2 ** (backoff.failures - 1), self._max_backoff_ms)
            backoff.retry_at_ms = self._clock.now_ms() + delay
            log.warning("remoting_connect_failed", addr=addr, error=str(exc) or type(exc).__name__, retry_in_ms=delay)
            raise RemotingConnectError(f"connect to {addr} failed: {exc or type(exc).__name__}", addr) from exc
        self._backoff.pop(addr, None)
        self._channels[addr] = channel
        if isinstance(channel, Channel):
            self._task_group.start_soon(self._run_channel, addr, channel)
        log.debug("remoting_connected", addr=addr)
        return channel

    async def _open_channel(self, addr: str, host: str, port: int) -> ClientChannel:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            stream = await anyio.connect_tcp(host, port)
            return Channel(stream, self._dispatch, remote_addr=addr)
        # A ProtocolChannel reads in data_received: no task to run, it reports its own end.
        return await connect_channel(host, port, self._dispatch, remote_addr=addr, on_lost=self._forget_channel)

    async def _run_channel(self, addr: str, channel: Channel) -> None:
        try:
            await channel.run()
        finally:
            self._forget_channel(channel)

    def _forget_channel(self, channel: ClientChannel) -> None:
        """The connection ended: the next request to its address reconnects."""
        addr = channel.remote_addr
        if self._channels.get(addr) is channel:
            del self._channels[addr]
        log.debug("remoting_disconnected", addr=addr)

    async def close_channel(self, addr: str) -> None:
        channel = self._channels.pop(addr, None)
        if channel is not None:
            await channel.close()

    # -- requests ---------------------------------------------------------------------------
    async def invoke(self, addr: str, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` to ``addr`` and return the response (any code; callers judge it)."""
        channel = self._channels.get(addr)
        if channel is None or channel.closed:
            # Deadlines on time.monotonic(): the same clock as the loop's, without anyio's backend lookup per call.
            deadline = time.monotonic() + timeout
            channel = await self.get_channel(addr)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RemotingTimeoutError(f"connecting to {addr} used up the {timeout:.3f}s timeout", addr)
            timeout = remaining
        try:
            return await channel.request(cmd, timeout)
        except RequestTimeout as exc:
            raise RemotingTimeoutError(str(exc), addr) from exc
        except ChannelClosed as exc:
            raise RemotingConnectError(str(exc), addr) from exc

    async def invoke_oneway(self, addr: str, cmd: RemotingCommand) -> None:
        channel = await self.get_channel(addr)
        try:
            await channel.oneway(cmd)
        except ChannelClosed as exc:
            raise RemotingConnectError(str(exc), addr) from exc

    def _dispatch(self, channel: ClientChannel, cmd: RemotingCommand):  # type: ignore[no-untyped-def]
        processor = self._processors.get(cmd.code)
        if processor is None:
            log.warning("remoting_request_not_supported", addr=channel.remote_addr, code=cmd.code)
            return make_response(
                cmd, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, remark=f"request code {cmd.code} not supported by this client"
            )
        return processor(channel, cmd)
