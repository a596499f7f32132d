"""One TCP connection carrying RemotingCommands in both directions.

Requests from the peer go to a handler; a handler may answer at once (a plain
function returning the response, run inline so a store put pays no task
switch) or be a coroutine (long-polling pulls, thread-offloaded sync flushes),
run as its own task so one slow request never blocks the connection.
Responses to our own requests are matched by ``opaque`` (reference section 1).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Union

import anyio
import anyio.abc
import structlog

from rmqcore.remoting import FrameDecoder, FrameError, RemotingCommand, encode_command

log = structlog.get_logger(__name__)

HandlerResult = Union[RemotingCommand, None, Awaitable[Union[RemotingCommand, None]]]
Handler = Callable[["Channel", RemotingCommand], HandlerResult]

_RECEIVE_SIZE = 256 * 1024


class ChannelClosed(ConnectionError):
    """The connection closed while a request was waiting for its response."""


class RequestTimeout(TimeoutError):
    """No response arrived within the request's timeout."""


class _Pending:
    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.response: RemotingCommand | None = None


class Channel:
    """A remoting connection; ``run()`` reads until the peer or ``close()`` ends it."""

    _opaque_source = itertools.count(1)

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        handler: Handler | None = None,
        *,
        remote_addr: str = "",
        max_frame_size: int = 16 * 1024 * 1024,
    ) -> None:
        self._stream = stream
        self._handler = handler
        self._decoder = FrameDecoder(max_frame_size=max_frame_size)
        self._pending: dict[int, _Pending] = {}
        self._send_lock = anyio.Lock()
        self._task_group: anyio.abc.TaskGroup | None = None
        self.remote_addr = remote_addr
        self.closed = False
        self.closed_event = anyio.Event()
        # Free-form per-connection state for the owner (client id, groups ...).
        self.attributes: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Channel({self.remote_addr!r}, closed={self.closed})"

    # -- reading --------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                try:
                    await self._read_loop()
                finally:
                    tg.cancel_scope.cancel()
        finally:
            await self._shutdown()

    async def _read_loop(self) -> None:
        receive = self._stream.receive
        decoder = self._decoder
        while True:
            try:
                data = await receive(_RECEIVE_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return
            commands, broken = decode_frames(decoder, data)
            await self._handle_commands(commands)
            if broken is not None:
                log.warning("remoting_frame_rejected", remote=self.remote_addr, error=str(broken), action="closing connection")
                return

    async def _handle_commands(self, commands: list[RemotingCommand]) -> None:
        for cmd in commands:
            if cmd.is_response:
                pending = self._pending.pop(cmd.opaque, None)
                if pending is None:
                    log.debug("remoting_response_unmatched", remote=self.remote_addr, opaque=cmd.opaque)
                    continue
                pending.response = cmd
                pending.event.set()
            elif self._handler is not None:
                await self._dispatch(cmd)

    async def _dispatch(self, cmd: RemotingCommand) -> None:
        assert self._handler is not None
        try:
            result = self._handler(self, cmd)
        except Exception:
            log.exception("remoting_handler_failed", remote=self.remote_addr, code=cmd.code)
            result = _system_error(cmd)
        if inspect.isawaitable(result):
            assert self._task_group is not None
            self._task_group.start_soon(self._finish, cmd, result)
        elif result is not None and not cmd.is_oneway:
            try:
                await self._send_data(encode_response(cmd, result, self.remote_addr))
            except ChannelClosed:
                pass  # the peer went away; the read loop sees the end of the stream next

    async def _finish(self, cmd: RemotingCommand, pending: Awaitable[RemotingCommand | None]) -> None:
        try:
            response = await pending
        except Exception:
            log.exception("remoting_handler_failed", remote=self.remote_addr, code=cmd.code)
            response = _system_error(cmd)
        if response is not None and not cmd.is_oneway:
            try:
                await self._send_data(encode_response(cmd, response, self.remote_addr))
            except ChannelClosed:
                pass

    # -- writing --------------------------------------------------------------------------
    async def send(self, cmd: RemotingCommand) -> None:
        await self._send_data(encode_command(cmd))

    async def _send_data(self, data: bytes) -> None:
        if self.closed:
            raise ChannelClosed(f"connection to {self.remote_addr} is closed")
        try:
            async with self._send_lock:
                await self._stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            await self.close()
            raise ChannelClosed(f"connection to {self.remote_addr} dropped: {exc}") from exc

    async def request(self, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` and wait for its response; fails fast if the connection drops."""
        if self.closed:
            raise ChannelClosed(f"connection to {self.remote_addr} is closed")
        cmd.opaque = next(self._opaque_source) & 0x7FFFFFFF
        pending = _Pending()
        self._pending[cmd.opaque] = pending
        try:
            await self.send(cmd)
            with anyio.move_on_after(timeout):
                await pending.event.wait()
        finally:
            self._pending.pop(cmd.opaque, None)
        if pending.response is None:
            if self.closed:
                raise ChannelClosed(f"connection to {self.remote_addr} closed before the response to code {cmd.code}")
            raise RequestTimeout(f"no response from {self.remote_addr} to code {cmd.code} within {timeout:.3f}s")
        return pending.response

    async def oneway(self, cmd: RemotingCommand) -> None:
        cmd.opaque = next(self._opaque_source) & 0x7FFFFFFF
        cmd.mark_oneway()
        await self.send(cmd)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            try:
                await self._stream.aclose()
            except Exception:
                pass
        self._fail_pending()

    async def _shutdown(self) -> None:
        await self.close()
        self.closed_event.set()

    def _fail_pending(self) -> None:
        for pending in self._pending.values():
            pending.event.set()
        self._pending.clear()


def decode_frames(decoder: FrameDecoder, data: bytes) -> tuple[list[RemotingCommand], FrameError | None]:
    """The commands ``data`` completes, and the frame error that broke the stream after them, if any."""
    try:
        return decoder.feed(data), None
    except FrameError as exc:
        # Frames completed before the bad one in the same read are still answered.
        return getattr(exc, "decoded_before", []), exc


def encode_response(request: RemotingCommand, response: RemotingCommand, remote: str = "?") -> bytes:
    """The response's frame; one that cannot be encoded (say, a remark echoing a huge field
    past the 24-bit header length) is replaced by a short SYSTEM_ERROR answer."""
    try:
        return encode_command(response)
    except Exception as exc:
        log.exception("remoting_response_unencodable", remote=remote, code=request.code, response_code=response.code)
        from rmqcore.remoting import ResponseCode, make_response

        return encode_command(
            make_response(request, ResponseCode.SYSTEM_ERROR, remark=f"the response could not be encoded: {type(exc).__name__}")
        )


def _system_error(cmd: RemotingCommand) -> RemotingCommand:
    from rmqcore.remoting import ResponseCode, make_response

    return make_response(cmd, ResponseCode.SYSTEM_ERROR, remark="internal error while handling the request; see broker log")
