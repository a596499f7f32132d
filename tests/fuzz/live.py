"""Good clients, known stored data and the checks run after every fuzz burst.

Works on ports only, so the same checks run against in-process servers and subprocesses.
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from rmqcore.message import decode_stored_messages, encode_properties, new_uniq_key
from rmqcore.message import constants as C
from rmqcore.remoting import RemotingCommand, RequestCode, ResponseCode, make_request
from rmqcore.remoting import RegisterBrokerRequestHeader
from rmqcore.remoting.bodies import DataVersion, RegisterBrokerBody, TopicConfigSerializeWrapper, TopicRouteData
from rmqcore.remoting.bodies import TopicConfig as BodyTopicConfig
from rmqcore.remoting.headers.pull import PullMessageRequestHeader
from rmqcore.remoting.headers.send import SendMessageRequestHeader, encode_send_request_ext
from rmqcore.transport import Channel

from tests.fuzz.support import Case, Tally, crc, run_case

KNOWN_TOPIC = "FuzzKnownTopic"
KNOWN_GROUP = "FuzzKnownGroup"
KNOWN_QUEUES = 4
LONG_POLL_QUEUE = KNOWN_QUEUES - 1  # written only by long_poll_round_trip
TIMEOUT_S = 10.0
#: Debugging aid: RMQCORE_FUZZ_COLLECT=1 gathers per-case failures (printed at the end) instead of stopping.
COLLECT = os.environ.get("RMQCORE_FUZZ_COLLECT") == "1"


@asynccontextmanager
async def connect(port: int) -> AsyncIterator[Channel]:
    stream = await anyio.connect_tcp("127.0.0.1", port)
    channel = Channel(stream, lambda ch, cmd: None, remote_addr=f"127.0.0.1:{port}")
    async with anyio.create_task_group() as tg:
        tg.start_soon(channel.run)
        try:
            yield channel
        finally:
            await channel.close()
            tg.cancel_scope.cancel()


def send_request(topic: str, body: bytes, queue_id: int, *, producer_group: str = "FuzzKnownPG") -> RemotingCommand:
    props = {C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: new_uniq_key(), C.PROPERTY_WAIT_STORE_MSG_OK: "true",
             C.PROPERTY_KEYS: f"k{queue_id}", C.PROPERTY_TAGS: "TagKnown"}
    header = SendMessageRequestHeader(producer_group, topic, "TBW102", KNOWN_QUEUES, queue_id, 0, 1_700_000_000_000, 0,
                                      properties=encode_properties(props))
    return make_request(RequestCode.SEND_MESSAGE_V2, encode_send_request_ext(header), body)


def pull_request(topic: str, queue_id: int, offset: int, max_nums: int = 32, group: str = KNOWN_GROUP) -> RemotingCommand:
    header = PullMessageRequestHeader(group, topic, queue_id, offset, max_nums, C.PULL_FLAG_SUBSCRIPTION, 0, 0, 0,
                                      subscription="*")
    return make_request(RequestCode.PULL_MESSAGE, header)


@dataclass
class Stored:
    queue_id: int
    offset: int
    body: bytes
    record: bytes | None = None  # the stored record bytes as first served


@dataclass
class KnownState:
    """What the good clients wrote and what they expect to read back."""

    namesrv_port: int | None
    broker_port: int | None
    rng: random.Random
    messages: dict[tuple[int, int], Stored] = field(default_factory=dict)
    route: TopicRouteData | None = None
    round_trips: int = 0
    long_polls: int = 0

    def new_body(self) -> bytes:
        n = self.rng.choice([1, 2, 17, 255, 256, 1024, self.rng.randint(1, 5000)])
        return self.rng.randbytes(n)

    async def round_trip(self, broker: Channel, queue_id: int | None = None) -> None:
        """Send a fresh message and pull it back at its acknowledged offset, body byte for byte."""
        q = self.rng.randrange(LONG_POLL_QUEUE) if queue_id is None else queue_id
        body = self.new_body()
        resp = await broker.request(send_request(KNOWN_TOPIC, body, q), TIMEOUT_S)
        assert resp.code == ResponseCode.SUCCESS, f"good send failed: {resp.code} {resp.remark}"
        assert int(resp.ext_fields["queueId"]) == q
        offset = int(resp.ext_fields["queueOffset"])
        assert (q, offset) not in self.messages, f"offset {offset} of queue {q} acknowledged twice"
        self.messages[(q, offset)] = Stored(q, offset, body)
        pulled = await broker.request(pull_request(KNOWN_TOPIC, q, offset, 1), TIMEOUT_S)
        assert pulled.code == ResponseCode.SUCCESS, f"good pull failed: {pulled.code} {pulled.remark}"
        [msg] = decode_stored_messages(pulled.body)
        assert (msg.queue_id, msg.queue_offset, msg.body) == (q, offset, body)
        self.round_trips += 1

    async def long_poll_round_trip(self, broker: Channel, pull_channel: Channel) -> None:
        """A pull parked at the end of LONG_POLL_QUEUE (only this method writes there) is woken by
        a send on another connection and answers with exactly that message."""
        q = LONG_POLL_QUEUE
        resp = await broker.request(make_request(RequestCode.GET_MAX_OFFSET, {"topic": KNOWN_TOPIC, "queueId": str(q)}), TIMEOUT_S)
        assert resp.code == ResponseCode.SUCCESS, (resp.code, resp.remark)
        offset = int(resp.ext_fields["offset"])
        header = PullMessageRequestHeader(KNOWN_GROUP, KNOWN_TOPIC, q, offset, 8, C.PULL_FLAG_SUBSCRIPTION | C.PULL_FLAG_SUSPEND,
                                          0, int(TIMEOUT_S * 1000 / 2), 0, subscription="*")
        parked: dict[str, RemotingCommand] = {}

        async def park() -> None:
            parked["pull"] = await pull_channel.request(make_request(RequestCode.PULL_MESSAGE, header), TIMEOUT_S)

        body = self.new_body()
        async with anyio.create_task_group() as tg:
            tg.start_soon(park)
            sent = await broker.request(send_request(KNOWN_TOPIC, body, q), TIMEOUT_S)
            assert sent.code == ResponseCode.SUCCESS, (sent.code, sent.remark)
            assert int(sent.ext_fields["queueOffset"]) == offset, "another writer used the long-poll queue"
            self.messages[(q, offset)] = Stored(q, offset, body)
        pulled = parked["pull"]
        assert pulled.code == ResponseCode.SUCCESS, f"parked pull answered {pulled.code} {pulled.remark}"
        [msg] = decode_stored_messages(pulled.body)
        assert (msg.queue_id, msg.queue_offset, msg.body) == (q, offset, body)
        self.long_polls += 1

    async def route_query(self, namesrv: Channel) -> TopicRouteData:
        resp = await namesrv.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": KNOWN_TOPIC}), TIMEOUT_S)
        assert resp.code == ResponseCode.SUCCESS, f"good route query failed: {resp.code} {resp.remark}"
        return TopicRouteData.decode(resp.body)

    async def check_all_stored(self, broker: Channel) -> int:
        """Every queue of the known topic holds exactly the known messages, records unchanged."""
        checked = 0
        for q in range(KNOWN_QUEUES):
            expected = sorted(o for (qq, o) in self.messages if qq == q)
            offset, seen = 0, []
            while True:
                resp = await broker.request(pull_request(KNOWN_TOPIC, q, offset, 32), TIMEOUT_S)
                if resp.code != ResponseCode.SUCCESS:
                    assert resp.code in (ResponseCode.PULL_NOT_FOUND, ResponseCode.PULL_OFFSET_MOVED), (resp.code, resp.remark)
                    break
                view = memoryview(resp.body)
                pos = 0
                for msg in decode_stored_messages(resp.body):
                    record = bytes(view[pos : pos + msg.store_size])
                    pos += msg.store_size
                    stored = self.messages.get((q, msg.queue_offset))
                    assert stored is not None, f"a message nobody acknowledged is in queue {q} at {msg.queue_offset}: {msg}"
                    assert msg.body == stored.body, f"body changed at queue {q} offset {msg.queue_offset}"
                    if stored.record is None:
                        stored.record = record
                    else:
                        assert record == stored.record, f"stored record changed at queue {q} offset {msg.queue_offset}"
                    seen.append(msg.queue_offset)
                offset = int(resp.ext_fields["nextBeginOffset"])
            assert seen == expected, f"queue {q}: served offsets {seen[:20]}..., acknowledged {expected[:20]}..."
            checked += len(seen)
        return checked


@dataclass
class Servers:
    """What the fuzz test drives; ``channel_sets`` expose server-side connections (in-process only)."""

    namesrv_port: int | None
    broker_port: int | None
    alive: Callable[[], None] = lambda: None
    channel_sets: list[set[Any]] = field(default_factory=list)


class Session:
    """Long-lived good connections, a bystander loop during bursts, the checks after them."""

    def __init__(self, servers: Servers, seed: int) -> None:
        self.servers = servers
        self.state = KnownState(servers.namesrv_port, servers.broker_port, random.Random(seed ^ 0x5EED))
        self.namesrv: Channel | None = None
        self.broker: Channel | None = None
        self.tally = Tally()
        self.bystander_rounds = 0
        self.failures: list[str] = []

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[Session]:
        async with _maybe_connect(self.servers.namesrv_port) as ns, _maybe_connect(self.servers.broker_port) as br:
            self.namesrv, self.broker = ns, br
            yield self

    async def seed_data(self, count: int) -> None:
        """Register the known (fake) broker on the good name-server connection; store known messages."""
        if self.namesrv is not None:
            resp = await self.namesrv.request(known_registration(), TIMEOUT_S)
            assert resp.code == ResponseCode.SUCCESS, (resp.code, resp.remark)
            await _namesrv_probe(self.namesrv)
        if self.broker is None:
            return
        for i in range(count):
            await self.state.round_trip(self.broker, i % KNOWN_QUEUES)
        await self.state.check_all_stored(self.broker)

    async def wait_for_route(self) -> None:
        """The broker registers its topics with the name server; wait until the known topic is routed."""
        assert self.namesrv is not None
        if self.broker is None:
            return
        with anyio.fail_after(TIMEOUT_S):
            while True:
                resp = await self.namesrv.request(
                    make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": KNOWN_TOPIC}), TIMEOUT_S
                )
                if resp.code == ResponseCode.SUCCESS:
                    self.state.route = TopicRouteData.decode(resp.body)
                    return
                # Ask the broker to register again (a topic was created), then look again.
                await anyio.wait_all_tasks_blocked()

    def _baseline_channels(self) -> list[set[Any]]:
        return [set(s) for s in self.servers.channel_sets]

    async def burst(self, cases: list[Case], concurrency: int = 8) -> None:
        """Run the cases on fresh connections while a bystander keeps using its own connection."""
        baseline = self._baseline_channels()
        done = anyio.Event()
        limiter = anyio.CapacityLimiter(concurrency)

        async def one(case: Case) -> None:
            async with limiter:
                port = case_port(case)
                try:
                    outcome = await run_case(port, case)
                except AssertionError as exc:
                    if not COLLECT:
                        raise
                    self.failures.append(str(exc))
                    return
                self.tally.add(case, outcome)

        async def bystander() -> None:
            async with _maybe_connect(self.servers.namesrv_port) as ns, _maybe_connect(self.servers.broker_port) as br, \
                    _maybe_connect(self.servers.broker_port) as poller:
                while True:
                    if ns is not None:
                        await _namesrv_probe(ns)
                        if br is not None:
                            await self.state.route_query(ns)
                    if br is not None and poller is not None:
                        await self.state.round_trip(br)
                        await self.state.long_poll_round_trip(br, poller)
                    self.bystander_rounds += 1
                    if done.is_set():
                        return

        async with anyio.create_task_group() as tg:
            tg.start_soon(bystander)
            async with anyio.create_task_group() as fuzz:
                for case in cases:
                    fuzz.start_soon(one, case)
            done.set()
        await self.wait_fuzz_connections_closed(baseline)
        await self.check()

    async def wait_fuzz_connections_closed(self, baseline: list[set[Any]]) -> None:
        """Server side: every connection the burst opened is gone again (no leaked channels)."""
        for before, now in zip(baseline, self.servers.channel_sets):
            with anyio.fail_after(TIMEOUT_S):
                for channel in list(set(now) - before):
                    await channel.closed_event.wait()
            assert set(now) <= before, f"server still holds {len(set(now) - before)} fuzz connections"

    async def check(self) -> None:
        self.servers.alive()
        if self.namesrv is not None:
            assert not self.namesrv.closed, "the good name-server connection was closed"
            await _namesrv_probe(self.namesrv)
            if self.broker is not None:
                route = await self.state.route_query(self.namesrv)
                assert route == self.state.route, f"route of the known topic changed: {route} != {self.state.route}"
        if self.broker is not None:
            assert not self.broker.closed, "the good broker connection was closed"
            await self.state.round_trip(self.broker)
            await self.state.check_all_stored(self.broker)
        # A brand-new connection is served too.
        for port in (self.servers.namesrv_port, self.servers.broker_port):
            if port is not None:
                async with connect(port) as fresh:
                    resp = await fresh.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "Nope"}), TIMEOUT_S)
                    assert resp.code in (ResponseCode.TOPIC_NOT_EXIST, ResponseCode.REQUEST_CODE_NOT_SUPPORTED)


KNOWN_NS_TOPIC = "FuzzNsKnownTopic"


def known_registration() -> RemotingCommand:
    body = RegisterBrokerBody(
        TopicConfigSerializeWrapper({KNOWN_NS_TOPIC: BodyTopicConfig(KNOWN_NS_TOPIC, 8, 8)}, DataVersion(0, 1, 1))
    ).encode()
    header = RegisterBrokerRequestHeader("broker-known", "127.0.0.1:10911", "KnownCluster", "127.0.0.1:10912", 0,
                                         body_crc32=crc(body))
    return make_request(RequestCode.REGISTER_BROKER, header, body)


async def _namesrv_probe(ns: Channel) -> None:
    resp = await ns.request(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": KNOWN_NS_TOPIC}), TIMEOUT_S)
    assert resp.code == ResponseCode.SUCCESS, f"good route query failed: {resp.code} {resp.remark}"
    route = TopicRouteData.decode(resp.body)
    assert [b.broker_addrs for b in route.broker_datas] == [{0: "127.0.0.1:10911"}], route


def case_port(case: Case) -> int:
    assert case.port, case.describe()
    return case.port


@asynccontextmanager
async def _maybe_connect(port: int | None) -> AsyncIterator[Channel | None]:
    if port is None:
        yield None
        return
    async with connect(port) as channel:
        yield channel
