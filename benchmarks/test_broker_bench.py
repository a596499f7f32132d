"""Broker benchmarks: send round trip, batch send, pull from a backlog, start-up time and idle RSS.

The broker runs in its own process (``python -c`` with ``BrokerController``, ASYNC_FLUSH,
a temporary store), as a client would meet it; the client is a minimal raw remoting
client over a ``rmqcore.transport`` channel on its own event loop. Round-trip latencies
are measured per request inside that loop (the client channel is the
protocol-based ``ProtocolChannel`` the server also uses; a blocking-socket client like
redis-py's is measured too) (``time.perf_counter_ns``) and reported as
p50/p99 in ``extra_info``; pytest-benchmark times whole rounds. A Redis XADD round trip
(redis-py, same machine) is measured beside it when ``redis-server`` is available:
the target is a send p50 within 1.5x of the XADD p50. Reads of 32 entries (XRANGE COUNT 32)
are measured beside the pulls of 32.

The server's CPU per request (utime + stime of the broker or redis-server process from
``/proc/PID/stat`` over the timed rounds, 10 ms resolution, background threads included)
is printed with each figure: on a shared machine it is much steadier than wall-clock
latency. The broker runs on uvloop when it is installed, as ``rmqcore broker`` does
(``RMQCORE_EVENT_LOOP=asyncio`` selects the standard loop).

Figures are reported, never asserted (wall-clock numbers are not test outcomes).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest

from rmqcore.message import Message, encode_batch_body, encode_properties, new_uniq_key
from rmqcore.remoting import RequestCode, make_request
from rmqcore.remoting.headers.pull import PullMessageRequestHeader
from rmqcore.remoting.headers.send import SendMessageRequestHeader, encode_send_request_ext
from rmqcore.transport.protocol_channel import connect_channel

TOPIC = "BenchTopic"
SIZES = (128, 1024)
BATCH = 64
ROUND_SENDS = 500
ROUNDS = 10
BACKLOG = 32 * 600
PULL_ROUND = 64  # pulls of 32 per timed round

BROKER_SCRIPT = textwrap.dedent(
    """
    import os, sys, anyio
    from rmqcore.logs import configure_logging
    from rmqcore.server.broker import BrokerController
    from rmqcore.server.config import BrokerConfig

    configure_logging("warning")

    def run(main):
        use_uvloop = os.environ.get("RMQCORE_EVENT_LOOP", "uvloop") != "asyncio"
        try:
            import uvloop  # noqa: F401
        except ImportError:
            use_uvloop = False
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": use_uvloop})

    async def main():
        # RocketMQ's defaults otherwise (1 GiB CommitLog segments, ASYNC_FLUSH).
        config = BrokerConfig(broker_name="bench", store_path_root_dir=sys.argv[1], listen_port=0, namesrv_addr="")
        broker = BrokerController(config)
        async with anyio.create_task_group() as tg:
            port = await tg.start(broker.run)
            print(port, flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the parent closes stdin
            await broker.shutdown()
            tg.cancel_scope.cancel()

    run(main)
    """
)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class CpuMeter:
    """A server process's CPU from the start of the first timed round to the end of the last.

    One reading at each end (not a sum of per-round deltas): the counters tick every 10 ms,
    and a round is only tens of milliseconds. The broker is idle between rounds.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.first: float | None = None
        self.used_s = 0.0
        self.requests = 0

    def measure(self, work: Any, requests: int) -> Any:
        if self.first is None:
            self.first = process_cpu_s(self.pid)
        result = work()
        self.used_s = process_cpu_s(self.pid) - self.first
        self.requests += requests
        return result

    @property
    def us_per_request(self) -> float:
        return self.used_s / self.requests * 1e6 if self.requests else float("nan")


class BrokerProcess:
    def __init__(self, store_dir: Path) -> None:
        begin = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BROKER_SCRIPT, str(store_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"broker process exited with {self.proc.wait()}")
        self.ready_s = time.perf_counter() - begin
        self.port = int(line)

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return -1

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class RawClient:
    """Requests over one Channel, run from the test thread through a blocking portal."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, port: int, broker_pid: int) -> None:
        self.portal = portal
        self.broker_pid = broker_pid
        self.channel: Any = portal.call(self._connect, port)

    @staticmethod
    async def _connect(port: int) -> Any:
        # The protocol-based channel: the anyio-stream Channel adds ~100 us of client-side
        # overhead per round trip, which would hide the broker's own latency.
        return await connect_channel("127.0.0.1", port)

    def start(self) -> None:
        # The read loop runs on the portal's event loop until the channel closes.
        self.portal.start_task_soon(self.channel.run)

    async def timed_requests(self, make: Any, count: int) -> list[int]:
        """``count`` sequential requests; each one's round trip in ns."""
        request = self.channel.request
        times = []
        for i in range(count):
            cmd = make(i)
            t0 = time.perf_counter_ns()
            response = await request(cmd, 10)
            times.append(time.perf_counter_ns() - t0)
            if response.code != 0:
                raise AssertionError(f"request failed: {response.code} {response.remark}")
        return times


def send_request_maker(size: int) -> Any:
    body = b"x" * size
    props = {"TAGS": "TagA", "WAIT": "true"}

    def make(_i: int) -> Any:
        props["UNIQ_KEY"] = new_uniq_key()
        header = SendMessageRequestHeader("PG", TOPIC, "TBW102", 4, 0, 0, 1_700_000_000_000, 0, encode_properties(props))
        return make_request(RequestCode.SEND_MESSAGE_V2, encode_send_request_ext(header), body)

    return make


def batch_request_maker(size: int) -> Any:
    def make(_i: int) -> Any:
        messages = [Message(TOPIC, b"y" * size, tags="TagA", properties={"UNIQ_KEY": new_uniq_key()}) for _ in range(BATCH)]
        header = SendMessageRequestHeader("PG", TOPIC, "TBW102", 4, 1, 0, 1_700_000_000_000, 0, batch=True)
        return make_request(RequestCode.SEND_BATCH_MESSAGE, encode_send_request_ext(header), encode_batch_body(messages))

    return make


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = BrokerProcess(tmp_path_factory.mktemp("broker-store"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(broker: BrokerProcess) -> Iterator[RawClient]:
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        raw = RawClient(portal, broker.port, broker.proc.pid)
        raw.start()
        yield raw
        portal.call(raw.channel.close)


_FIGURES: dict[str, float] = {}


@pytest.mark.parametrize("size", SIZES)
def test_send_round_trip(benchmark: Any, client: RawClient, size: int) -> None:
    make = send_request_maker(size)
    client.portal.call(client.timed_requests, make, 300)  # warm-up: topic creation, caches
    samples: list[int] = []
    cpu = CpuMeter(client.broker_pid)

    def one_round() -> None:
        samples.extend(cpu.measure(lambda: client.portal.call(client.timed_requests, make, ROUND_SENDS), ROUND_SENDS))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    _FIGURES[f"send_p50_us_{size}"] = p50
    benchmark.extra_info.update(
        messages=ROUND_SENDS, bytes=ROUND_SENDS * size, p50_us=p50, p99_us=p99, broker_cpu_us=cpu.us_per_request
    )
    print(
        f"\nsend {size} B: p50 {p50:.1f} us, p99 {p99:.1f} us, mean {statistics.mean(samples) / 1000:.1f} us; "
        f"broker CPU {cpu.us_per_request:.1f} us per send"
    )


def test_send_round_trip_blocking_socket(benchmark: Any, broker: BrokerProcess) -> None:
    """Send 128 B with a blocking socket client (what redis-py is): the broker's own latency."""
    import socket

    from rmqcore.remoting import FrameDecoder, encode_command

    sock = socket.create_connection(("127.0.0.1", broker.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    make = send_request_maker(128)
    decoder = FrameDecoder()
    samples: list[int] = []

    def one(i: int) -> int:
        cmd = make(i)
        cmd.opaque = i
        data = encode_command(cmd)
        t0 = time.perf_counter_ns()
        sock.sendall(data)
        got: list[Any] = []
        while not got:
            got = decoder.feed(sock.recv(65536))
        elapsed = time.perf_counter_ns() - t0
        assert got[0].code == 0, got[0].remark
        return elapsed

    for i in range(300):
        one(i)
    cpu = CpuMeter(broker.proc.pid)

    def one_round() -> None:
        samples.extend(cpu.measure(lambda: [one(i) for i in range(ROUND_SENDS)], ROUND_SENDS))

    try:
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    finally:
        sock.close()
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    _FIGURES["send_p50_us_blocking"] = p50
    _FIGURES["send_cpu_us_blocking"] = cpu.us_per_request
    benchmark.extra_info.update(
        messages=ROUND_SENDS, bytes=ROUND_SENDS * 128, p50_us=p50, p99_us=p99, broker_cpu_us=cpu.us_per_request
    )
    print(
        f"\nsend 128 B, blocking-socket client: p50 {p50:.1f} us, p99 {p99:.1f} us; "
        f"broker CPU {cpu.us_per_request:.1f} us per send"
    )


@pytest.mark.parametrize("size", SIZES)
def test_batch_send_64(benchmark: Any, client: RawClient, size: int) -> None:
    make = batch_request_maker(size)
    client.portal.call(client.timed_requests, make, 20)
    samples: list[int] = []
    per_round = 50
    cpu = CpuMeter(client.broker_pid)

    def one_round() -> None:
        samples.extend(cpu.measure(lambda: client.portal.call(client.timed_requests, make, per_round), per_round))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    p50 = percentile(samples, 0.5)
    benchmark.extra_info.update(
        messages=per_round * BATCH, bytes=per_round * BATCH * size, p50_us_per_batch=p50, broker_cpu_us=cpu.us_per_request
    )
    print(
        f"\nbatch of {BATCH} x {size} B: p50 {p50:.1f} us per batch ({p50 / BATCH:.2f} us per message); "
        f"broker CPU {cpu.us_per_request:.1f} us per batch"
    )


def test_pull_32_from_backlog(benchmark: Any, client: RawClient) -> None:
    # The backlog goes to queue 2 (the send benchmarks write queues 0 and 1).
    def fill_cmd(i: int) -> Any:
        messages = [Message(TOPIC, b"z" * 128, tags="TagA", properties={"UNIQ_KEY": new_uniq_key()}) for _ in range(BATCH)]
        header = SendMessageRequestHeader("PG", TOPIC, "TBW102", 4, 2, 0, 1_700_000_000_000, 0, batch=True)
        return make_request(RequestCode.SEND_BATCH_MESSAGE, encode_send_request_ext(header), encode_batch_body(messages))

    client.portal.call(client.timed_requests, fill_cmd, BACKLOG // BATCH)
    offsets = iter(range(0, 10**9, 32))
    backlog_pulls = BACKLOG // 32

    def make_pull(_i: int) -> Any:
        offset = next(offsets) % (backlog_pulls * 32)
        header = PullMessageRequestHeader("CG", TOPIC, 2, offset, 32, 0x4, 0, 0, 0, subscription="*")
        return make_request(RequestCode.PULL_MESSAGE, header)

    samples: list[int] = []
    cpu = CpuMeter(client.broker_pid)
    client.portal.call(client.timed_requests, make_pull, PULL_ROUND)  # warm-up

    def one_round() -> None:
        samples.extend(cpu.measure(lambda: client.portal.call(client.timed_requests, make_pull, PULL_ROUND), PULL_ROUND))

    benchmark.pedantic(one_round, rounds=ROUNDS * 4, iterations=1)
    p50 = percentile(samples, 0.5)
    _FIGURES["pull_p50_us"] = p50
    _FIGURES["pull_cpu_us"] = cpu.us_per_request
    benchmark.extra_info.update(
        messages=PULL_ROUND * 32, bytes=PULL_ROUND * 32 * (128 + 150), p50_us_per_pull=p50, broker_cpu_us=cpu.us_per_request
    )
    print(
        f"\npull 32 x 128 B: p50 {p50:.1f} us per pull, {32 / (p50 / 1e6):,.0f} msgs/s sequential; "
        f"broker CPU {cpu.us_per_request:.1f} us per pull"
    )


class _DiscardingTransport:
    """Stands in for the socket: keeps the last answer written, nothing else."""

    def __init__(self) -> None:
        self.last: Any = None

    def write(self, data: bytes) -> None:
        self.last = data

    def writelines(self, data: Any) -> None:
        self.last = b"".join(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


@pytest.fixture(scope="module")
def in_process_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A broker in this process and one ProtocolChannel into its handler over a fake transport."""
    from rmqcore.logs import configure_logging
    from rmqcore.server.broker import BrokerController
    from rmqcore.server.config import BrokerConfig
    from rmqcore.transport.protocol_channel import ProtocolChannel

    configure_logging("warning")
    store_dir = tmp_path_factory.mktemp("in-process-store")
    config = BrokerConfig(broker_name="bench-in-process", store_path_root_dir=str(store_dir), listen_port=0, namesrv_addr="")
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        broker = BrokerController(config)
        running, _port = portal.start_task(broker.run)
        transport = _DiscardingTransport()

        def connect() -> ProtocolChannel:
            channel = ProtocolChannel(broker.handle, pause_reading_while_backed_up=True)
            channel.connection_made(transport)  # type: ignore[arg-type]
            return channel

        channel = portal.call(connect)
        try:
            yield portal, channel, transport
        finally:
            portal.call(broker.shutdown)
            running.cancel()


@pytest.mark.parametrize("kind", ["send", "pull"])
def test_request_path_in_process(benchmark: Any, in_process_broker: Any, kind: str) -> None:
    """The broker's Python path per request without sockets or a second process: frame in
    through ProtocolChannel.data_received, handler, store, answer encoded and written to a
    stand-in transport. No kernel, no wake-ups, warm caches: the steadiest figure of the
    request path's own cost (a loaded machine moves the socket figures far more)."""
    from rmqcore.remoting import FrameDecoder, encode_command

    portal, channel, transport = in_process_broker
    per_round = 1000
    if kind == "send":
        make = send_request_maker(128)
        frames = [encode_command(make(i)) for i in range(per_round)]
    else:
        fill = [
            encode_command(
                make_request(
                    RequestCode.SEND_BATCH_MESSAGE,
                    encode_send_request_ext(SendMessageRequestHeader("PG", TOPIC, "TBW102", 4, 3, 0, 1_700_000_000_000, 0, batch=True)),
                    encode_batch_body(
                        [Message(TOPIC, b"z" * 128, tags="TagA", properties={"UNIQ_KEY": new_uniq_key()}) for _ in range(BATCH)]
                    ),
                )
            )
            for _ in range(per_round * 32 // BATCH)
        ]
        portal.call(lambda: [channel.data_received(f) for f in fill])
        frames = [
            encode_command(
                make_request(
                    RequestCode.PULL_MESSAGE,
                    PullMessageRequestHeader("CG", TOPIC, 3, i * 32, 32, 0x4, 0, 0, 0, subscription="*"),
                    opaque=i,
                )
            )
            for i in range(per_round)
        ]

    def run_frames() -> None:
        received = channel.data_received
        for frame in frames:
            received(frame)

    portal.call(run_frames)  # warm-up (and the topic's creation)
    benchmark.pedantic(lambda: portal.call(run_frames), rounds=ROUNDS, iterations=1)
    [answer] = FrameDecoder().feed(transport.last)
    assert answer.code == 0, answer.remark
    per_request = benchmark.stats.stats.median / per_round * 1e6
    benchmark.extra_info.update(messages=per_round * (32 if kind == "pull" else 1), us_per_request=per_request)
    print(f"\n{kind} request path in process: {per_request:.1f} us per request (median round)")


def test_startup_and_idle_rss(tmp_path: Path) -> None:
    readies, rss = [], []
    for i in range(3):
        process = BrokerProcess(tmp_path / f"store-{i}")
        try:
            readies.append(process.ready_s)
            time.sleep(0.5)  # idle: let start-up allocations settle before reading RSS
            rss.append(process.rss_kb())
        finally:
            process.stop()
    print(
        f"\nbroker process start to ready (interpreter start included): "
        f"{min(readies) * 1000:.0f} ms min, {max(readies) * 1000:.0f} ms max; idle RSS {max(rss) / 1024:.1f} MB"
    )


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Any]:
    sys.path.insert(0, os.path.dirname(__file__))
    from redis_server import RedisServer, RedisUnavailable, ensure_redis_py

    try:
        redis = ensure_redis_py()
        server = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield redis, server
    finally:
        server.stop()


def test_redis_xadd_round_trip(benchmark: Any, redis_server: Any) -> None:
    redis, server = redis_server
    conn = redis.Redis(host="127.0.0.1", port=server.port)
    body = b"x" * 128
    for _ in range(300):
        conn.xadd("bench", {"b": body})
    samples: list[int] = []
    cpu = CpuMeter(server.proc.pid)

    def timed() -> None:
        xadd = conn.xadd
        for _ in range(ROUND_SENDS):
            t0 = time.perf_counter_ns()
            xadd("bench", {"b": body})
            samples.append(time.perf_counter_ns() - t0)

    def one_round() -> None:
        cpu.measure(timed, ROUND_SENDS)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    conn.close()
    p50 = percentile(samples, 0.5)
    benchmark.extra_info.update(messages=ROUND_SENDS, bytes=ROUND_SENDS * 128, p50_us=p50, server_cpu_us=cpu.us_per_request)
    nan = float("nan")
    ratio = _FIGURES.get("send_p50_us_blocking", nan) / p50
    ratio_channel = _FIGURES.get("send_p50_us_128", nan) / p50
    print(
        f"\nredis XADD 128 B (redis-py): p50 {p50:.1f} us, redis-server CPU {cpu.us_per_request:.1f} us per XADD; "
        f"broker send p50 / XADD p50 = {ratio:.2f} with a blocking client like redis-py's (target <= 1.5), "
        f"{ratio_channel:.2f} with the asyncio channel client; broker CPU per send / redis CPU per XADD = "
        f"{_FIGURES.get('send_cpu_us_blocking', nan) / cpu.us_per_request:.2f}"
    )


def test_redis_xrange_32(benchmark: Any, redis_server: Any) -> None:
    """Reads of 32 x 128 B entries from a backlog (XRANGE COUNT 32 from the next id), beside the pulls of 32."""
    redis, server = redis_server
    conn = redis.Redis(host="127.0.0.1", port=server.port)
    body = b"z" * 128
    pipe = conn.pipeline(transaction=False)
    for i in range(BACKLOG):
        pipe.xadd("backlog", {"b": body}, id=f"1-{i + 1}")
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    reads = BACKLOG // 32
    positions = iter(range(10**9))
    samples: list[int] = []
    cpu = CpuMeter(server.proc.pid)

    def timed() -> None:
        xrange = conn.xrange
        for _ in range(PULL_ROUND):
            start = next(positions) % reads * 32 + 1
            t0 = time.perf_counter_ns()
            got = xrange("backlog", min=f"1-{start}", count=32)
            samples.append(time.perf_counter_ns() - t0)
            assert len(got) == 32

    timed()  # warm-up
    samples.clear()

    def one_round() -> None:
        cpu.measure(timed, PULL_ROUND)

    benchmark.pedantic(one_round, rounds=ROUNDS * 4, iterations=1)
    conn.close()
    p50 = percentile(samples, 0.5)
    benchmark.extra_info.update(
        messages=PULL_ROUND * 32, bytes=PULL_ROUND * 32 * 128, p50_us_per_read=p50, server_cpu_us=cpu.us_per_request
    )
    nan = float("nan")
    print(
        f"\nredis XRANGE COUNT 32 x 128 B (redis-py): p50 {p50:.1f} us, redis-server CPU {cpu.us_per_request:.1f} us "
        f"per read; broker pull p50 / XRANGE p50 = {_FIGURES.get('pull_p50_us', nan) / p50:.2f}, broker CPU per pull / "
        f"redis CPU per read = {_FIGURES.get('pull_cpu_us', nan) / cpu.us_per_request:.2f}"
    )
