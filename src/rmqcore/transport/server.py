"""A TCP listener that gives each accepted connection a :class:`Channel`."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.abc
import structlog

from rmqcore.transport.channel import Channel, Handler

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
        on_connect: Callable[[Channel], None] | None = None,
        on_close: Callable[[Channel], None] | None = None,
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._max_frame_size = max_frame_size
        self._on_connect = on_connect
        self._on_close = on_close
        self.channels: set[Channel] = set()
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port, reuse_port=False)
        self._listener = listener
        sock = listener.listeners[0].extra(anyio.abc.SocketAttribute.raw_socket)
        self.port = sock.getsockname()[1]
        task_status.started(self.port)
        async with listener:
            await listener.serve(self._serve_connection)

    async def _serve_connection(self, stream: anyio.abc.SocketStream) -> None:
        try:
            host, port = stream.extra(anyio.abc.SocketAttribute.remote_address)[:2]
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
        for channel in list(self.channels):
            await channel.close()
        if self._listener is not None:
            await self._listener.aclose()
