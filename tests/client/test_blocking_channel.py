"""The synchronous facade's blocking request path against in-test peers (plain sockets in a
thread, frames from the sans-IO codec), including the ways a peer can fail."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from rmqcore.client.blocking_channel import BlockingChannel, BlockingChannels
from rmqcore.client.errors import RemotingConnectError, RemotingTimeoutError
from rmqcore.remoting import FrameDecoder, RemotingCommand, ResponseCode, encode_command, make_response

WAIT_S = 10.0

# What the peer does with each request it reads: returns the bytes to write back (b"" = nothing).
Behaviour = Callable[[socket.socket, RemotingCommand], bytes]


class Peer:
    """A one-connection-at-a-time remoting peer on 127.0.0.1, served from a thread."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[RemotingCommand] = []
        self.answers_to_peer_requests: list[RemotingCommand] = []
        self.connections = 0
        self.got_request = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        decoder = FrameDecoder()
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                for cmd in decoder.feed(data):
                    if cmd.is_response:
                        self.answers_to_peer_requests.append(cmd)
                        continue
                    self.requests.append(cmd)
                    self.got_request.set()
                    out = self.behaviour(conn, cmd)
                    if out:
                        conn.sendall(out)

    def close(self) -> None:
        self.listener.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def peer_factory() -> Iterator[Callable[[Behaviour], Peer]]:
    peers: list[Peer] = []

    def make(behaviour: Behaviour) -> Peer:
        peers.append(Peer(behaviour))
        return peers[-1]

    yield make
    for peer in peers:
        peer.close()


def answer(code: int = 0, **ext: str) -> Behaviour:
    return lambda conn, cmd: encode_command(make_response(cmd, code, ext=ext))


def request(code: int = 310) -> RemotingCommand:
    return RemotingCommand(code, ext_fields={"b": "T"}, body=b"payload")


def test_round_trip_matches_the_answer_by_opaque(peer_factory: Callable[[Behaviour], Peer]) -> None:
    def stale_then_real(conn: socket.socket, cmd: RemotingCommand) -> bytes:
        stale = make_response(RemotingCommand(0, opaque=cmd.opaque + 1000), 1, remark="stale")
        return encode_command(stale) + encode_command(make_response(cmd, 0, ext={"queueId": "3"}))

    peer = peer_factory(stale_then_real)
    channel = BlockingChannel.connect(peer.addr, WAIT_S)
    for _ in range(3):
        response = channel.request(request(), WAIT_S)
        assert response.code == 0 and response.ext_fields == {"queueId": "3"}
    assert [c.body for c in peer.requests] == [b"payload"] * 3
    assert len({c.opaque for c in peer.requests}) == 3
    channel.close()
    assert channel.closed


def test_a_request_from_the_peer_is_refused_and_the_answer_still_read(peer_factory: Callable[[Behaviour], Peer]) -> None:
    def asks_first(conn: socket.socket, cmd: RemotingCommand) -> bytes:
        check = RemotingCommand(39, opaque=77, ext_fields={"x": "1"})  # CHECK_TRANSACTION_STATE
        return encode_command(check) + encode_command(make_response(cmd, 0))

    peer = peer_factory(asks_first)
    channel = BlockingChannel.connect(peer.addr, WAIT_S)
    assert channel.request(request(), WAIT_S).code == 0
    # The refusal reaches the peer before the next request does (one connection, in order).
    assert channel.request(request(), WAIT_S).code == 0
    refused = peer.answers_to_peer_requests[0]
    assert refused.opaque == 77 and refused.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
    channel.close()


def test_no_answer_times_out_and_closes_the_connection(peer_factory: Callable[[Behaviour], Peer]) -> None:
    peer = peer_factory(lambda conn, cmd: b"")
    channel = BlockingChannel.connect(peer.addr, WAIT_S)
    with pytest.raises(RemotingTimeoutError, match="within 0.200s"):
        channel.request(request(), 0.2)
    assert channel.closed
    with pytest.raises(RemotingConnectError, match="closed"):
        channel.request(request(), WAIT_S)


def test_an_answer_that_trickles_in_still_times_out_on_time(peer_factory: Callable[[Behaviour], Peer]) -> None:
    """Each read returns some bytes well within the timeout, but the answer as a whole does
    not come within it: the request's deadline, not each read's, decides."""
    stop = threading.Event()

    def trickle(conn: socket.socket, cmd: RemotingCommand) -> bytes:
        frame = encode_command(make_response(cmd, 0, ext={"pad": "x" * 200}))
        for i in range(len(frame)):  # byte by byte: the whole answer takes seconds
            if stop.wait(0.02):
                break
            conn.sendall(frame[i : i + 1])
        return b""

    peer = peer_factory(trickle)
    channel = BlockingChannel.connect(peer.addr, WAIT_S)
    try:
        with pytest.raises(RemotingTimeoutError, match="within 0.300s"):
            channel.request(request(), 0.3)
    finally:
        stop.set()
    assert channel.closed


def test_timeouts_change_from_request_to_request(peer_factory: Callable[[Behaviour], Peer]) -> None:
    answers = iter([b"", None])  # no answer to the first request, then answers

    def behaviour(conn: socket.socket, cmd: RemotingCommand) -> bytes:
        planned = next(answers, None)
        return planned if planned is not None else encode_command(make_response(cmd, 0))

    peer = peer_factory(behaviour)
    channels = BlockingChannels()
    with pytest.raises(RemotingTimeoutError):
        channels.invoke(peer.addr, request(), 0.1)
    # a new connection, a longer timeout, and several requests with varying ones
    for timeout in (WAIT_S, 2.5, WAIT_S, 0.75):
        assert channels.invoke(peer.addr, request(), timeout).code == ResponseCode.SUCCESS
    channels.close()


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(lambda conn, cmd: conn.shutdown(socket.SHUT_RDWR) or b"", id="peer-closes"),
        pytest.param(lambda conn, cmd: b"\x7f\xff\xff\xff\x00\x00\x00\x10", id="oversized-frame"),
        pytest.param(lambda conn, cmd: b"\x00\x00\x00\x10\x00\x00\x00\x40" + b"x" * 12, id="header-past-frame"),
    ],
)
def test_a_broken_connection_is_a_typed_connect_error(peer_factory: Callable[[Behaviour], Peer], behaviour: Behaviour) -> None:
    peer = peer_factory(behaviour)
    channel = BlockingChannel.connect(peer.addr, WAIT_S)
    with pytest.raises(RemotingConnectError, match=peer.addr):
        channel.request(request(), WAIT_S)
    assert channel.closed


def test_connect_refused_is_a_typed_connect_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(RemotingConnectError, match=f"127.0.0.1:{port}"):
        BlockingChannel.connect(f"127.0.0.1:{port}", WAIT_S)


def test_channels_are_per_thread_and_reconnect_after_a_failure(peer_factory: Callable[[Behaviour], Peer]) -> None:
    peer = peer_factory(answer(0))
    channels = BlockingChannels()
    assert channels.invoke(peer.addr, request(), WAIT_S).code == 0
    assert channels.invoke(peer.addr, request(), WAIT_S).code == 0
    assert peer.connections == 1
    other: list[int] = []
    worker = threading.Thread(target=lambda: other.append(channels.invoke(peer.addr, request(), WAIT_S).code))
    worker.start()
    worker.join(WAIT_S)
    assert other == [0] and peer.connections == 2
    # A timed-out connection is replaced by a new one on the next call.
    peer.behaviour = lambda conn, cmd: b""
    with pytest.raises(RemotingTimeoutError):
        channels.invoke(peer.addr, request(), 0.2)
    peer.behaviour = answer(0)
    assert channels.invoke(peer.addr, request(), WAIT_S).code == 0
    assert peer.connections == 3
    channels.close()
    assert channels.open_count == 0
    with pytest.raises(RemotingConnectError, match="shut down"):
        channels.invoke(peer.addr, request(), WAIT_S)


def test_close_wakes_a_thread_waiting_for_an_answer(peer_factory: Callable[[Behaviour], Peer]) -> None:
    peer = peer_factory(lambda conn, cmd: b"")
    channels = BlockingChannels()
    outcome: list[BaseException] = []
    done = threading.Event()

    def wait_for_answer() -> None:
        try:
            channels.invoke(peer.addr, request(), 60.0)
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)
        done.set()

    threading.Thread(target=wait_for_answer, daemon=True).start()
    assert peer.got_request.wait(WAIT_S)
    channels.close()
    assert done.wait(WAIT_S)
    assert isinstance(outcome[0], RemotingConnectError)


def test_oneway_is_written_flagged_and_leaves_the_connection_usable(peer_factory: Callable[[Behaviour], Peer]) -> None:
    peer = peer_factory(lambda conn, cmd: b"" if cmd.is_oneway else encode_command(make_response(cmd, 0)))
    channels = BlockingChannels()
    channels.invoke_oneway(peer.addr, request())
    channels.invoke_oneway(peer.addr, request())
    assert channels.invoke(peer.addr, request(), WAIT_S).code == 0  # read in order after the one-way frames
    assert [c.is_oneway for c in peer.requests] == [True, True, False]
    assert peer.connections == 1
    channels.close()
