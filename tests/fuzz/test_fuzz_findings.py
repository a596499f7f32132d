"""Single-request reproductions of what the live-server fuzz found, kept as regression tests."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import anyio.abc
import pytest

from rmqcore.message import decode_stored_messages
from rmqcore.remoting import RequestCode, ResponseCode, make_request
from rmqcore.remoting.headers import QueryMessageRequestHeader

from tests.fuzz import cases as K
from tests.fuzz.live import KNOWN_TOPIC, connect, send_request
from tests.fuzz.test_live_server_fuzz import in_process_servers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_query_message_with_a_huge_max_num_is_clamped(tmp_path: Path) -> None:
    """QUERY_MESSAGE maxNum=2147483647 made the store allocate ``int64_t[maxNum*2+8]`` (32 GiB) under its
    lock: MemoryError -> SYSTEM_ERROR here, and a multi-GiB allocation for maxNum around 10**8.
    RocketMQ clamps maxNum to maxMsgsNumBatch (64) in IndexService.queryOffset."""
    async with in_process_servers(tmp_path, with_broker=True) as servers:
        assert servers.broker_port is not None
        async with connect(servers.broker_port) as broker:
            for i in range(3):
                resp = await broker.request(send_request(KNOWN_TOPIC, b"q%d" % i, 0), 10)
                assert resp.code == ResponseCode.SUCCESS
            for max_num in (2**31 - 1, 100_000_000, 64, 2):
                header = QueryMessageRequestHeader(KNOWN_TOPIC, "k0", max_num, 0, 2**62)
                with anyio.fail_after(10):
                    resp = await broker.request(make_request(RequestCode.QUERY_MESSAGE, header), 10)
                assert resp.code == ResponseCode.SUCCESS, (max_num, resp.code, resp.remark)
                bodies = sorted(m.body for m in decode_stored_messages(resp.body))
                assert bodies == ([b"q0", b"q1", b"q2"] if max_num > 2 else [b"q1", b"q2"])


async def test_register_broker_with_a_broker_id_beyond_java_long_is_refused(tmp_path: Path) -> None:
    """A Java name server fails Long.parseLong("99999999999999999999") while decoding the header and
    answers SYSTEM_ERROR; here the broker is registered with that id and every route of its topics
    carries brokerAddrs key 99999999999999999999, which Java clients cannot parse."""
    async with in_process_servers(tmp_path, with_broker=False) as servers:
        assert servers.namesrv_port is not None
        async with connect(servers.namesrv_port) as ns:
            body = K.register_body({"BigIdTopic": 4})
            ext = K.register_ext("broker-bigid", "127.0.0.1:30999", body, brokerId="99999999999999999999")
            resp = await ns.request(make_request(RequestCode.REGISTER_BROKER, ext, body), 10)
            route = await ns.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "BigIdTopic"}), 10)
            print(resp.code, route.body, file=sys.stderr)
            assert resp.code != ResponseCode.SUCCESS


BEYOND_LONG = "99999999999999999999999"


async def test_consumer_offset_beyond_java_long_is_refused_not_stored(tmp_path: Path) -> None:
    """UPDATE_CONSUMER_OFFSET commitOffset=99999999999999999999999 is answered SUCCESS and stored
    (QUERY_CONSUMER_OFFSET returns it; consumerOffset.json gets it). Java fails Long.parseLong while
    decoding the header and answers SYSTEM_ERROR, storing nothing."""
    async with in_process_servers(tmp_path, with_broker=True) as servers:
        assert servers.broker_port is not None
        async with connect(servers.broker_port) as broker:
            assert (await broker.request(send_request(KNOWN_TOPIC, b"x", 0), 10)).code == ResponseCode.SUCCESS
            ext = {"consumerGroup": "G", "topic": KNOWN_TOPIC, "queueId": "0", "commitOffset": BEYOND_LONG}
            update = await broker.request(make_request(RequestCode.UPDATE_CONSUMER_OFFSET, ext), 10)
            query = await broker.request(
                make_request(RequestCode.QUERY_CONSUMER_OFFSET, {"consumerGroup": "G", "topic": KNOWN_TOPIC, "queueId": "0"}), 10
            )
            assert query.ext_fields.get("offset") != BEYOND_LONG
            assert update.code != ResponseCode.SUCCESS


async def test_offsets_beyond_java_long_are_header_errors_not_handler_crashes(tmp_path: Path) -> None:
    """VIEW_MESSAGE_BY_ID / SEARCH_OFFSET_BY_TIMESTAMP / END_TRANSACTION / CONSUMER_SEND_MSG_BACK /
    QUERY_MESSAGE / SEND (bornTimestamp, flag, sysFlag) with a number beyond Java long (or, for int
    fields such as sysFlag and flag, beyond Java int) reach the
    store's C calls and fail there with OverflowError: answered SYSTEM_ERROR (as Java would) but
    logged as broker_handler_failed with a traceback, once per request, at a remote client's will."""
    async with in_process_servers(tmp_path, with_broker=True) as servers:
        assert servers.broker_port is not None
        async with connect(servers.broker_port) as broker:
            assert (await broker.request(send_request(KNOWN_TOPIC, b"x", 0), 10)).code == ResponseCode.SUCCESS
            requests = [
                (RequestCode.VIEW_MESSAGE_BY_ID, {"offset": BEYOND_LONG}, None),
                (RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, {"topic": KNOWN_TOPIC, "queueId": "0", "timestamp": BEYOND_LONG}, None),
                (RequestCode.SEND_MESSAGE_V2, K.send_ext(topic=KNOWN_TOPIC, g=BEYOND_LONG), b"x"),
                # In long range but past Java int: sysFlag is an int (OverflowError "does not fit '32-bit int'").
                (RequestCode.SEND_MESSAGE_V2, K.send_ext(topic=KNOWN_TOPIC, f=str(2**63 - 1)), b"x"),
            ]
            remarks = []
            for code, ext, body in requests:
                resp = await broker.request(make_request(code, ext, body), 10)
                assert resp.code == ResponseCode.SYSTEM_ERROR
                remarks.append(resp.remark or "")
            assert not [r for r in remarks if "OverflowError" in r], remarks


def _echo_request_frame(opaque: int) -> bytes:
    """GET_ROUTEINFO_BY_TOPIC with a 2.9 MB topic of \\x01 in a binary header: the name server's
    TOPIC_NOT_EXIST remark echoes the topic, and JSON escapes each \\x01 as \\u0001, so the response
    header (17.4 MB) does not fit the 24-bit header length."""
    from tests.fuzz.support import request_frame

    return request_frame(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "\x01" * 2_900_000}, None, opaque, stype=1)


async def _ask_twice(port: int) -> list[tuple[int, int]]:
    """The echo request and a normal one pipelined on one raw connection; (opaque, code) answered."""
    from rmqcore.remoting import FrameDecoder, encode_command

    stream = await anyio.connect_tcp("127.0.0.1", port)
    decoder = FrameDecoder()
    got = []
    try:
        await stream.send(_echo_request_frame(1) + encode_command(make_request(105, {"topic": "T"}, opaque=2)))
        with anyio.fail_after(10):
            while len(got) < 2:
                try:
                    data = await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
                    break
                got += [(c.opaque, c.code) for c in decoder.feed(data)]
    finally:
        await stream.aclose()
    return got


async def test_a_response_too_big_to_encode_is_answered_system_error(tmp_path: Path) -> None:
    """The protocol channel raised EncodeError out of data_received: asyncio logged "Fatal error:
    protocol.data_received() call failed" and dropped the connection, leaving both requests unanswered."""
    async with in_process_servers(tmp_path, with_broker=False) as servers:
        assert servers.namesrv_port is not None
        got = await _ask_twice(servers.namesrv_port)
        assert got == [(1, ResponseCode.SYSTEM_ERROR), (2, ResponseCode.TOPIC_NOT_EXIST)]


async def test_a_response_too_big_to_encode_does_not_stop_a_stream_server(tmp_path: Path) -> None:
    """The same on the anyio-stream Channel (the server's path on other anyio backends, and every
    client connection): EncodeError escaped Channel.run, so the listener's task group -- the whole
    server -- failed with it."""
    from rmqcore.server.config import NamesrvConfig
    from rmqcore.server.namesrv import NamesrvController
    from rmqcore.transport import Channel

    controller = NamesrvController(NamesrvConfig(listen_port=0, kv_config_path=""))
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def serve(stream: anyio.abc.SocketStream) -> None:
        await Channel(stream, controller.handle, remote_addr="peer").run()

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        try:
            assert await _ask_twice(port) == [(1, ResponseCode.SYSTEM_ERROR), (2, ResponseCode.TOPIC_NOT_EXIST)]
            assert await _ask_twice(port) == [(1, ResponseCode.SYSTEM_ERROR), (2, ResponseCode.TOPIC_NOT_EXIST)]
        finally:
            tg.cancel_scope.cancel()


async def test_a_peer_that_resets_before_its_answers_does_not_stop_a_stream_server() -> None:
    """On the anyio-stream Channel an inline handler's answer to a peer that already reset the
    connection raised ChannelClosed out of Channel.run, failing the listener's task group."""
    import socket
    import struct

    from rmqcore.remoting import encode_command
    from rmqcore.server.config import NamesrvConfig
    from rmqcore.server.namesrv import NamesrvController
    from rmqcore.transport import Channel

    controller = NamesrvController(NamesrvConfig(listen_port=0, kv_config_path=""))
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    served = []

    async def serve(stream: anyio.abc.SocketStream) -> None:
        channel = Channel(stream, controller.handle, remote_addr="peer")
        served.append(channel)
        await channel.run()

    burst = b"".join(encode_command(make_request(105, {"topic": "T" * 2000}, opaque=i)) for i in range(300))
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        try:
            for _ in range(20):
                stream = await anyio.connect_tcp("127.0.0.1", port)
                raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                await stream.send(burst)
                await stream.aclose()  # RST: the answers have nowhere to go
            with anyio.fail_after(10):
                for channel in list(served):
                    await channel.closed_event.wait()
            assert await _ask_twice(port) == [(1, ResponseCode.SYSTEM_ERROR), (2, ResponseCode.TOPIC_NOT_EXIST)]
        finally:
            tg.cancel_scope.cancel()


async def test_a_compressed_register_body_bomb_is_not_inflated_whole(tmp_path: Path) -> None:
    """REGISTER_BROKER compressed=true with 64 KB of zlib that inflates to 64 MiB of zeros: the name
    server inflates it all (zlib.decompress) before parsing, peaking at ~140 MB for a 64 KB request.
    A 16 MiB frame inflates to ~16 GiB. Java's RegisterBrokerBody.decode reads the Inflater stream
    field by field, so the first bad length stops it."""
    import tracemalloc
    import zlib

    async with in_process_servers(tmp_path, with_broker=False) as servers:
        assert servers.namesrv_port is not None
        async with connect(servers.namesrv_port) as ns:
            bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)
            ext = K.register_ext("broker-bomb", "127.0.0.1:30998", bomb, compressed="true")
            tracemalloc.start()
            try:
                resp = await ns.request(make_request(RequestCode.REGISTER_BROKER, ext, bomb), 30)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert resp.code != ResponseCode.SUCCESS
            assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB for a {len(bomb)}-byte request"
