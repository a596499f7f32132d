"""The name server over real TCP on loopback, driven with raw remoting requests."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from rmqcore.remoting import (
    FrameDecoder,
    RegisterBrokerRequestHeader,
    RequestCode,
    ResponseCode,
    SerializeType,
    encode_command,
    make_request,
)
from rmqcore.remoting.bodies import (
    ClusterInfo,
    DataVersion,
    RegisterBrokerBody,
    TopicConfig,
    TopicConfigSerializeWrapper,
    TopicList,
    TopicRouteData,
)
from rmqcore.server.config import NamesrvConfig
from rmqcore.server.namesrv import NamesrvController
from rmqcore.transport import Channel

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def running_namesrv() -> AsyncIterator[NamesrvController]:
    ctl = NamesrvController(NamesrvConfig(listen_port=0, kv_config_path=""))
    async with anyio.create_task_group() as tg:
        await tg.start(ctl.run)
        try:
            yield ctl
        finally:
            await ctl.shutdown()
            tg.cancel_scope.cancel()


@asynccontextmanager
async def connect(port: int) -> AsyncIterator[Channel]:
    stream = await anyio.connect_tcp("127.0.0.1", port)
    channel = Channel(stream, remote_addr=f"127.0.0.1:{port}")
    async with anyio.create_task_group() as tg:
        tg.start_soon(channel.run)
        try:
            yield channel
        finally:
            await channel.close()


def _register_request(name: str, addr: str, topics: dict[str, int], compressed: bool = False):
    body = RegisterBrokerBody(
        TopicConfigSerializeWrapper({t: TopicConfig(t, n, n) for t, n in topics.items()}, DataVersion(0, 1, 1))
    ).encode(compressed=compressed)
    header = RegisterBrokerRequestHeader(name, addr, "DefaultCluster", addr, 0, compressed=compressed, body_crc32=zlib.crc32(body) & 0x7FFFFFFF)
    return make_request(RequestCode.REGISTER_BROKER, header, body)


async def test_register_then_route_cluster_and_topic_list() -> None:
    async with running_namesrv() as ctl, connect(ctl.port) as ch:
        resp = await ch.request(_register_request("broker-a", "127.0.0.1:10911", {"TopicTest": 4}), 3)
        assert resp.code == ResponseCode.SUCCESS
        resp = await ch.request(_register_request("broker-b", "127.0.0.1:10921", {"TopicTest": 2}, compressed=True), 3)
        assert resp.code == ResponseCode.SUCCESS

        resp = await ch.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "TopicTest"}), 3)
        assert resp.code == ResponseCode.SUCCESS
        route = TopicRouteData.decode(resp.body)
        assert {b.broker_name: b.broker_addrs for b in route.broker_datas} == {
            "broker-a": {0: "127.0.0.1:10911"},
            "broker-b": {0: "127.0.0.1:10921"},
        }
        assert b'"brokerAddrs":{"0":' in resp.body

        resp = await ch.request(make_request(RequestCode.GET_BROKER_CLUSTER_INFO), 3)
        assert ClusterInfo.decode(resp.body).cluster_addr_table == {"DefaultCluster": ["broker-a", "broker-b"]}
        resp = await ch.request(make_request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER), 3)
        assert TopicList.decode(resp.body).topic_list == ["TopicTest"]


async def test_unknown_topic_and_unknown_code_are_answered_with_codes() -> None:
    async with running_namesrv() as ctl, connect(ctl.port) as ch:
        resp = await ch.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "Nope"}), 3)
        assert resp.code == ResponseCode.TOPIC_NOT_EXIST and "Nope" in resp.remark
        resp = await ch.request(make_request(9999), 3)
        assert resp.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
        # A missing required header field is an error response, not a dropped connection.
        resp = await ch.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {}), 3)
        assert resp.code == ResponseCode.SYSTEM_ERROR and "topic" in resp.remark
        resp = await ch.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "Nope"}, serialize_type=SerializeType.ROCKETMQ), 3)
        assert resp.code == ResponseCode.TOPIC_NOT_EXIST


async def test_broker_connection_loss_removes_its_routes() -> None:
    async with running_namesrv() as ctl:
        async with connect(ctl.port) as broker:
            assert (await broker.request(_register_request("broker-a", "127.0.0.1:10911", {"T": 1}), 3)).code == 0
        with anyio.fail_after(5):
            while ctl.routes.topic_route("T") is not None:
                await anyio.wait_all_tasks_blocked()


async def test_garbage_frame_closes_only_that_connection() -> None:
    async with running_namesrv() as ctl, connect(ctl.port) as good:
        bad = await anyio.connect_tcp("127.0.0.1", ctl.port)
        # A frame that claims 100 MiB: over the 16 MiB limit, so the server closes it.
        await bad.send((100 * 1024 * 1024).to_bytes(4, "big") + b"\x00" * 16)
        with anyio.fail_after(5):
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError)):
                while True:
                    await bad.receive()
        # A header length past the frame end: also closed.
        bad2 = await anyio.connect_tcp("127.0.0.1", ctl.port)
        await bad2.send((12).to_bytes(4, "big") + (500).to_bytes(4, "big") + b"{}" + b"\x00" * 6)
        with anyio.fail_after(5):
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError)):
                while True:
                    await bad2.receive()
        resp = await good.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "Nope"}), 3)
        assert resp.code == ResponseCode.TOPIC_NOT_EXIST


async def test_many_requests_in_flight_are_matched_by_opaque() -> None:
    async with running_namesrv() as ctl, connect(ctl.port) as ch:
        results: dict[int, int] = {}

        async def ask(i: int) -> None:
            resp = await ch.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": f"T{i}"}), 5)
            results[i] = resp.code
            assert f"T{i}" in resp.remark

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(ask, i)
        assert set(results.values()) == {ResponseCode.TOPIC_NOT_EXIST} and len(results) == 200
        # Pipelined raw bytes: two frames in one write are both answered.
        raw = await anyio.connect_tcp("127.0.0.1", ctl.port)
        frames = b"".join(
            encode_command(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "X"}, opaque=o)) for o in (7, 8)
        )
        await raw.send(frames)
        decoder = FrameDecoder()
        got = []
        with anyio.fail_after(5):
            while len(got) < 2:
                got += decoder.feed(await raw.receive())
        assert sorted(c.opaque for c in got) == [7, 8]
        await raw.aclose()
