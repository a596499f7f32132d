"""RemotingClient against a small in-test peer: the failure modes need a real socket to show."""

from __future__ import annotations

import anyio
import pytest

from rmqcore.client.errors import RemotingConnectError, RemotingTimeoutError
from rmqcore.client.remoting_client import RemotingClient
from rmqcore.clock import FakeClock
from rmqcore.remoting import RemotingCommand, make_request, make_response
from rmqcore.transport import Channel
from rmqcore.transport.protocol_channel import ProtocolChannel
from tests.transport.peer import CALL_BACK, CLIENT_SIDE_CODE, ECHO, HANG_UP, SILENT, serving


async def test_invoke_oneway_timeout_drop_and_server_initiated_requests() -> None:
    async with serving() as port:
        addr = f"127.0.0.1:{port}"
        async with RemotingClient() as rc:
            rc.register_processor(CLIENT_SIDE_CODE, lambda ch, cmd: make_response(cmd, 0, remark="from client"))
            resp = await rc.invoke(addr, make_request(ECHO, {"x": "hello"}), 2.0)
            assert (resp.code, resp.remark) == (0, "hello")
            # Same connection reused.
            assert rc.connected_addrs == [addr]
            await rc.invoke_oneway(addr, make_request(ECHO, {"x": "one-way"}))
            with pytest.raises(RemotingTimeoutError):
                await rc.invoke(addr, make_request(SILENT), 0.2)
            # The peer asks us something while we wait for its answer.
            resp = await rc.invoke(addr, make_request(CALL_BACK), 2.0)
            assert resp.remark == "from client"
            # A dropped connection fails the in-flight request at once, well before its timeout.
            with anyio.fail_after(2.0):
                with pytest.raises(RemotingConnectError):
                    await rc.invoke(addr, make_request(HANG_UP), 30.0)
            # ... and the next call reconnects.
            resp = await rc.invoke(addr, make_request(ECHO, {"x": "again"}), 2.0)
            assert resp.remark == "again"


async def test_unsupported_server_request_is_answered() -> None:
    answers: list[RemotingCommand] = []

    def handler(channel: Channel, cmd: RemotingCommand):  # type: ignore[no-untyped-def]
        async def ask() -> RemotingCommand:
            answers.append(await channel.request(make_request(999), 2.0))
            return make_response(cmd, 0)
        return ask()

    async with serving(handler) as port:
        async with RemotingClient() as rc:
            await rc.invoke(f"127.0.0.1:{port}", make_request(1), 2.0)
        assert answers[0].code == 3  # REQUEST_CODE_NOT_SUPPORTED


async def test_connect_failures_back_off_on_the_clock() -> None:
    # A port nobody listens on: bind, note the port, close.
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()
    clock = FakeClock(start_ms=0)
    async with RemotingClient(clock=clock, initial_backoff_ms=100, max_backoff_ms=400) as rc:
        addr = f"127.0.0.1:{port}"
        with pytest.raises(RemotingConnectError, match="failed"):
            await rc.invoke(addr, make_request(1), 1.0)
        with pytest.raises(RemotingConnectError, match="next attempt in 100 ms"):
            await rc.invoke(addr, make_request(1), 1.0)
        clock.advance(100)
        with pytest.raises(RemotingConnectError, match="connect to"):
            await rc.invoke(addr, make_request(1), 1.0)
        with pytest.raises(RemotingConnectError, match="next attempt in 200 ms"):
            await rc.invoke(addr, make_request(1), 1.0)


async def test_asyncio_connections_are_protocol_channels_and_forgotten_when_dropped() -> None:
    async with serving() as port:
        addr = f"127.0.0.1:{port}"
        async with RemotingClient() as rc:
            channel = await rc.get_channel(addr)
            assert isinstance(channel, ProtocolChannel) and channel.remote_addr == addr
            with anyio.fail_after(5):
                with pytest.raises(RemotingConnectError):
                    await rc.invoke(addr, make_request(HANG_UP), 30.0)
                await channel.closed_event.wait()
            # on_lost took it out of the pool: no closed channel is left behind.
            assert addr not in rc._channels and rc.connected_addrs == []
            assert await rc.get_channel(addr) is not channel
