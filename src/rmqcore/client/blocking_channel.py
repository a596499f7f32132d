"""Request and response over a plain blocking socket, for the synchronous facade's sends.

A synchronous ``send`` handed to the facade's event-loop thread pays two cross-thread
wake-ups (the loop's self-pipe one way, a condition variable the other), about half of a
loopback round trip here. Like redis-py, the calling thread instead writes its request and
reads the answer on a connection of its own. The remoting codec is sans-IO, so the frames
are the ones the event-loop transport writes and reads (``encode_command``, ``FrameDecoder``).

* :class:`BlockingChannel`: one connection, one request in flight. A request that times
  out, or whose connection fails, closes the connection (a late answer must not be read as
  the next request's) and raises :class:`RemotingTimeoutError` / :class:`RemotingConnectError`,
  the errors the event-loop transport raises, so the producer's retry rules apply unchanged.
* :class:`BlockingChannels`: one such connection per broker address per calling thread.

Brokers start requests (CHECK_TRANSACTION_STATE, NOTIFY_CONSUMER_IDS_CHANGED) only on the
connections a client's heartbeats come from, which stay on the event loop. A request that
arrives here anyway is answered REQUEST_CODE_NOT_SUPPORTED, so its sender does not wait.
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
import weakref

import structlog

from rmqcore.client.errors import RemotingConnectError, RemotingTimeoutError
from rmqcore.client.remoting_client import DEFAULT_CONNECT_TIMEOUT, split_addr
from rmqcore.remoting import FrameDecoder, FrameError, RemotingCommand, ResponseCode, encode_command, make_response

log = structlog.get_logger(__name__)

# Under glibc's mmap threshold (128 KiB by default): a larger read buffer can be an
# mmap, mremap and munmap per read, three system calls a request.
_RECV_SIZE = 64 * 1024
_TIMEVAL = struct.Struct("@ll")  # struct timeval on Linux: tv_sec, tv_usec (longs)


class BlockingChannel:
    """One blocking connection to ``addr``; :meth:`request` sends and reads the answer.

    Not for concurrent use: each thread keeps its own (see :class:`BlockingChannels`).
    """

    __slots__ = ("addr", "_sock", "_decoder", "_opaques", "_close_socket", "_wait", "__weakref__")

    def __init__(self, addr: str, sock: socket.socket) -> None:
        self.addr = addr
        # Blocking mode, with the wait bounded in the kernel (SO_RCVTIMEO/SO_SNDTIMEO, set only
        # when the timeout changes). A Python socket timeout instead costs four more system
        # calls a request: a poll before the send and before each read, and an fcntl per
        # settimeout, ~5-10 us of a ~150 us round trip on these machines.
        sock.settimeout(None)
        self._sock: socket.socket | None = sock
        self._wait = 0.0  # what SO_RCVTIMEO/SO_SNDTIMEO are set to; 0 = never set
        self._decoder = FrameDecoder()
        self._opaques = itertools.count(1)
        # A channel dropped with its thread still closes its socket.
        self._close_socket = weakref.finalize(self, sock.close)

    def _bound_waits(self, sock: socket.socket, seconds: float) -> None:
        sec = int(seconds)
        usec = max(int((seconds - sec) * 1_000_000), 0 if sec else 1)  # 0 s 0 us would mean "forever"
        timeval = _TIMEVAL.pack(sec, usec)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        self._wait = seconds

    @classmethod
    def connect(cls, addr: str, timeout: float) -> BlockingChannel:
        try:
            host, port = split_addr(addr)
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise RemotingConnectError(f"connect to {addr} timed out after {timeout:.3f}s", addr) from exc
        except (OSError, ValueError, OverflowError) as exc:
            raise RemotingConnectError(f"connect to {addr} failed: {exc or type(exc).__name__}", addr) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.debug("remoting_blocking_connected", addr=addr)
        return cls(addr, sock)

    @property
    def closed(self) -> bool:
        return self._sock is None

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a recv another thread is blocked in
            except OSError:
                pass
        self._close_socket()

    def request(self, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` and return its response (any code; the caller judges it)."""
        sock = self._sock
        if sock is None:
            raise RemotingConnectError(f"connection to {self.addr} is closed", self.addr)
        opaque = cmd.opaque = next(self._opaques) & 0x7FFFFFFF
        deadline = time.monotonic() + timeout
        try:
            # Callers pass what is left of a send's time, a little less each time: the kernel
            # wait is reset only when it is far off, and a read never gives up before the
            # deadline (a wait that runs out early is renewed), nor more than a tenth after it.
            if not timeout * 0.5 <= self._wait <= timeout * 1.1:
                self._bound_waits(sock, timeout)
            sock.sendall(encode_command(cmd))
            while True:
                try:
                    data = sock.recv(_RECV_SIZE)
                except BlockingIOError:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError from None
                    self._bound_waits(sock, remaining)
                    continue
                if not data:
                    raise ConnectionResetError("closed by the peer")
                for got in self._decoder.feed(data):
                    if not got.is_response:
                        self._refuse(sock, got)
                    elif got.opaque == opaque:
                        return got
                    else:
                        log.debug("remoting_response_unmatched", remote=self.addr, opaque=got.opaque)
                # Part of an answer: the next read may only wait for what is left.
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                if remaining < self._wait * 0.9:
                    self._bound_waits(sock, remaining)
        except (TimeoutError, BlockingIOError) as exc:  # BlockingIOError: the send's kernel wait ran out
            self.close()
            raise RemotingTimeoutError(f"no response from {self.addr} to code {cmd.code} within {timeout:.3f}s", self.addr) from exc
        except (OSError, FrameError) as exc:
            self.close()
            raise RemotingConnectError(f"connection to {self.addr} failed: {exc or type(exc).__name__}", self.addr) from exc

    def oneway(self, cmd: RemotingCommand, timeout: float) -> None:
        """Write ``cmd`` flagged one-way; nothing is read (the peer answers nothing)."""
        sock = self._sock
        if sock is None:
            raise RemotingConnectError(f"connection to {self.addr} is closed", self.addr)
        cmd.opaque = next(self._opaques) & 0x7FFFFFFF
        cmd.mark_oneway()
        try:
            if not timeout * 0.5 <= self._wait <= timeout * 1.1:
                self._bound_waits(sock, timeout)
            sock.sendall(encode_command(cmd))
        except (TimeoutError, BlockingIOError) as exc:
            self.close()
            raise RemotingTimeoutError(f"writing code {cmd.code} to {self.addr} took over {timeout:.3f}s", self.addr) from exc
        except OSError as exc:
            self.close()
            raise RemotingConnectError(f"connection to {self.addr} failed: {exc or type(exc).__name__}", self.addr) from exc

    def _refuse(self, sock: socket.socket, cmd: RemotingCommand) -> None:
        log.warning("remoting_request_on_blocking_channel", addr=self.addr, code=cmd.code)
        if not cmd.is_oneway:
            remark = f"request code {cmd.code} not supported on this connection"
            sock.sendall(encode_command(make_response(cmd, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, remark=remark)))


class BlockingChannels:
    """A :class:`BlockingChannel` per (calling thread, address), made on first use.

    :meth:`close` closes every channel of every thread; later calls raise
    :class:`RemotingConnectError`.
    """

    def __init__(self, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._every: weakref.WeakSet[BlockingChannel] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False

    def invoke(self, addr: str, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` to ``addr`` on this thread's connection and return the answer."""
        channel, timeout = self._channel(addr, timeout)
        return channel.request(cmd, timeout)

    def invoke_oneway(self, addr: str, cmd: RemotingCommand, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        """Write ``cmd`` one-way to ``addr`` on this thread's connection."""
        channel, timeout = self._channel(addr, timeout)
        channel.oneway(cmd, timeout)

    def _channel(self, addr: str, timeout: float) -> tuple[BlockingChannel, float]:
        """This thread's open connection to ``addr`` (made now if needed) and the time left."""
        by_addr: dict[str, BlockingChannel] | None = getattr(self._local, "by_addr", None)
        if by_addr is None:
            by_addr = self._local.by_addr = {}
        channel = by_addr.get(addr)
        if channel is None or channel.closed:
            deadline = time.monotonic() + timeout
            channel = by_addr[addr] = self._connect(addr, min(timeout, self.connect_timeout))
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise RemotingTimeoutError(f"connecting to {addr} used up the request's timeout", addr)
        return channel, timeout

    def _connect(self, addr: str, timeout: float) -> BlockingChannel:
        if self._closed:
            raise RemotingConnectError(f"the client is shut down; cannot connect to {addr}", addr)
        channel = BlockingChannel.connect(addr, timeout)
        with self._lock:
            if self._closed:
                channel.close()
                raise RemotingConnectError(f"the client is shut down; cannot connect to {addr}", addr)
            self._every.add(channel)
        return channel

    @property
    def open_count(self) -> int:
        """Connections currently open, over all threads."""
        with self._lock:
            return sum(1 for channel in self._every if not channel.closed)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels = list(self._every)
        for channel in channels:
            channel.close()
