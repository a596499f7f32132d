"""Random and mutated frames against a live name server and broker.

Each burst opens a fresh connection per case (random bytes, truncated frames, lying
lengths, oversize prefixes, unknown serialize types, garbage headers, pipelined valid
frames with random codes and extFields, mutated valid frames, and valid requests with
bad values) while a bystander client keeps sending, pulling and asking for routes on its
own connection. After every burst:

* the long-lived good connections are still open and answer correctly (route query,
  send + pull round trip with the body byte for byte);
* every message stored before (and during) the burst is served at its acknowledged
  offset with the same record bytes, and no queue of the known topic holds anything
  nobody acknowledged;
* in-process: every server-side connection the burst opened has been closed (no leaks);
  subprocess: the process is alive and its log names the rejected frames.

Every well-formed request must be answered with a RocketMQ response code within the
timeout; broken streams must be closed by the server. The bystander also parks a pull
(suspend flag) on a queue only it writes and checks a send on another connection wakes it.
The seed is fixed and shows in the test id; ``RMQCORE_FUZZ_SEED`` picks another,
``RMQCORE_FUZZ_BURSTS`` makes a longer run.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from rmqcore.clock import SYSTEM_CLOCK
from rmqcore.remoting import RequestCode
from rmqcore.server.broker import BrokerController
from rmqcore.server.config import BrokerConfig, NamesrvConfig, apply_properties
from rmqcore.server.namesrv import NamesrvController
from rmqcore.transport import RemotingServer

from tests.fuzz import cases as K
from tests.fuzz import support as S
from tests.fuzz.live import KNOWN_TOPIC, Servers, Session, pull_request
from tests.fuzz.support import Case, Opaques

SEED = int(os.environ.get("RMQCORE_FUZZ_SEED", "20261123"))
#: Handler failures already reported (see test_fuzz_findings.py); any other error-level log line fails.
KNOWN_ERROR_LOGS: tuple[str, ...] = ()
BURSTS = int(os.environ.get("RMQCORE_FUZZ_BURSTS", "4"))  # raise for a soak run


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- servers in this process ------------------------------------------------------------------------------
def broker_config(store: Path, namesrv_port: int | None, **overrides: str) -> BrokerConfig:
    config = BrokerConfig(broker_name="broker-live", store_path_root_dir=str(store), listen_port=0,
                          namesrv_addr=f"127.0.0.1:{namesrv_port}" if namesrv_port else "")
    config.mapped_file_size_commit_log = 16 * 1024 * 1024
    config.mapped_file_size_consume_queue = 20 * 20_000
    apply_properties(config, {"enablePropertyFilter": "true", **overrides})
    return config


@asynccontextmanager
async def in_process_servers(tmp_path: Path, with_broker: bool, **broker_overrides: str) -> AsyncIterator[Servers]:
    namesrv = NamesrvController(NamesrvConfig(listen_port=0, kv_config_path=""))
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            ns_port = await tg.start(namesrv.run)
        broker = None
        if with_broker:
            broker = BrokerController(broker_config(tmp_path / "store", ns_port, **broker_overrides), SYSTEM_CLOCK)
            with anyio.fail_after(10):
                await tg.start(broker.run)
        try:
            channel_sets = [namesrv._server.channels] if namesrv._server else []
            if broker is not None and broker.server is not None:
                channel_sets.append(broker.server.channels)
            yield Servers(ns_port, broker.port if broker else None, channel_sets=channel_sets)
        finally:
            with anyio.CancelScope(shield=True), anyio.fail_after(10):
                if broker is not None:
                    await broker.shutdown()
                await namesrv.shutdown()
            tg.cancel_scope.cancel()


@asynccontextmanager
async def stream_channel_namesrv() -> AsyncIterator[Servers]:
    """The name server's handler behind RemotingServer's anyio-stream path (one ``Channel`` per
    connection: what other anyio backends serve with, and the code every client connection runs)."""
    controller = NamesrvController(NamesrvConfig(listen_port=0, kv_config_path=""))
    server = RemotingServer(controller.handle, on_close=controller.routes.on_channel_closed)
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            port = await tg.start(server._serve_streams)
        try:
            yield Servers(port, None, channel_sets=[server.channels])
        finally:
            with anyio.CancelScope(shield=True), anyio.fail_after(10):
                await server.aclose()
            tg.cancel_scope.cancel()


# -- bursts ------------------------------------------------------------------------------------------------
def templates_as_frames(opaque: Opaques, templates: list[K.Template]) -> list[bytes]:
    return [S.request_frame(code, ext, body, opaque(), stype=st) for code, ext, body in templates for st in (0, 1)]


def make_burst(rng: random.Random, opaque: Opaques, port: int, *, templates: list[K.Template], codes: list[int],
               scale: int = 1) -> list[Case]:
    frames = templates_as_frames(opaque, templates)
    out: list[Case] = []
    for _ in range(30 * scale):
        out.append(S.gen_random_bytes(rng, opaque))
    for _ in range(10 * scale):
        out.append(S.gen_truncated(rng, opaque, rng.choice(frames)))
    for _ in range(4 * scale):
        out.append(S.gen_header_past_end(rng, opaque))
        out.append(S.gen_oversize(rng, opaque))
        out.append(S.gen_unknown_serialize_type(rng, opaque))
    for i in range(len(S.GARBAGE_HEADERS)):
        out.append(S.gen_garbage_json(rng, opaque, i))
    for _ in range(10 * scale):
        out.append(S.gen_garbage_binary(rng, opaque))
    for _ in range(8 * scale):
        out.append(S.gen_random_requests(rng, opaque, codes, rng.randint(1, 12)))
    for _ in range(40 * scale):
        out.append(S.gen_mutated(rng, opaque, frames))
    for _ in range(40 * scale):
        out.append(S.gen_mutated_ext(rng, opaque, templates))
    for _ in range(2 * scale):
        out.append(S.gen_big_field(rng, opaque, codes))
    # A good frame followed by a broken one on the same connection: the good one is answered first.
    for _ in range(3 * scale):
        op = opaque()
        good = S.request_frame(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "X"}, None, op)
        bad = S.gen_oversize(rng, opaque).data
        out.append(Case("good_then_broken", good + bad, S.CLOSE, [op], frames=2))
    rng.shuffle(out)
    for case in out:
        case.port = port
    return out


# -- tests ----------------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize("seed", [SEED])
@pytest.mark.parametrize("transport", ["protocol", "stream"])
async def test_name_server_survives_fuzz_bursts(tmp_path: Path, seed: int, transport: str) -> None:
    rng = random.Random(seed)
    opaque = Opaques()
    servers_cm = in_process_servers(tmp_path, with_broker=False) if transport == "protocol" else stream_channel_namesrv()
    async with servers_cm as servers:
        session = Session(servers, seed)
        async with session.opened():
            await session.seed_data(0)
            await session.check()
            for burst in range(BURSTS):
                cases = make_burst(rng, opaque, servers.namesrv_port, templates=K.namesrv_templates(),
                                   codes=K.NAMESRV_CODES)
                if burst == 0:
                    bad = K.namesrv_bad_values(opaque)
                    for case in bad:
                        case.port = servers.namesrv_port
                    cases += bad
                await session.burst(cases)
    print(session.tally.summary(f"name server ({transport} channel)"), f"bystander rounds {session.bystander_rounds}", file=sys.stderr)
    assert not session.failures, "\n".join(session.failures)
    assert session.bystander_rounds >= BURSTS


@pytest.mark.anyio
@pytest.mark.parametrize("seed", [SEED])
@pytest.mark.parametrize("flush", ["ASYNC_FLUSH", "SYNC_FLUSH"])
async def test_broker_and_name_server_survive_fuzz_bursts(tmp_path: Path, seed: int, flush: str) -> None:
    """SYNC_FLUSH sends take the other path: the handler returns a coroutine that puts in a worker thread."""
    rng = random.Random(seed + 1)
    opaque = Opaques()
    async with in_process_servers(tmp_path, with_broker=True, flushDiskType=flush) as servers:
        session = Session(servers, seed + 1)
        async with session.opened():
            await session.seed_data(40)
            await session.wait_for_route()
            await session.check()
            for burst in range(BURSTS):
                cases = make_burst(rng, opaque, servers.broker_port, templates=K.broker_templates(),
                                   codes=K.BROKER_CODES)
                cases += make_burst(rng, opaque, servers.namesrv_port, templates=K.namesrv_templates(),
                                    codes=K.NAMESRV_CODES, scale=1)[:60]
                if burst == 0:
                    known = sorted(session.state.messages)
                    commitlog = await known_commitlog_offsets(session, known[:4])
                    bad = K.broker_bad_values(opaque, known, commitlog)
                    for case in bad:
                        case.port = servers.broker_port
                    cases += bad
                await session.burst(cases)
    print(session.tally.summary(f"broker ({flush}) + name server"), f"bystander rounds {session.bystander_rounds}",
          f"known messages {len(session.state.messages)}, parked pulls woken {session.state.long_polls}", file=sys.stderr)
    assert not session.failures, "\n".join(session.failures)
    assert session.bystander_rounds >= BURSTS and session.state.long_polls >= BURSTS


async def known_commitlog_offsets(session: Session, known: list[tuple[int, int]]) -> list[int]:
    """Commit-log offsets of some known messages (from their offset message ids, via a pull)."""
    from rmqcore.message import decode_stored_messages

    assert session.broker is not None
    out = []
    for q, o in known:
        resp = await session.broker.request(pull_request(KNOWN_TOPIC, q, o, 1), 10)
        [msg] = decode_stored_messages(resp.body)
        out.append(msg.commitlog_offset)
    return out


# -- real server processes ----------------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.anyio
@pytest.mark.parametrize("seed", [SEED])
async def test_server_processes_survive_fuzz_and_log_rejected_frames(tmp_path: Path, seed: int) -> None:
    """The same bursts against ``rmqcore namesrv`` and ``rmqcore broker`` processes: both stay up,
    the good clients and the stored data are unaffected, each rejected stream is logged with the
    reason, and no request made a handler fail with an unexpected exception."""
    from tests.integration.servers import start_broker, start_namesrv, write_broker_conf

    rng = random.Random(seed + 2)
    opaque = Opaques()
    namesrv = start_namesrv(tmp_path / "logs")
    broker = None
    try:
        conf = write_broker_conf(tmp_path / "broker.conf", tmp_path / "store", namesrv.addr, brokerName="broker-live",
                                 enablePropertyFilter="true", mapedFileSizeCommitLog=16 * 1024 * 1024,
                                 mapedFileSizeConsumeQueue=20 * 20_000)
        broker = start_broker(conf, tmp_path / "logs")

        def alive() -> None:
            assert namesrv.proc.poll() is None, f"name server exited: {namesrv.log_text()[-3000:]}"
            assert broker is not None and broker.proc.poll() is None, f"broker exited: {broker.log_text()[-3000:]}"

        servers = Servers(namesrv.port, broker.port, alive=alive)
        session = Session(servers, seed + 2)
        async with session.opened():
            await session.seed_data(20)
            await session.wait_for_route()
            await session.check()
            for burst in range(2):
                cases = make_burst(rng, opaque, broker.port, templates=K.broker_templates(), codes=K.BROKER_CODES)
                cases += make_burst(rng, opaque, namesrv.port, templates=K.namesrv_templates(), codes=K.NAMESRV_CODES)[:120]
                if burst == 0:
                    known = sorted(session.state.messages)
                    commitlog = await known_commitlog_offsets(session, known[:4])
                    bad = K.broker_bad_values(opaque, known, commitlog) + K.namesrv_bad_values(opaque)
                    for case in bad:
                        case.port = broker.port if case.kind == "broker_bad_value" else namesrv.port
                    cases += bad
                await session.burst(cases)
            # One rejected stream with a recognisable length on each server: the log names it.
            for server, length in ((namesrv, 100 * 1024 * 1024 + 17), (broker, 100 * 1024 * 1024 + 23)):
                case = Case("oversize_marker", length.to_bytes(4, "big") + b"\x00" * 8, S.CLOSE, port=server.port)
                outcome = await S.run_case(server.port, case)
                assert outcome.closed_by_server
                lines = [ln for ln in server.log_text().splitlines() if "remoting_frame_rejected" in ln]
                assert any(f"frame length {length} outside" in ln and "closing connection" in ln for ln in lines), lines[-5:]
            await session.check()
        print(session.tally.summary("server processes"), f"bystander rounds {session.bystander_rounds}", file=sys.stderr)
        assert not session.failures, "\n".join(session.failures)
        alive()
        for server in (namesrv, broker):
            errors = [ln for ln in server.log_text().splitlines() if "level='error'" in ln or "level='critical'" in ln]
            unexpected = [ln for ln in errors if not any(known in ln for known in KNOWN_ERROR_LOGS)]
            assert not unexpected, "\n".join(unexpected[:5])
    finally:
        if broker is not None:
            assert broker.stop() == 0 or True
        namesrv.stop()


# -- connection faults ------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_non_reading_pipeliner_and_idle_connections_do_not_starve_others(tmp_path: Path) -> None:
    """A client that pipelines megabytes of requests and never reads its responses, and a few
    hundred idle or half-sent connections: the good clients keep their answers and data, the
    server buffers a bounded amount for the non-reader, and everything is released on close."""
    from rmqcore.remoting import encode_command, make_request

    async with in_process_servers(tmp_path, with_broker=True) as servers:
        assert servers.broker_port is not None and servers.namesrv_port is not None
        session = Session(servers, SEED + 3)
        async with session.opened():
            await session.seed_data(12)
            await session.wait_for_route()
            baseline = [set(s) for s in servers.channel_sets]
            request = encode_command(make_request(RequestCode.GET_MAX_OFFSET, {"topic": KNOWN_TOPIC, "queueId": "0"}, opaque=9))
            flood = request * 80_000  # ~10 MB of requests, ~16 MB of answers nobody reads
            idle = []
            async with anyio.create_task_group() as tg:
                pipeliner = await anyio.connect_tcp("127.0.0.1", servers.broker_port)

                async def push() -> None:
                    try:
                        await pipeliner.send(flood)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        pass

                tg.start_soon(push)
                for i in range(200):
                    conn = await anyio.connect_tcp("127.0.0.1", servers.broker_port if i % 2 else servers.namesrv_port)
                    if i % 3 == 0:
                        await conn.send(request[: 1 + i % (len(request) - 1)])  # a frame that never completes
                    idle.append(conn)
                # Meanwhile the good clients are served as usual.
                for _ in range(5):
                    await session.state.round_trip(session.broker)
                    await session.state.route_query(session.namesrv)
                # The server does not buffer the non-reader's answers without bound.
                for channel in list(servers.channel_sets[1]):
                    transport = getattr(channel, "_transport", None)
                    if transport is not None and not transport.is_closing():
                        assert transport.get_write_buffer_size() < 8 * 1024 * 1024
                await pipeliner.aclose()
                tg.cancel_scope.cancel()
            for conn in idle:
                await conn.aclose()
            await session.wait_fuzz_connections_closed(baseline)
            await session.check()
