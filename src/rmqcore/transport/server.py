"""A TCP listener that gives each accepted connection a :class:`Channel`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import anyio
import anyio.abc
import structlog

from rmqcore.transport.channel import Channel, Handler
from rmqcore.transport.protocol_channel import ProtocolChannel

log = structlog.get_logger(__name__)


class RemotingServer:
    """Serves remoting connections on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_frame_size: int = 16 * 1024 * 1024,
        on_connect: Callable[[Channel], object] | None = None,
        on_close: Callable[[Channel], object] | None = None,  # what it returns is ignored
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._max_frame_size = max_frame_size
        self._on_connect = on_connect
        self._on_close = on_close
        self.channels: set[Channel] = set()
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        self._asyncio_server: asyncio.AbstractServer | None = None

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            await self._serve_streams(task_status)
        else:
            await self._serve_protocols(task_status)

    async def _serve_protocols(self, task_status: anyio.abc.TaskStatus[int]) -> None:
        """asyncio backend: one :class:`ProtocolChannel` per connection (no task per read)."""
        loop = asyncio.get_running_loop()

        def make_channel() -> ProtocolChannel:
            return ProtocolChannel(
                self._handler,
                max_frame_size=self._max_frame_size,
                pause_reading_while_backed_up=True,
                on_open=self._opened,
                on_lost=self._lost,
            )

        server = await loop.create_server(make_channel, self.host, self.port, reuse_address=True)
        self._asyncio_server = server
        self.port = server.sockets[0].getsockname()[1]
        task_status.started(self.port)
        try:
            await anyio.sleep_forever()
        finally:
            server.close()
            with anyio.CancelScope(shield=True):
                for channel in list(self.channels):
                    await channel.close()

    def _opened(self, channel: ProtocolChannel) -> None:
        self.channels.add(channel)  # type: ignore[arg-type]
        if self._on_connect:
            self._on_connect(channel)  # type: ignore[arg-type]

    def _lost(self, channel: ProtocolChannel) -> None:
        self.channels.discard(channel)  # type: ignore[arg-type]
        if self._on_close:
            self._on_close(channel)  # type: ignore[arg-type]

    async def _serve_streams(self, task_status: anyio.abc.TaskStatus[int]) -> None:
        """Other anyio backends: a :class:`Channel` over an anyio stream per connection."""
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port, reuse_port=False)
        self._listener = listener
        sock = listener.listeners[0].extra(anyio.abc.SocketAttribute.raw_socket)
        self.port = sock.getsockname()[1]
        task_status.started(self.port)
        async with listener:
            await listener.serve(self._serve_connection)

    async def _serve_connection(self, stream: anyio.abc.SocketStream) -> None:
        try:
            # A TCP listener's streams: the peer is an IP socket address, never a UNIX path.
            addr = cast("anyio.abc.IPSockAddrType", stream.extra(anyio.abc.SocketAttribute.remote_address))
            host, port = addr[:2]
            remote = f"{host}:{port}"
        except Exception:
            remote = "?"
        channel = Channel(stream, self._handler, remote_addr=remote, max_frame_size=self._max_frame_size)
        self.channels.add(channel)
        if self._on_connect:
            self._on_connect(channel)
        try:
            await channel.run()
        finally:
            self.channels.discard(channel)
            if self._on_close:
                try:
                    self._on_close(channel)
                except Exception:
                    log.exception("remoting_on_close_failed", remote=remote)

    async def aclose(self) -> None:
        if self._asyncio_server is not None:
            self._asyncio_server.close()
        for channel in list(self.channels):
            await channel.close()
        if self._listener is not None:
            await self._listener.aclose()
