"""ProtocolChannel: request futures, timeouts, cancellation, drops, peer requests, flow control.

Most tests drive the protocol by hand through a recording transport, so every step is
deterministic; the rest run over real loopback sockets against a RemotingServer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio import wait_all_tasks_blocked

from rmqcore.remoting import (
    FrameDecoder,
    RemotingCommand,
    ResponseCode,
    SerializeType,
    encode_command,
    make_request,
    make_response,
)
from rmqcore.transport import ChannelClosed, RequestTimeout
from rmqcore.transport.protocol_channel import ProtocolChannel, connect_channel
from tests.transport.peer import CALL_BACK, ECHO, HANG_UP, SILENT, serving

pytestmark = pytest.mark.anyio

PUSH_ONEWAY = 5


class RecordingTransport(asyncio.Transport):
    """Keeps what the protocol writes; closing reports connection_lost like a real transport."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading = True
        self.protocol: asyncio.Protocol | None = None
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            assert self.protocol is not None
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("10.0.0.1", 10911) if name == "peername" else default

    def take_commands(self) -> list[RemotingCommand]:
        commands = FrameDecoder().feed(bytes(self.written))
        self.written.clear()
        return commands


def connected(channel: ProtocolChannel) -> RecordingTransport:
    transport = RecordingTransport()
    transport.protocol = channel
    channel.connection_made(transport)
    return transport


async def test_response_resolves_the_request_and_clears_its_entry() -> None:
    channel = ProtocolChannel(None)
    transport = connected(channel)
    assert channel.remote_addr == "10.0.0.1:10911"
    result: list[RemotingCommand] = []

    async def ask() -> None:
        result.append(await channel.request(make_request(ECHO), 5.0))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await wait_all_tasks_blocked()
            [sent] = transport.take_commands()
            assert list(channel._pending) == [sent.opaque]
            channel.data_received(encode_command(make_response(sent, 0, remark="pong")))
    assert result[0].remark == "pong"
    assert channel._pending == {}


async def test_timeout_raises_and_removes_the_pending_entry() -> None:
    channel = ProtocolChannel(None)
    transport = connected(channel)
    with anyio.fail_after(5):
        with pytest.raises(RequestTimeout, match="within 0.010s"):
            await channel.request(make_request(SILENT), 0.01)
    assert channel._pending == {}
    # A response arriving after the timeout is dropped; the channel still works.
    [late] = transport.take_commands()
    channel.data_received(encode_command(make_response(late, 0)))
    assert not channel.closed


async def test_one_connection_timer_serves_requests_with_different_timeouts() -> None:
    """A later request with a shorter timeout times out first; a long one outlives it and
    still gets its answer; nothing is left pending or armed afterwards."""
    channel = ProtocolChannel(None)
    transport = connected(channel)
    outcomes: list[str] = []
    short_done = anyio.Event()

    async def ask(name: str, timeout: float) -> None:
        try:
            response = await channel.request(make_request(SILENT), timeout)
            outcomes.append(f"{name} answered {response.remark}")
        except RequestTimeout:
            outcomes.append(f"{name} timed out")
        if name == "short":
            short_done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "long", 30.0)
            await wait_all_tasks_blocked()
            tg.start_soon(ask, "short", 0.02)
            await wait_all_tasks_blocked()
            long_request = transport.take_commands()[0]
            await short_done.wait()
            assert outcomes == ["short timed out"]
            channel.data_received(encode_command(make_response(long_request, 0, remark="late but in time")))
    assert outcomes == ["short timed out", "long answered late but in time"]
    assert channel._pending == {} and channel._deadlines == {}


@pytest.mark.parametrize("answer_before_the_task_resumes", [False, True])
async def test_cancelling_the_waiting_task_removes_the_pending_entry(answer_before_the_task_resumes: bool) -> None:
    channel = ProtocolChannel(None)
    transport = connected(channel)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(channel.request, make_request(SILENT), 30.0)
            await wait_all_tasks_blocked()
            assert len(channel._pending) == 1
            [sent] = transport.take_commands()
            tg.cancel_scope.cancel()
            if answer_before_the_task_resumes:
                # The response meets a future whose task is being cancelled: no InvalidStateError.
                channel.data_received(encode_command(make_response(sent, 0)))
    assert channel._pending == {}
    # The cancelled request's answer may still come later; it is dropped.
    channel.data_received(encode_command(make_response(sent, 0)))
    assert not channel.closed


async def test_connection_loss_fails_every_request_in_flight_at_once() -> None:
    channel = ProtocolChannel(None)
    transport = connected(channel)
    failures: list[BaseException] = []

    async def ask() -> None:
        try:
            await channel.request(make_request(SILENT), 30.0)
        except ChannelClosed as exc:
            failures.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(ask)
            await wait_all_tasks_blocked()
            assert len(channel._pending) == 3
            channel.connection_lost(ConnectionResetError("reset by peer"))
        await channel.closed_event.wait()
    assert len(failures) == 3
    assert channel.closed and channel._pending == {}
    transport.written.clear()
    with pytest.raises(ChannelClosed):
        await channel.request(make_request(ECHO), 1.0)
    with pytest.raises(ChannelClosed):
        await channel.oneway(make_request(ECHO))
    assert not transport.written


async def test_close_fails_requests_in_flight_and_waits_for_the_end() -> None:
    channel = ProtocolChannel(None)
    connected(channel)
    failures: list[BaseException] = []

    async def ask() -> None:
        with pytest.raises(ChannelClosed) as info:
            await channel.request(make_request(SILENT), 30.0)
        failures.append(info.value)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await wait_all_tasks_blocked()
            await channel.close()
    assert failures and channel.closed and channel.closed_event.is_set()


async def test_peer_requests_go_to_the_handler_inline_or_as_a_task() -> None:
    seen: list[int] = []
    release = anyio.Event()

    def handler(channel: Any, cmd: RemotingCommand) -> Any:
        seen.append(cmd.code)
        if cmd.code == ECHO:
            return make_response(cmd, 0, remark="inline")
        if cmd.code == CALL_BACK:
            async def later() -> RemotingCommand:
                await release.wait()
                return make_response(cmd, 0, remark="from a task")
            return later()
        if cmd.code == HANG_UP:
            raise RuntimeError("handler bug")
        return make_response(cmd, 0, remark="never sent for a oneway request")

    channel = ProtocolChannel(handler)
    transport = connected(channel)
    with anyio.fail_after(5):
        channel.data_received(encode_command(make_request(ECHO, opaque=11)))
        [inline] = transport.take_commands()
        assert (inline.is_response, inline.opaque, inline.remark) == (True, 11, "inline")

        channel.data_received(encode_command(make_request(CALL_BACK, opaque=12)))
        assert not transport.written  # the coroutine runs as its own task
        release.set()
        await wait_all_tasks_blocked()
        [later] = transport.take_commands()
        assert (later.opaque, later.remark) == (12, "from a task")

        channel.data_received(encode_command(make_request(HANG_UP, opaque=13)))
        [error] = transport.take_commands()
        assert (error.opaque, error.code) == (13, ResponseCode.SYSTEM_ERROR)

        oneway = make_request(PUSH_ONEWAY, opaque=14)
        oneway.mark_oneway()
        channel.data_received(encode_command(oneway))
        assert not transport.written
    assert seen == [ECHO, CALL_BACK, HANG_UP, PUSH_ONEWAY]


class CountingTransport(RecordingTransport):
    """Also counts the transport calls: each answer should be exactly one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls += 1
        super().write(data)

    def writelines(self, list_of_data: Any) -> None:
        self.calls += 1
        for data in list_of_data:
            super().write(data)


async def test_every_frame_of_a_read_is_answered_in_order_each_in_one_transport_call() -> None:
    answers = {
        1: lambda cmd: make_response(cmd, 0, ext={"queueOffset": "7", "msgId": "AB"}),
        2: lambda cmd: make_response(cmd, 0, ext={"nextBeginOffset": "32"}, body=b"stored records" * 100),
        3: lambda cmd: make_response(cmd, 0, remark="binary header", serialize_type=SerializeType.ROCKETMQ, body=b"b"),
        4: lambda cmd: make_response(cmd, 0, remark="x" * (16 * 1024 * 1024)),  # header too long to encode
    }

    def handler(channel: Any, cmd: RemotingCommand) -> Any:
        return answers[cmd.code](cmd)

    channel = ProtocolChannel(handler)
    transport = CountingTransport()
    transport.protocol = channel
    channel.connection_made(transport)
    requests = [make_request(code, opaque=20 + code) for code in (1, 2, 3, 4)]
    channel.data_received(b"".join(encode_command(r) for r in requests))
    assert transport.calls == 4
    expected = [encode_command(answers[r.code](r)) for r in requests[:3]]
    frames = bytes(transport.written)
    assert frames.startswith(b"".join(expected))
    [*_, too_long] = transport.take_commands()
    assert (too_long.opaque, too_long.code) == (24, ResponseCode.SYSTEM_ERROR)
    assert "could not be encoded" in (too_long.remark or "")


async def test_frames_before_a_broken_one_in_the_same_read_are_answered_then_the_connection_closes() -> None:
    channel = ProtocolChannel(lambda ch, cmd: make_response(cmd, 0, remark="ok"))
    transport = connected(channel)
    good = encode_command(make_request(ECHO, opaque=31)) + encode_command(make_request(ECHO, opaque=32))
    channel.data_received(good + b"\x00\x00\x00\x01junk")
    assert [c.opaque for c in transport.take_commands()] == [31, 32]
    assert channel.closed


async def test_connection_loss_cancels_handler_tasks() -> None:
    started = anyio.Event()
    cancelled = anyio.Event()

    def handler(channel: Any, cmd: RemotingCommand) -> Any:
        async def long_poll() -> RemotingCommand:
            started.set()
            try:
                await anyio.sleep_forever()
            finally:
                cancelled.set()
            raise AssertionError("unreachable")
        return long_poll()

    channel = ProtocolChannel(handler)
    connected(channel)
    with anyio.fail_after(5):
        channel.data_received(encode_command(make_request(ECHO, opaque=1)))
        await started.wait()
        channel.connection_lost(None)
        await cancelled.wait()


async def test_writers_wait_while_the_write_buffer_is_over_its_high_water_mark() -> None:
    channel = ProtocolChannel(None)
    transport = connected(channel)
    result: list[RemotingCommand] = []

    async def ask() -> None:
        result.append(await channel.request(make_request(ECHO), 30.0))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            channel.pause_writing()
            tg.start_soon(channel.send, make_request(SILENT))
            await wait_all_tasks_blocked()
            tg.start_soon(ask)
            await wait_all_tasks_blocked()
            assert not transport.written
            assert transport.reading  # a client keeps reading: its peer may be backed up too
            channel.resume_writing()
            await wait_all_tasks_blocked()
            # Both went on once the buffer drained, in the order they had started waiting.
            sent, request = transport.take_commands()
            assert (sent.code, request.code) == (SILENT, ECHO)
            channel.data_received(encode_command(make_response(request, 0)))
    assert result[0].code == 0


async def test_connection_loss_fails_writers_waiting_for_the_buffer_to_drain() -> None:
    channel = ProtocolChannel(None)
    connected(channel)
    channel.pause_writing()
    failures: list[BaseException] = []

    async def write() -> None:
        with pytest.raises(ChannelClosed) as info:
            await channel.send(make_request(ECHO))
        failures.append(info.value)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(write)
            await wait_all_tasks_blocked()
            channel.connection_lost(ConnectionResetError())
    assert len(failures) == 1


async def test_a_server_side_channel_stops_reading_while_backed_up() -> None:
    channel = ProtocolChannel(None, pause_reading_while_backed_up=True)
    transport = connected(channel)
    channel.pause_writing()
    assert not transport.reading
    channel.resume_writing()
    assert transport.reading


# -- over real sockets ---------------------------------------------------------------------------


async def test_round_trips_peer_requests_and_drops_over_loopback() -> None:
    def client_handler(channel: Any, cmd: RemotingCommand) -> RemotingCommand:
        return make_response(cmd, 0, remark=f"client saw {cmd.ext_fields['q']}")

    lost: list[ProtocolChannel] = []
    async with serving() as port:
        with anyio.fail_after(10):
            channel = await connect_channel("127.0.0.1", port, client_handler, remote_addr=f"127.0.0.1:{port}", on_lost=lost.append)
            assert channel.remote_addr == f"127.0.0.1:{port}"
            for i in range(20):
                response = await channel.request(make_request(ECHO, {"x": str(i)}), 5.0)
                assert response.remark == str(i)
            await channel.oneway(make_request(ECHO, {"x": "oneway"}))
            response = await channel.request(make_request(CALL_BACK), 5.0)
            assert response.remark == "client saw ?"
            # The server hangs up while the request waits: it fails long before its 30 s timeout.
            with pytest.raises(ChannelClosed):
                await channel.request(make_request(HANG_UP), 30.0)
            await channel.run()  # returns once the connection has ended
    assert channel.closed and lost == [channel] and channel._pending == {}


class PauseRecordingChannel(ProtocolChannel):
    """Signals the first pause_writing, so a test can wait for back-pressure instead of sleeping."""

    def __init__(self) -> None:
        super().__init__(None)
        self.paused = anyio.Event()
        self.largest_buffer_after_a_write = 0

    def pause_writing(self) -> None:
        super().pause_writing()
        self.paused.set()


async def test_a_peer_that_does_not_read_blocks_the_writer_not_memory() -> None:
    frame_body = b"b" * (1024 * 1024)
    frames = 64  # well past what the two loopback socket buffers hold
    received = 0
    everything_received = anyio.Event()
    reader: list[asyncio.Transport] = []

    class SlowReader(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.pause_reading()  # type: ignore[attr-defined]
            reader.append(transport)  # type: ignore[arg-type]

        def data_received(self, data: bytes) -> None:
            nonlocal received
            received += len(data)
            if received >= frames * len(frame_body):
                everything_received.set()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(SlowReader, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with anyio.fail_after(30):
            _, channel = await loop.create_connection(PauseRecordingChannel, "127.0.0.1", port)
            transport = channel._transport
            assert transport is not None
            high_water = transport.get_write_buffer_limits()[1]
            frame_bytes = len(encode_command(make_request(ECHO, body=frame_body)))

            async def write_all() -> None:
                for _ in range(frames):
                    await channel.oneway(make_request(ECHO, body=frame_body))
                    size = transport.get_write_buffer_size()
                    channel.largest_buffer_after_a_write = max(channel.largest_buffer_after_a_write, size)

            async with anyio.create_task_group() as tg:
                tg.start_soon(write_all)
                await channel.paused.wait()
                await wait_all_tasks_blocked()
                reader[0].resume_reading()
            await everything_received.wait()
            # A writer waits while the buffer is over the mark, so it ends at most one frame past it
            # (without flow control it would hold most of the 64 MiB).
            assert channel.largest_buffer_after_a_write <= high_water + frame_bytes
            await channel.close()
    finally:
        server.close()
