"""A Channel built directly on ``asyncio.Protocol``, for both ends when anyio runs on asyncio.

Same interface as :class:`~rmqcore.transport.channel.Channel` (``send``, ``request``,
``oneway``, ``close``, ``run``, ``attributes``, ``remote_addr``, ``closed``,
``closed_event``), but nothing runs per read except ``data_received``: frames are decoded
there, a response resolves its request's future there, and a plain handler's answer is
written there. An anyio stream costs about 55-100 us more per round trip on loopback (two
epoll_ctl calls per receive, cancel scopes and shielded checkpoints per send, a task switch
per read), which is most of a send's latency budget. Coroutine handlers (long-polling
pulls, thread-offloaded puts, a client's transaction checks) run as tasks of their own;
they are cancelled when the connection closes.

A request is a plain ``asyncio.Future`` keyed by ``opaque``; its timeout is a deadline
kept beside it, and one loop timer per connection, armed for the earliest deadline,
resolves the overdue ones (like RocketMQ's scan of its response table, but on time): a
timer per request cost 2-3 us to create and cancel, more than the rest of the request's
bookkeeping. Awaiting the future from an anyio task is safe: when anyio cancels the task,
the ``finally`` in :meth:`ProtocolChannel.request` removes the pending entry.

Flow control: when the transport's write buffer passes its high-water mark
(``pause_writing``), writers wait until it drains (``resume_writing``) before they write
again, so a producer of large batches cannot grow memory without bound. A server-side
channel (``pause_reading_while_backed_up=True``) also stops reading, so a client that
sends without reading its responses cannot grow the broker's buffers. A client must keep
reading in that state: if both ends stopped reading while their write buffers were full,
neither buffer would ever drain.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import structlog

from rmqcore.remoting import ONEWAY_FLAG as _ONEWAY_FLAG
from rmqcore.remoting import RESPONSE_FLAG as _RESPONSE_FLAG
from rmqcore.remoting import FrameDecoder, FrameError, RemotingCommand, SerializeType, encode_command
from rmqcore.remoting.json_header import decode_common_json_header, encode_json_header
from rmqcore.transport.channel import ChannelClosed, Handler, RequestTimeout, _system_error, encode_response

log = structlog.get_logger(__name__)

CLOSE_FLUSH_TIMEOUT_S = 2.0
DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024

_JSON = SerializeType.JSON
# length | serializeType(1) headerLen(3): a JSON header's type byte is 0, so the second
# word is the header length itself.
_pack_prefix = struct.Struct(">iI").pack
_unpack_prefix = struct.Struct(">iI").unpack_from
_MAX_HEADER_LEN = 0xFFFFFF


def _common_frames(data: bytes, max_frame_size: int) -> tuple[list[RemotingCommand], int]:
    """The complete JSON-header frames at the start of ``data`` whose headers have the common
    shape (:func:`~rmqcore.remoting.json_header.decode_common_json_header`), and the bytes
    they take. Parsing stops at the first frame that is incomplete, too large, binary or
    unusual; the caller hands the rest to the FrameDecoder, which answers it exactly as
    before (the same commands, or the same FrameError)."""
    commands: list[RemotingCommand] = []
    pos = 0
    total = len(data)
    while total - pos >= 8:
        length, header_len = _unpack_prefix(data, pos)
        end = pos + 4 + length
        # header_len is the whole second word: above 0xFFFFFF means a non-JSON type byte.
        if header_len > length - 4 or header_len > _MAX_HEADER_LEN or end > total or length + 4 > max_frame_size:
            break
        header_end = pos + 8 + header_len
        cmd = decode_common_json_header(data[pos + 8 : header_end])
        if cmd is None:
            break
        if header_end < end:
            cmd.body = data[header_end:end]
        commands.append(cmd)
        pos = end
    return commands, pos


def _resolve_without_response(future: asyncio.Future[RemotingCommand | None]) -> None:
    """A request's timer fired, or its connection ended: the request sees None and says which.

    A result rather than an exception, so that a future nobody awaits any more (its task was
    cancelled first) never logs "exception was never retrieved".
    """
    if not future.done():
        future.set_result(None)


class ProtocolChannel(asyncio.Protocol):
    """One remoting connection on the asyncio backend (accepted or opened by :func:`connect_channel`)."""

    _opaque_source = itertools.count(1)

    def __init__(
        self,
        handler: Handler | None,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        remote_addr: str = "",
        pause_reading_while_backed_up: bool = False,
        on_open: Callable[[ProtocolChannel], None] | None = None,
        on_lost: Callable[[ProtocolChannel], None] | None = None,
    ) -> None:
        self._handler = handler
        self._decoder = FrameDecoder(max_frame_size=max_frame_size)
        self._pause_reading_while_backed_up = pause_reading_while_backed_up
        self._on_open = on_open
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, asyncio.Future[RemotingCommand | None]] = {}
        self._deadlines: dict[int, float] = {}  # opaque -> loop time its request gives up
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._deadline_timer_at = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._write_paused = False
        # One future per writer waiting for the buffer to drain (a shared one would be
        # cancelled for everybody when anyio cancels one of the waiting tasks); a dict keeps
        # them in arrival order, so writers go on first come, first served.
        self._drain_waiters: dict[asyncio.Future[None], None] = {}
        self.remote_addr = remote_addr or "?"
        self.closed = False
        # asyncio.Event: the protocol factory runs outside any task, where anyio cannot make one.
        self.closed_event = asyncio.Event()
        # Free-form per-connection state for the owner (client id, groups ...).
        self.attributes: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"ProtocolChannel({self.remote_addr!r}, closed={self.closed})"

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: uvloop's transports do not subclass asyncio.Transport.
        self._transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()
        if self.remote_addr == "?":
            peer = transport.get_extra_info("peername")
            if peer:
                self.remote_addr = f"{peer[0]}:{peer[1]}"
        if self._on_open is not None:
            self._on_open(self)

    def data_received(self, data: bytes) -> None:
        # Every frame this read completes is handled here, in arrival order. Whole frames
        # with a common JSON header are read straight from ``data`` when nothing is
        # buffered; the FrameDecoder takes whatever is left (a partial frame, anything else).
        decoder = self._decoder
        commands: list[RemotingCommand] = []
        rest: bytes = data
        if data.__class__ is bytes and not self.closed and not decoder.buffered:
            commands, used = _common_frames(data, decoder.max_frame_size)
            if used:
                rest = data[used:]
        broken = None
        if rest:
            try:
                decoded = decoder.feed(rest)
            except FrameError as exc:
                # Frames completed before the bad one in the same read are still answered.
                decoded = getattr(exc, "decoded_before", [])
                broken = exc
            if commands:
                commands.extend(decoded)
            else:
                commands = decoded
        for cmd in commands:
            if cmd.flag & _RESPONSE_FLAG:
                future = self._pending.pop(cmd.opaque, None)
                if future is None:
                    log.debug("remoting_response_unmatched", remote=self.remote_addr, opaque=cmd.opaque)
                elif not future.done():  # done: its request was cancelled a moment ago
                    future.set_result(cmd)
            elif self._handler is not None:
                self._dispatch(cmd)
        if broken is not None:
            log.warning("remoting_frame_rejected", remote=self.remote_addr, error=str(broken), action="closing connection")
            self._abort()

    def _dispatch(self, cmd: RemotingCommand) -> None:
        try:
            result = self._handler(self, cmd)  # type: ignore[misc, arg-type]
        except Exception:
            log.exception("remoting_handler_failed", remote=self.remote_addr, code=cmd.code)
            result = _system_error(cmd)
        if result is None:
            return
        if result.__class__ is RemotingCommand:  # the common, synchronous answer
            if not cmd.flag & _ONEWAY_FLAG:
                self._write_response(cmd, result)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._finish(cmd, result))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif not cmd.is_oneway:
            self._write_response(cmd, result)

    def _write_response(self, request: RemotingCommand, response: RemotingCommand) -> None:
        """Encode and write ``response`` in one transport call; a body is not copied into the frame."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if response.serialize_type is _JSON:
            try:
                header = encode_json_header(response)
            except Exception:
                header = None  # encode_response logs it and answers SYSTEM_ERROR instead
            if header is not None and len(header) <= _MAX_HEADER_LEN:
                body = response.body
                if body:
                    transport.writelines((_pack_prefix(4 + len(header) + len(body), len(header)) + header, body))
                else:
                    transport.write(_pack_prefix(4 + len(header), len(header)) + header)
                return
        transport.write(encode_response(request, response, self.remote_addr))

    async def _finish(self, cmd: RemotingCommand, pending: Awaitable[RemotingCommand | None]) -> None:
        try:
            response = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("remoting_handler_failed", remote=self.remote_addr, code=cmd.code)
            response = _system_error(cmd)
        if response is not None and not cmd.is_oneway and not self.closed:
            self._write_response(cmd, response)

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._pause_reading_while_backed_up and self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain_waiters()
        if self._pause_reading_while_backed_up and self._transport is not None and not self.closed:
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._mark_closed()
        for task in list(self._tasks):
            task.cancel()
        self.closed_event.set()
        if self._on_lost is None:
            return
        try:
            self._on_lost(self)
        except Exception:
            log.exception("remoting_on_close_failed", remote=self.remote_addr)

    async def run(self) -> None:
        """Returns when the connection closes (``Channel.run`` compatibility: reading needs no task)."""
        await self.closed_event.wait()

    # -- writing (the Channel interface) ---------------------------------------------------------
    def _abort(self) -> None:
        self._mark_closed()
        if self._transport is not None:
            self._transport.close()

    def _mark_closed(self) -> None:
        """Closed from here on: in-flight requests and waiting writers fail now, not at their timeouts."""
        self.closed = True
        self._wake_drain_waiters()  # they see the closed flag and raise ChannelClosed
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        self._deadlines.clear()
        if self._pending:
            pending, self._pending = self._pending, {}
            for future in pending.values():
                _resolve_without_response(future)

    def _arm_deadline_timer(self, at: float) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
        assert self._loop is not None
        self._deadline_timer_at = at
        self._deadline_timer = self._loop.call_at(at, self._expire_overdue_requests)

    def _expire_overdue_requests(self) -> None:
        """The earliest deadline passed: resolve every overdue request, re-arm for the next one."""
        self._deadline_timer = None
        assert self._loop is not None
        # a loop may run a timer a clock tick early; a millisecond of slack keeps it from re-arming at once
        now = self._loop.time() + 0.001
        deadlines, pending = self._deadlines, self._pending
        earliest = None
        for opaque, deadline in list(deadlines.items()):
            if deadline <= now:
                del deadlines[opaque]
                future = pending.get(opaque)
                if future is not None:
                    _resolve_without_response(future)
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None:
            self._arm_deadline_timer(earliest)

    def _wake_drain_waiters(self) -> None:
        if self._drain_waiters:
            waiters, self._drain_waiters = self._drain_waiters, {}
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _writable_transport(self) -> asyncio.Transport:
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            raise ChannelClosed(f"connection to {self.remote_addr} is closed")
        return transport

    async def _wait_until_drained(self) -> None:
        """Blocks while the write buffer is over its high-water mark (pause_writing .. resume_writing)."""
        assert self._loop is not None
        while self._write_paused and not self.closed:
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._drain_waiters[waiter] = None
            try:
                await waiter
            finally:
                self._drain_waiters.pop(waiter, None)

    async def send(self, cmd: RemotingCommand) -> None:
        if self._write_paused:
            await self._wait_until_drained()
        self._writable_transport().write(encode_command(cmd))

    async def request(self, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` and wait for its response; fails fast if the connection drops."""
        transport = self._writable_transport()
        loop = self._loop
        assert loop is not None
        opaque = cmd.opaque = next(self._opaque_source) & 0x7FFFFFFF
        future: asyncio.Future[RemotingCommand | None] = loop.create_future()
        pending = self._pending
        pending[opaque] = future
        deadlines = self._deadlines
        deadline = deadlines[opaque] = loop.time() + timeout
        if self._deadline_timer is None or deadline < self._deadline_timer_at:
            self._arm_deadline_timer(deadline)
        try:
            if self._write_paused:
                await self._wait_until_drained()
                transport = self._writable_transport()
            transport.write(encode_command(cmd))
            response = await future
        finally:
            # Also on cancellation (anyio cancels the awaiting task): no entry is left behind.
            # The connection's timer stays armed; it re-arms for whatever is still pending.
            deadlines.pop(opaque, None)
            if pending.get(opaque) is future:
                del pending[opaque]
        if response is None:
            if self.closed:
                raise ChannelClosed(f"connection to {self.remote_addr} closed before the response to code {cmd.code}")
            raise RequestTimeout(f"no response from {self.remote_addr} to code {cmd.code} within {timeout:.3f}s")
        return response

    async def oneway(self, cmd: RemotingCommand) -> None:
        cmd.opaque = next(self._opaque_source) & 0x7FFFFFFF
        cmd.mark_oneway()
        await self.send(cmd)

    async def close(self) -> None:
        transport = self._transport
        self._mark_closed()
        if transport is None:
            return
        if not transport.is_closing():
            transport.close()
        if not self.closed_event.is_set():
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(CLOSE_FLUSH_TIMEOUT_S):
                    await self.closed_event.wait()
                if not self.closed_event.is_set():
                    transport.abort()  # the peer does not read what is left to flush


async def connect_channel(
    host: str,
    port: int,
    handler: Handler | None = None,
    *,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    remote_addr: str = "",
    on_lost: Callable[[ProtocolChannel], None] | None = None,
) -> ProtocolChannel:
    """Open a client connection as a ProtocolChannel (asyncio backend only).

    The client end keeps reading while its writes are backed up (see the module docstring).
    """
    loop = asyncio.get_running_loop()
    _, channel = await loop.create_connection(
        lambda: ProtocolChannel(handler, max_frame_size=max_frame_size, remote_addr=remote_addr, on_lost=on_lost),
        host,
        port,
    )
    return channel
