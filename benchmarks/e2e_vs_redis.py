"""End-to-end broker + client benchmarks beside Redis Streams, on loopback, in one run.

Run (from the repository root; takes about 3-6 minutes with the default 1 M backlog)::

    .venv/bin/python benchmarks/e2e_vs_redis.py              # everything, prints the tables
    .venv/bin/python benchmarks/e2e_vs_redis.py --quick      # smaller counts, ~1 minute
    .venv/bin/python benchmarks/e2e_vs_redis.py --uvloop     # also rerun with uvloop (client and broker)
    .venv/bin/python benchmarks/e2e_vs_redis.py --profile    # also cProfile the client, py-spy the broker

What runs:

* ``rmqcore namesrv -p 0`` and ``rmqcore broker -c FILE`` as subprocesses (ASYNC_FLUSH, store
  in a temporary directory), ports read from their boot lines; start-up is timed from spawn
  to the broker's boot line, and idle RSS is read from ``/proc/PID/status`` after a pause.
* ``redis-server`` on a free loopback port with ``--save "" --appendonly no`` (see
  ``redis_server.py``); ``--install-redis`` lets the script apt-get/pip-install what is
  missing; without Redis the Redis rows are skipped with a message, ours still run.
* Workloads, each bounded by a message count *and* a time limit, repeated ``--rounds``
  times; a table row is the median over rounds (throughput, p50, p99 of the round-trips):

  - sync send, 128 B and 1 KiB, one producer: the async ``Producer.send`` with its loop on
    asyncio and on uvloop, and the synchronous facade ``rmqcore.client.sync.Producer.send``
    (blocking connection of the calling thread)                vs  XADD, redis-py sync
  - the same through a raw ``ProtocolChannel`` (the client's transport, no client layer):
    the broker's share
  - 16 concurrent sync senders on one producer (asyncio tasks)     vs  16 tasks, redis.asyncio
  - batch send of 64 x 128 B (``Producer.send(list)``)             vs  pipeline of 64 XADD
  - pull of 32 from a backlog (default 1 M x 128 B, filled with batch sends; the fill time is
    reported): ``PullConsumer.pull`` (decoded ``MessageExt``) and raw PULL_MESSAGE (body not
    decoded), each one queue at a time and 4 queues in parallel, client on uvloop (decoded
    4 queues also on asyncio), and ``sync.PullConsumer.pull`` one queue at a time
                                                     vs  XREADGROUP COUNT 32 and COUNT 1000
  - 1, 4 and 16 producer *processes* sync-sending while one consumer process pulls: end-to-end
    produce and consume msgs/s                                 vs  the same with XADD/XREADGROUP

Every process this script starts (servers, workers) is stopped in ``finally`` blocks.
Figures are wall-clock measurements on a shared machine: they are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import multiprocessing as mp
import os
import pstats
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from redis_server import RedisServer, RedisUnavailable, ensure_redis_py  # noqa: E402

import anyio  # noqa: E402
import anyio.to_thread  # noqa: E402

TOPIC_QUEUES = 4
GROUP = "bench_producer_group"
CGROUP = "bench_consumer_group"

_NAMESRV_READY = re.compile(r"The Name Server boot success\. serializeType=JSON, address ([\d.]+):(\d+)")
_BROKER_READY = re.compile(r"The broker\[([^,]+), ([\d.]+):(\d+)\] boot success")


# =============================================================================================
# results
# =============================================================================================
@dataclass
class Row:
    workload: str
    system: str
    msgs_per_s: float | None = None
    p50_us: float | None = None
    p99_us: float | None = None
    count: int = 0
    note: str = ""
    rounds: list[dict[str, float]] = field(default_factory=list)
    client_cpu_us: float = float("nan")
    server_cpu_us: float = float("nan")
    load: float = float("nan")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


@dataclass
class Round:
    messages: int
    seconds: float
    latencies_ns: list[int]
    client_cpu_s: float = float("nan")
    server_cpu_s: float = float("nan")
    load: float = float("nan")

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies_ns)
        n = self.messages or 1
        return {
            "msgs_per_s": self.messages / self.seconds if self.seconds > 0 else float("nan"),
            "p50_us": percentile(lat, 0.50) / 1e3 if lat else float("nan"),
            "p99_us": percentile(lat, 0.99) / 1e3 if lat else float("nan"),
            "messages": self.messages,
            "seconds": self.seconds,
            "client_cpu_us_per_msg": self.client_cpu_s / n * 1e6,
            "server_cpu_us_per_msg": self.server_cpu_s / n * 1e6,
            "loadavg_1m": self.load,
        }


def median_row(workload: str, system: str, rounds: list[Round], note: str = "") -> Row:
    sums = [r.summary() for r in rounds]
    med = lambda key: statistics.median(s[key] for s in sums)  # noqa: E731
    row = Row(workload, system, med("msgs_per_s"), med("p50_us"), med("p99_us"), int(med("messages")), note, sums)
    row.client_cpu_us = med("client_cpu_us_per_msg")
    row.server_cpu_us = med("server_cpu_us_per_msg")
    row.load = med("loadavg_1m")
    return row


_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int | None) -> float:
    """utime + stime of ``pid`` in seconds (10 ms resolution), NaN if unknown."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return float("nan")


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


SERVER_PID: int | None = None
"""The server process (broker or redis-server) whose CPU time a round is charged with."""


class Timed:
    """Wall time, this process's CPU time and the server's CPU time over a timed loop."""

    def __init__(self) -> None:
        self.load = loadavg()
        self.s0 = proc_cpu_s(SERVER_PID)
        self.c0 = time.process_time()
        self.t0 = time.perf_counter()

    def round(self, messages: int, latencies_ns: list[int]) -> Round:
        seconds = time.perf_counter() - self.t0
        client = time.process_time() - self.c0
        server = proc_cpu_s(SERVER_PID) - self.s0
        return Round(messages, seconds, latencies_ns, client, server, max(self.load, loadavg()))


# =============================================================================================
# servers
# =============================================================================================
@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    addr: str
    boot_s: float
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kb(self) -> int | None:
        return proc_rss_kb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def proc_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _wait_for_line(proc: subprocess.Popen[bytes], pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffer = b""
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no boot line within {timeout}s: {buffer[-500:]!r}")
            if not sel.select(remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"server exited with {proc.wait()} before its boot line: {buffer[-500:]!r}")
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                match = pattern.search(line)
                if match:
                    return match
    finally:
        sel.close()


# The CLI's broker on a chosen asyncio loop (argv[1]: "uvloop" or "asyncio"), run as a user
# runs it (no -O), so its figures compare with the main broker's.
UVLOOP_BROKER = """
import argparse, sys, anyio
from rmqcore.cli.server import add_broker_arguments, broker_config, _serve_broker
from rmqcore.logs import configure_logging
use_uvloop = sys.argv.pop(1) == "uvloop"
p = argparse.ArgumentParser(); add_broker_arguments(p); args = p.parse_args(sys.argv[1:])
configure_logging(args.log_level)
anyio.run(_serve_broker, broker_config(args), backend_options={"use_uvloop": use_uvloop})
"""


def spawn_server(args: list[str], log_path: Path, pattern: re.Pattern[str], run_dir: Path, *, code: str | None = None) -> tuple[Server, re.Match[str]]:
    env = dict(os.environ, RMQCORE_RUN_DIR=str(run_dir), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "rmqcore.cli", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=log_path.open("wb"), stdin=subprocess.DEVNULL, env=env, start_new_session=True
    )
    try:
        match = _wait_for_line(proc, pattern, 30.0)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raise
    boot = time.perf_counter() - t0
    return Server(proc, f"{match.group(len(match.groups()) - 1)}:{match.group(len(match.groups()))}", boot, log_path), match


def start_namesrv(work: Path) -> Server:
    server, _ = spawn_server(["namesrv", "-p", "0"], work / "namesrv.log", _NAMESRV_READY, work / "run")
    return server


def write_broker_conf(path: Path, store_dir: Path, namesrv_addr: str, **extra: Any) -> Path:
    settings = {
        "brokerClusterName": "DefaultCluster",
        "brokerName": "broker-a",
        "brokerId": 0,
        "namesrvAddr": namesrv_addr,
        "listenPort": 0,
        "brokerIP1": "127.0.0.1",
        "storePathRootDir": store_dir,
        "brokerRole": "ASYNC_MASTER",
        "flushDiskType": "ASYNC_FLUSH",
        "autoCreateTopicEnable": "true",
        **extra,
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


def start_broker(work: Path, namesrv_addr: str, name: str = "broker", uvloop: bool | None = None, extra: dict[str, Any] | None = None) -> Server:
    """``rmqcore broker -c FILE``; with ``uvloop`` True/False, the same CLI code under ``python -O``
    on uvloop / on the stock asyncio loop (see UVLOOP_BROKER)."""
    store = work / f"store-{name}"
    if store.exists():
        shutil.rmtree(store)
    conf = write_broker_conf(work / f"{name}.conf", store, namesrv_addr, **(extra or {}))
    server, _ = spawn_server(
        ["broker", "-c", str(conf)] if uvloop is None else ["uvloop" if uvloop else "asyncio", "-c", str(conf)],
        work / f"{name}.log", _BROKER_READY, work / "run", code=UVLOOP_BROKER if uvloop is not None else None,
    )  # fmt: skip
    return server


def proc_memory_kb(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: int(v) for k, v in re.findall(r"^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM):\s+(\d+)", text, re.M)}


def measure_startup(work: Path, namesrv_addr: str, runs: int, idle_s: float) -> dict[str, Any]:
    """Spawn → boot line of ``rmqcore broker`` (fresh store each time), idle memory, and baselines.

    Run with the default configuration (1 GiB CommitLog files, as RocketMQ) and with
    ``mapedFileSizeCommitLog=64 MiB`` (what the integration tests use), because the store
    prefaults the CommitLog file it writes to at open (``warm_mapped_file_enable``).
    """
    out: dict[str, Any] = {}
    for label, extra in (("default (1 GiB CommitLog)", {}), ("mapedFileSizeCommitLog=64 MiB", {"mapedFileSizeCommitLog": 64 * 1024 * 1024})):
        boots, inside, mems = [], [], []
        for i in range(runs):
            server = start_broker(work, namesrv_addr, name=f"startup{i}", extra=extra)
            try:
                boots.append(server.boot_s)
                time.sleep(idle_s if i == 0 else 0.3)
                if i == 0:
                    mems.append(proc_memory_kb(server.pid))
            finally:
                server.stop()
            m = re.search(r"startup_ms=([\d.]+)", server.log_path.read_text(errors="replace"))
            if m:
                inside.append(float(m.group(1)) / 1e3)
        out[label] = {
            "boot_s": boots,
            "boot_median_s": statistics.median(boots),
            "broker_reported_startup_s": inside,
            "idle_memory_kb": mems[0] if mems else {},
        }
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", "import resource, rmqcore.cli.server, rmqcore.server.broker, anyio;"
         "from rmqcore.server.broker.controller import BrokerController;"
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out["python_bare_s"] = bare
    out["python_import_broker_s"] = time.perf_counter() - t0
    out["import_only_maxrss_kb"] = int(res.stdout.strip() or 0)
    return out


def print_startup(s: dict[str, Any]) -> None:
    print(f"  bare python {s['python_bare_s'] * 1e3:.0f} ms; python + broker imports {s['python_import_broker_s'] * 1e3:.0f} ms, maxrss {s['import_only_maxrss_kb'] / 1024:.1f} MB")
    for label, v in s.items():
        if not isinstance(v, dict):
            continue
        mem = v["idle_memory_kb"]
        boot = v["boot_median_s"]
        rss = mem.get("VmRSS", 0) / 1024
        print(
            f"  {label:<30} spawn->boot line median {boot * 1e3:5.0f} ms {[round(b * 1e3) for b in v['boot_s']]} "
            f"(broker-reported {[round(x * 1e3) for x in v['broker_reported_startup_s']]} ms)  "
            f"[target < 500 ms: {'met' if boot < 0.5 else 'MISSED'}]"
        )
        print(
            f"  {'':<30} idle VmRSS {rss:7.1f} MB = RssAnon {mem.get('RssAnon', 0) / 1024:.1f} MB + RssFile {mem.get('RssFile', 0) / 1024:.1f} MB "
            f"(mapped store files)  [target < 80 MB: VmRSS {'met' if rss < 80 else 'MISSED'}, anon {'met' if mem.get('RssAnon', 0) / 1024 < 80 else 'MISSED'}]"
        )


# =============================================================================================
# workload helpers
# =============================================================================================
class Bound:
    """A loop bound: at most ``count`` iterations and ``seconds`` of wall time."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.deadline = time.perf_counter() + seconds

    def expired(self) -> bool:
        return time.perf_counter() >= self.deadline


def run_async(fn: Callable[..., Any], *args: Any, uvloop: bool = False) -> Any:
    return anyio.run(fn, *args, backend="asyncio", backend_options={"use_uvloop": uvloop})


def quiet_logging() -> None:
    from rmqcore.logs import configure_logging

    configure_logging("warning")


# ---- ours: client ------------------------------------------------------------------------------
def new_producer(namesrv: str, instance: str) -> Any:
    from rmqcore.client import Producer

    return Producer(GROUP, namesrv_addr=namesrv, instance_name=instance, default_topic_queue_nums=TOPIC_QUEUES)


async def ours_sync_send(namesrv: str, topic: str, size: int, count: int, seconds: float, warmup: int = 200) -> Round:
    from rmqcore.client import Message

    body = b"x" * size
    async with new_producer(namesrv, f"sync{size}") as producer:
        for _ in range(warmup):
            await producer.send(Message(topic, body))
        lat: list[int] = []
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns
        tm = Timed()
        n = 0
        while n < count and not bound.expired():
            s = clock()
            await producer.send(Message(topic, body))
            lat.append(clock() - s)
            n += 1
        return tm.round(n, lat)


def ours_facade_send(namesrv: str, topic: str, size: int, count: int, seconds: float, warmup: int = 200) -> Round:
    """``rmqcore.client.sync.Producer.send``: the synchronous facade, called from this thread
    (each send a request on this thread's blocking connection to the broker; the facade's
    event loop, in a background thread, only looks the route up)."""
    from rmqcore.client import Message, sync

    body = b"x" * size
    with sync.Producer(GROUP, namesrv_addr=namesrv, instance_name=f"facade{size}", default_topic_queue_nums=TOPIC_QUEUES) as producer:
        send = producer.send
        for _ in range(warmup):
            send(Message(topic, body))
        lat: list[int] = []
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns
        tm = Timed()
        n = 0
        while n < count and not bound.expired():
            s = clock()
            send(Message(topic, body))
            lat.append(clock() - s)
            n += 1
        return tm.round(n, lat)


async def ours_concurrent_send(namesrv: str, topic: str, size: int, tasks: int, count: int, seconds: float) -> Round:
    from rmqcore.client import Message

    body = b"x" * size
    lat: list[int] = []
    done = 0
    async with new_producer(namesrv, f"conc{tasks}") as producer:
        for _ in range(100):
            await producer.send(Message(topic, body))
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns

        async def worker() -> None:
            nonlocal done
            while done < count and not bound.expired():
                done += 1
                s = clock()
                await producer.send(Message(topic, body))
                lat.append(clock() - s)

        tm = Timed()
        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(worker)
        return tm.round(len(lat), lat)


async def ours_batch_send(namesrv: str, topic: str, size: int, batch: int, count: int, seconds: float, tasks: int = 1) -> Round:
    """``count`` messages in batches of ``batch`` from ``tasks`` concurrent senders; latency per batch."""
    from rmqcore.client import Message

    body = b"x" * size
    lat: list[int] = []
    sent = 0
    async with new_producer(namesrv, f"batch{batch}x{tasks}") as producer:
        await producer.send([Message(topic, body) for _ in range(batch)])
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns

        async def worker() -> None:
            nonlocal sent
            while sent < count and not bound.expired():
                sent += batch
                msgs = [Message(topic, body) for _ in range(batch)]
                s = clock()
                await producer.send(msgs)
                lat.append(clock() - s)

        tm = Timed()
        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(worker)
        return tm.round(len(lat) * batch, lat)


async def ours_queues(namesrv: str, topic: str) -> list[Any]:
    from rmqcore.client import PullConsumer

    async with PullConsumer(CGROUP, namesrv_addr=namesrv, instance_name="q") as consumer:
        return await consumer.fetch_subscribe_message_queues(topic)


async def ours_pull(namesrv: str, topic: str, batch: int, count: int, seconds: float, parallel: bool = False) -> Round:
    """``PullConsumer.pull`` of ``batch`` from offset 0 of each queue (decoded messages)."""
    from rmqcore.client import PullConsumer, PullStatus

    lat: list[int] = []
    got = 0
    async with PullConsumer(CGROUP, namesrv_addr=namesrv, instance_name=f"pull{parallel}") as consumer:
        queues = await consumer.fetch_subscribe_message_queues(topic)
        offsets = {mq: 0 for mq in queues}
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns

        async def drain(mqs: list[Any]) -> None:
            nonlocal got
            live = list(mqs)
            while live and got < count and not bound.expired():
                for mq in list(live):
                    s = clock()
                    result = await consumer.pull(mq, "*", offsets[mq], batch)
                    lat.append(clock() - s)
                    if result.status is not PullStatus.FOUND:
                        live.remove(mq)
                        continue
                    got += len(result.msg_found_list)
                    offsets[mq] = result.next_begin_offset

        tm = Timed()
        async with anyio.create_task_group() as tg:
            if parallel:
                for mq in queues:
                    tg.start_soon(drain, [mq])
            else:
                tg.start_soon(drain, queues)
        return tm.round(got, lat)


def ours_facade_pull(namesrv: str, topic: str, batch: int, count: int, seconds: float) -> Round:
    """``rmqcore.client.sync.PullConsumer.pull`` of ``batch``, one queue after another, from
    this thread (decoded messages; each pull a request on this thread's blocking connection,
    as redis-py's XREADGROUP is)."""
    from rmqcore.client import PullStatus, sync

    lat: list[int] = []
    got = 0
    with sync.PullConsumer(CGROUP, namesrv_addr=namesrv, instance_name="pullfacade") as consumer:
        queues = consumer.fetch_subscribe_message_queues(topic)
        offsets = {mq: 0 for mq in queues}
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns
        pull = consumer.pull
        live = list(queues)
        tm = Timed()
        while live and got < count and not bound.expired():
            for mq in list(live):
                s = clock()
                result = pull(mq, "*", offsets[mq], batch)
                lat.append(clock() - s)
                if result.status is not PullStatus.FOUND:
                    live.remove(mq)
                    continue
                got += len(result.msg_found_list)
                offsets[mq] = result.next_begin_offset
        return tm.round(got, lat)


# ---- ours: raw channel (no client layer) -------------------------------------------------------
@contextlib.asynccontextmanager
async def raw_channel(addr: str) -> Any:
    """A bare connection on the transport the client itself uses (``ProtocolChannel`` on
    anyio's asyncio backend, with or without uvloop), without the client layer."""
    from rmqcore.transport import connect_channel

    host, port = addr.rsplit(":", 1)
    channel = await connect_channel(host, int(port), remote_addr=addr)
    try:
        yield channel
    finally:
        await channel.close()


def raw_send_request(topic: str, body: bytes, queue_id: int) -> Any:
    from rmqcore.message import encode_properties, new_uniq_key
    from rmqcore.remoting import RequestCode, make_request
    from rmqcore.remoting.headers import SendMessageRequestHeaderV2

    header = SendMessageRequestHeaderV2(
        producer_group=GROUP, topic=topic, default_topic="TBW102", default_topic_queue_nums=TOPIC_QUEUES,
        queue_id=queue_id, sys_flag=0, born_timestamp=int(time.time() * 1000), flag=0,
        properties=encode_properties({"UNIQ_KEY": new_uniq_key(), "WAIT": "true"}), reconsume_times=0,
        unit_mode=False, max_reconsume_times=16, batch=False, broker_name="broker-a",
    )  # fmt: skip
    return make_request(RequestCode.SEND_MESSAGE_V2, header, body)


async def raw_sync_send(broker: str, topic: str, size: int, count: int, seconds: float) -> Round:
    body = b"x" * size
    async with raw_channel(broker) as channel:
        for i in range(200):
            await channel.request(raw_send_request(topic, body, i % TOPIC_QUEUES), 3.0)
        lat: list[int] = []
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns
        tm = Timed()
        n = 0
        while n < count and not bound.expired():
            cmd = raw_send_request(topic, body, n % TOPIC_QUEUES)
            s = clock()
            response = await channel.request(cmd, 3.0)
            lat.append(clock() - s)
            assert response.code == 0, response.remark
            n += 1
        return tm.round(n, lat)


def raw_pull_request(topic: str, queue_id: int, offset: int, batch: int) -> Any:
    from rmqcore.message import constants as C
    from rmqcore.remoting import RequestCode, make_request
    from rmqcore.remoting.headers import PullMessageRequestHeader

    header = PullMessageRequestHeader(
        consumer_group=CGROUP, topic=topic, queue_id=queue_id, queue_offset=offset, max_msg_nums=batch,
        sys_flag=C.PULL_FLAG_SUBSCRIPTION, commit_offset=0, suspend_timeout_millis=0, sub_version=0,
        subscription="*", expression_type="TAG",
    )  # fmt: skip
    return make_request(RequestCode.PULL_MESSAGE, header)


async def raw_pull(broker: str, topic: str, batch: int, count: int, seconds: float, parallel: bool) -> Round:
    """PULL_MESSAGE over a bare connection; messages counted from nextBeginOffset, body not decoded."""
    lat: list[int] = []
    got = 0
    async with raw_channel(broker) as channel:
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns

        async def drain(queue_ids: list[int]) -> None:
            nonlocal got
            offsets = {q: 0 for q in queue_ids}
            live = list(queue_ids)
            while live and got < count and not bound.expired():
                for q in list(live):
                    s = clock()
                    response = await channel.request(raw_pull_request(topic, q, offsets[q], batch), 3.0)
                    lat.append(clock() - s)
                    if response.code != 0:
                        live.remove(q)
                        continue
                    nxt = int(response.ext_fields["nextBeginOffset"])
                    got += nxt - offsets[q]
                    offsets[q] = nxt

        tm = Timed()
        async with anyio.create_task_group() as tg:
            if parallel:
                for q in range(TOPIC_QUEUES):
                    tg.start_soon(drain, [q])
            else:
                tg.start_soon(drain, list(range(TOPIC_QUEUES)))
        return tm.round(got, lat)


# ---- Redis -------------------------------------------------------------------------------------
def redis_sync_xadd(url: str, stream: str, size: int, count: int, seconds: float) -> Round:
    import redis

    r = redis.Redis.from_url(url)
    body = b"x" * size
    for _ in range(200):
        r.xadd(stream, {"b": body})
    lat: list[int] = []
    bound = Bound(count, seconds)
    clock = time.perf_counter_ns
    tm = Timed()
    n = 0
    while n < count and not bound.expired():
        s = clock()
        r.xadd(stream, {"b": body})
        lat.append(clock() - s)
        n += 1
    result = tm.round(n, lat)
    r.close()
    return result


async def redis_async_xadd(url: str, stream: str, size: int, tasks: int, count: int, seconds: float) -> Round:
    import redis.asyncio as aredis

    r = aredis.Redis.from_url(url, max_connections=max(tasks, 2))
    body = b"x" * size
    lat: list[int] = []
    done = 0
    try:
        for _ in range(100):
            await r.xadd(stream, {"b": body})
        bound = Bound(count, seconds)
        clock = time.perf_counter_ns

        async def worker() -> None:
            nonlocal done
            while done < count and not bound.expired():
                done += 1
                s = clock()
                await r.xadd(stream, {"b": body})
                lat.append(clock() - s)

        tm = Timed()
        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(worker)
        return tm.round(len(lat), lat)
    finally:
        await r.aclose()


def redis_pipelined_xadd(url: str, stream: str, size: int, batch: int, count: int, seconds: float) -> Round:
    import redis

    r = redis.Redis.from_url(url)
    body = b"x" * size
    lat: list[int] = []
    bound = Bound(count, seconds)
    clock = time.perf_counter_ns
    tm = Timed()
    n = 0
    while n < count and not bound.expired():
        s = clock()
        pipe = r.pipeline(transaction=False)
        for _ in range(batch):
            pipe.xadd(stream, {"b": body})
        pipe.execute()
        lat.append(clock() - s)
        n += batch
    result = tm.round(n, lat)
    r.close()
    return result


def redis_xreadgroup(url: str, stream: str, group: str, batch: int, count: int, seconds: float) -> Round:
    import redis

    r = redis.Redis.from_url(url)
    with contextlib.suppress(redis.ResponseError):
        r.xgroup_destroy(stream, group)
    r.xgroup_create(stream, group, id="0")
    lat: list[int] = []
    got = 0
    bound = Bound(count, seconds)
    clock = time.perf_counter_ns
    tm = Timed()
    while got < count and not bound.expired():
        s = clock()
        reply = r.xreadgroup(group, "c1", {stream: ">"}, count=batch)
        lat.append(clock() - s)
        if not reply or not reply[0][1]:
            break
        got += len(reply[0][1])
    result = tm.round(got, lat)
    r.close()
    return result


async def _queues_when_routed(consumer: Any, topic: str, timeout: float = 35.0) -> list[Any]:
    """The topic's queues once the name server has its route (a new topic is registered by the broker shortly after creation)."""
    from rmqcore.client import NoRouteError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await consumer.fetch_subscribe_message_queues(topic)
        except NoRouteError:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.1)


# ---- publish -> consume latency with a long-polling consumer -----------------------------------
async def ours_delivery_latency(namesrv: str, topic: str, count: int, interval_s: float, seconds: float) -> Round:
    """One producer sends ``count`` messages ``interval_s`` apart (born time in the body) while a
    consumer long-polls every queue (``pull_block_if_not_found``); latency = receive - send.
    Messages not received by the end (``seconds`` after the last send) are reported as lost
    in the round's count (``messages`` = received)."""
    from rmqcore.client import Message, PullConsumer, PullStatus

    lat: list[int] = []
    async with new_producer(namesrv, "lat-p") as producer, PullConsumer(CGROUP, namesrv_addr=namesrv, instance_name="lat-c") as consumer:
        await producer.send(Message(topic, b"0" * 16))  # creates the topic
        queues = await _queues_when_routed(consumer, topic)
        offsets = {mq: await consumer.max_offset(mq) for mq in queues}
        tm = Timed()
        async with anyio.create_task_group() as tg:

            async def drain(mq: Any) -> None:
                while True:
                    result = await consumer.pull_block_if_not_found(mq, "*", offsets[mq], 32)
                    now = time.perf_counter_ns()
                    if result.status is PullStatus.FOUND:
                        offsets[mq] = result.next_begin_offset
                        for m in result.msg_found_list:
                            lat.append(now - int(m.body))

            for mq in queues:
                tg.start_soon(drain, mq)
            await anyio.sleep(0.5)  # every queue parked
            for _ in range(count):
                await producer.send(Message(topic, str(time.perf_counter_ns()).encode()))
                await anyio.sleep(interval_s)
            with anyio.move_on_after(seconds):
                while len(lat) < count:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
        return tm.round(len(lat), lat)


def redis_delivery_latency(url: str, stream: str, count: int, interval_s: float, seconds: float) -> Round:
    import threading

    import redis

    r = redis.Redis.from_url(url)
    r.xgroup_create(stream, "lat", id="$", mkstream=True)
    lat: list[int] = []
    stop = threading.Event()

    def consume() -> None:
        c = redis.Redis.from_url(url)
        while not stop.is_set():
            reply = c.xreadgroup("lat", "c1", {stream: ">"}, count=32, block=100)
            now = time.perf_counter_ns()
            for _, entries in reply or ():
                for _, fields in entries:
                    lat.append(now - int(fields[b"t"]))
        c.close()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    time.sleep(0.3)
    tm = Timed()
    for _ in range(count):
        r.xadd(stream, {"t": str(time.perf_counter_ns())})
        time.sleep(interval_s)
    deadline = time.monotonic() + seconds
    while len(lat) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(5)
    r.close()
    return tm.round(len(lat), lat)


# =============================================================================================
# multi-process end-to-end: P producers + 1 consumer
# =============================================================================================
def _proc_ours_producer(namesrv: str, topic: str, size: int, count: int, seconds: float, start_at: Any, out: Any) -> None:
    quiet_logging()

    async def main() -> tuple[int, float]:
        from rmqcore.client import Message

        body = b"x" * size
        async with new_producer(namesrv, f"p{os.getpid()}") as producer:
            await producer.send(Message(topic, body))
            await anyio.to_thread.run_sync(start_at.wait, 120)
            bound = Bound(count, seconds)
            t0 = time.perf_counter()
            n = 0
            while n < count and not bound.expired():
                await producer.send(Message(topic, body))
                n += 1
            return n, time.perf_counter() - t0

    out.put(run_async(main))


def _proc_ours_consumer(namesrv: str, topic: str, expected: Any, seconds: float, start_at: Any, out: Any) -> None:
    """Pulls (32) all queues of ``topic`` in parallel until ``expected.value`` messages are read."""
    quiet_logging()

    async def main() -> tuple[int, float]:
        from rmqcore.client import PullConsumer, PullStatus

        async with PullConsumer(CGROUP, namesrv_addr=namesrv, instance_name=f"c{os.getpid()}") as consumer:
            queues = await _queues_when_routed(consumer, topic)
            offsets = {mq: await consumer.max_offset(mq) for mq in queues}
            await anyio.to_thread.run_sync(start_at.wait, 120)
            got = 0
            deadline = time.perf_counter() + seconds
            t0 = time.perf_counter()
            last = t0

            async def drain(mq: Any, scope: Any) -> None:
                nonlocal got, last
                while time.perf_counter() < deadline:
                    # Long polling, as a push consumer does: the broker parks the pull until a
                    # message arrives (or 20 s pass), so an idle consumer costs no CPU.
                    result = await consumer.pull_block_if_not_found(mq, "*", offsets[mq], 32)
                    if result.status is PullStatus.FOUND:
                        got += len(result.msg_found_list)
                        offsets[mq] = result.next_begin_offset
                        last = time.perf_counter()
                    if expected.value >= 0 and got >= expected.value:
                        scope.cancel()

            async def watchdog(scope: Any) -> None:
                while time.perf_counter() < deadline and not (expected.value >= 0 and got >= expected.value):
                    await anyio.sleep(0.05)
                scope.cancel()

            async with anyio.create_task_group() as tg:
                for mq in queues:
                    tg.start_soon(drain, mq, tg.cancel_scope)
                tg.start_soon(watchdog, tg.cancel_scope)
            return got, last - t0

    out.put(run_async(main))


def _proc_redis_producer(url: str, stream: str, size: int, count: int, seconds: float, start_at: Any, out: Any) -> None:
    import redis

    r = redis.Redis.from_url(url)
    body = b"x" * size
    r.xadd(stream, {"b": body})
    start_at.wait(120)
    bound = Bound(count, seconds)
    t0 = time.perf_counter()
    n = 0
    while n < count and not bound.expired():
        r.xadd(stream, {"b": body})
        n += 1
    out.put((n, time.perf_counter() - t0))


def _proc_redis_consumer(url: str, stream: str, expected: Any, seconds: float, start_at: Any, out: Any) -> None:
    import redis

    r = redis.Redis.from_url(url)
    with contextlib.suppress(redis.ResponseError):
        r.xgroup_create(stream, "e2e", id="$", mkstream=True)
    start_at.wait(120)
    got = 0
    deadline = time.perf_counter() + seconds
    t0 = last = time.perf_counter()
    while time.perf_counter() < deadline:
        if expected.value >= 0 and got >= expected.value:
            break
        reply = r.xreadgroup("e2e", "c1", {stream: ">"}, count=32, block=100)
        if reply and reply[0][1]:
            got += len(reply[0][1])
            last = time.perf_counter()
    out.put((got, last - t0))


def run_e2e_processes(kind: str, target: str, topic: str, producers: int, size: int, per_producer: int, seconds: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out_p, out_c = ctx.Queue(), ctx.Queue()
    expected = ctx.Value("q", -1)
    # Everyone (producers after their first send, the consumer after taking its start offsets)
    # waits at this barrier, so no message is sent before the consumer knows where to start.
    start_at = ctx.Barrier(producers + 1, timeout=120)
    prod_fn, cons_fn = (_proc_ours_producer, _proc_ours_consumer) if kind == "ours" else (_proc_redis_producer, _proc_redis_consumer)
    consumer = ctx.Process(target=cons_fn, args=(target, topic, expected, seconds + 15.0, start_at, out_c), daemon=True)
    workers = [
        ctx.Process(target=prod_fn, args=(target, topic, size, per_producer, seconds, start_at, out_p), daemon=True)
        for _ in range(producers)
    ]
    procs = [consumer, *workers]
    try:
        consumer.start()
        for w in workers:
            w.start()
        results = [out_p.get(timeout=seconds + 60) for _ in workers]
        sent = sum(n for n, _ in results)
        expected.value = sent
        produce_time = max(t for _, t in results)
        got, consume_time = out_c.get(timeout=seconds + 60)
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)
    return {
        "produced": sent,
        "produce_msgs_per_s": sent / produce_time,
        "consumed": got,
        "consume_msgs_per_s": got / consume_time if consume_time > 0 else float("nan"),
    }


# =============================================================================================
# profiles
# =============================================================================================
LAYERS = (
    ("transport", ("rmqcore/transport/",)),
    ("codec", ("rmqcore/remoting/",)),
    ("message model", ("rmqcore/message/",)),
    ("client", ("rmqcore/client/",)),
    ("broker handler", ("rmqcore/server/",)),
    ("store", ("rmqcore/store/",)),
    ("anyio", ("/anyio/",)),
    ("event loop (asyncio/uvloop)", ("/asyncio/", "uvloop", "selectors.py")),
    ("logging", ("structlog", "/logging/")),
)


def layer_of(filename: str, funcname: str = "") -> str:
    for name, needles in LAYERS:
        if any(n in filename for n in needles):
            return name
    if filename == "~":  # built-ins: attribute them by what they are
        if any(k in funcname for k in ("socket", "send", "recv", "select", "epoll", "poll")):
            return "syscalls (socket/epoll)"
        return "builtins"
    return "other"


def profile_client(fn: Callable[[], Any], per: int, out_dir: Path, name: str) -> dict[str, Any]:
    """cProfile ``fn`` (which runs a bounded load); self time per layer, µs per unit of ``per``."""
    prof = cProfile.Profile()
    prof.enable()
    result = fn()
    prof.disable()
    stats = pstats.Stats(prof)
    stats.dump_stats(str(out_dir / f"{name}.pstats"))
    per_layer: Counter[str] = Counter()
    top: list[tuple[float, str]] = []
    total = 0.0
    for (filename, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        per_layer[layer_of(filename, func)] += tt
        total += tt
        top.append((tt, f"{Path(filename).name}:{line}({func}) ncalls={nc}"))
    top.sort(reverse=True)
    n = per(result)
    return {
        "units": n,
        "total_us_per_unit": total / n * 1e6 if n else float("nan"),
        "layers_us_per_unit": {k: v / n * 1e6 for k, v in per_layer.most_common()},
        "top": [(f"{tt / n * 1e6:.2f} us", where) for tt, where in top[:15]],
    }


@contextlib.contextmanager
def pyspy(pid: int, out: Path, seconds: float) -> Iterator[dict[str, Any]]:
    """py-spy record the broker for ``seconds`` while the body runs a load; raw (collapsed) stacks."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    info: dict[str, Any] = {}
    if not Path(exe).exists():
        info["error"] = "py-spy not installed (pip install py-spy)"
        yield info
        return
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", "400", "--format", "raw", "--threads", "--output", str(out), "--duration", str(int(seconds)), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(0.5)
    try:
        yield info
    finally:
        try:
            proc.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if out.exists():
            try:
                info.update(summarize_collapsed(out))
            except Exception as exc:  # a profile that cannot be read must not end the run
                info["error"] = f"cannot summarize {out}: {exc!r}"
        else:
            info["error"] = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")[-400:]


IDLE_LEAVES = ("select (selectors.py", "wait (threading.py", "_wait_for_tstate_lock", "sleep (", "poll (", "epoll", "get (queue.py")


def summarize_collapsed(path: Path) -> dict[str, Any]:
    """Busy samples (idle waits dropped) by layer and function, split by thread.

    py-spy's idle detection does not work in every VM, so samples whose innermost frame is
    a wait (selector, condition, sleep) are counted as idle here. The thread holding the
    event loop is the request path; the others are the store's background services.
    """
    self_layer: Counter[str] = Counter()
    self_func: Counter[str] = Counter()
    incl_layer: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    idle_by_thread: Counter[str] = Counter()
    busy = total = 0
    frame_re = re.compile(r"(.*) \((.*):(\d+)\)$")
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        thread = "?"
        if frames and frames[0].startswith("thread "):
            thread = frames.pop(0)
        kind = "event loop thread" if any("run_forever" in f or "anyio" in f and "run (" in f for f in frames) else "background threads"
        total += count
        if not frames or any(tag in frames[-1] for tag in IDLE_LEAVES):
            idle_by_thread[kind] += count
            continue
        busy += count
        by_thread[kind] += count
        m = frame_re.match(frames[-1])
        func, filename = (m.group(1), m.group(2)) if m else (frames[-1], "~")
        self_layer[f"{layer_of(filename, func)}" + ("" if kind == "event loop thread" else " [bg thread]")] += count
        self_func[f"{func} ({Path(filename).name}:{m.group(3) if m else ''})" + ("" if kind == "event loop thread" else " [bg]")] += count
        seen = set()
        for fr in frames:
            mm = frame_re.match(fr)
            if mm:
                seen.add(layer_of(mm.group(2), mm.group(1)))
        for layer in seen:
            incl_layer[layer] += count
    pct = lambda c: 100.0 * c / busy if busy else 0.0  # noqa: E731
    return {
        "samples": total,
        "busy_samples": busy,
        "busy_by_thread": dict(by_thread),
        "idle_by_thread": dict(idle_by_thread),
        "self_pct_of_busy_by_layer": {k: round(pct(v), 1) for k, v in self_layer.most_common()},
        "inclusive_pct_of_busy_by_layer": {k: round(pct(v), 1) for k, v in incl_layer.most_common()},
        "top_self": [(round(pct(v), 1), k) for k, v in self_func.most_common(20)],
    }


# =============================================================================================
# the run
# =============================================================================================
SEND_ASYNCIO = "rmqcore Producer.send, asyncio loop"
SEND_UVLOOP = "rmqcore Producer.send, uvloop"
SEND_FACADE = "rmqcore sync.Producer.send (facade)"
SEND_RAW = "rmqcore raw ProtocolChannel, uvloop (no client)"
SEND_REDIS = "Redis XADD (redis-py sync)"
PULL_DECODED_1 = "rmqcore PullConsumer.pull (decoded), uvloop"
PULL_DECODED_4 = "rmqcore PullConsumer.pull, 4 queues ||, uvloop"
PULL_DECODED_4_ASYNCIO = "rmqcore PullConsumer.pull, 4 queues ||, asyncio"
PULL_FACADE = "rmqcore sync.PullConsumer.pull (decoded, facade)"
PULL_RAW_1 = "rmqcore raw PULL (not decoded), uvloop"
PULL_RAW_4 = "rmqcore raw PULL, 4 queues ||, uvloop"

def code_state() -> str:
    """What was measured: where ``rmqcore`` is imported from and, for this checkout,
    ``git describe --always --dirty`` plus the modified files under src/.

    ``RMQCORE_BENCH_CODE`` (free text, e.g. the commit of a snapshot put on PYTHONPATH) is
    reported instead of the checkout's state when set."""
    import rmqcore

    where = str(Path(rmqcore.__file__).resolve().parent.parent)
    label = os.environ.get("RMQCORE_BENCH_CODE")
    if label:
        return f"{label} (rmqcore imported from {where})"
    root = HERE.parent
    try:
        desc = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return desc + (f"; uncommitted in src/: {', '.join(changed)}" if changed else "") + f" (rmqcore imported from {where})"


def fmt(v: float | None, unit: str = "") -> str:
    if v is None or v != v:
        return "-"
    if unit == "rate":
        return f"{v / 1e3:,.1f} k" if v >= 1e3 else f"{v:,.0f}"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def print_table(rows: list[Row], pairs: list[tuple[str, str, str, str]]) -> None:
    print()
    print(f"{'workload':<36} {'system':<42} {'msgs/s':>9} {'p50 us':>8} {'p99 us':>8} {'cpu us/msg':>10} {'srv cpu':>8} {'n':>8} {'load':>5}")
    print(f"{'':<36} {'':<42} {'':>9} {'':>8} {'':>8} {'(client)':>10} {'us/msg':>8}")
    print("-" * 138)
    for r in rows:
        if r.msgs_per_s is None:
            print(f"{r.workload:<36} {r.system:<42} {r.note}")
            continue
        print(
            f"{r.workload:<36} {r.system:<42} {fmt(r.msgs_per_s, 'rate'):>9} {fmt(r.p50_us):>8} {fmt(r.p99_us):>8} "
            f"{fmt(r.client_cpu_us):>10} {fmt(r.server_cpu_us):>8} {r.count:>8} {r.load:>5.1f}"
        )
    if pairs:
        print()
        print("ratios (ours / Redis) and targets")
        index = {(r.workload, r.system): r for r in rows}
        for (w1, s1), (w2, s2), metric, target in [((a[0], a[1]), (b[0], b[1]), m, t) for a, b, m, t in pairs]:
            ours, theirs = index.get((w1, s1)), index.get((w2, s2))
            if ours is None or theirs is None:
                print(f"  {w1} [{s1}] vs {w2} [{s2}]: not measured")
                continue
            if metric == "p50":
                ratio = ours.p50_us / theirs.p50_us  # type: ignore[operator]
                verdict = "(no target)" if target is None else f"(target <= {target}x) {'met' if ratio <= target else 'MISSED'}"
                print(f"  {w1} [{s1}] p50 / {w2} [{s2}] p50 = {ratio:6.2f}x  {verdict}")
            else:
                ratio = ours.msgs_per_s / theirs.msgs_per_s  # type: ignore[operator]
                verdict = "(no target)" if target is None else f"(target >= {target}x) {'met' if ratio >= target else 'MISSED'}"
                print(f"  {w1} [{s1}] msgs/s / {w2} [{s2}] msgs/s = {ratio:6.2f}x  {verdict}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller counts and shorter limits (~1 minute)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per workload; rows are medians (default 3)")
    ap.add_argument("--count", type=int, default=5000, help="sync sends per round (default 5000)")
    ap.add_argument("--seconds", type=float, default=5.0, help="time limit per round (default 5 s)")
    ap.add_argument("--backlog", type=int, default=1_000_000, help="pull backlog in messages (default 1 M)")
    ap.add_argument("--e2e-seconds", type=float, default=4.0, help="produce time of each multi-process run")
    ap.add_argument("--producers", default="1,4,16", help="producer processes of the end-to-end runs")
    ap.add_argument("--uvloop", action="store_true", help="also run our workloads with uvloop (client and a uvloop broker)")
    ap.add_argument("--profile", action="store_true", help="cProfile the client and py-spy the broker")
    ap.add_argument("--no-redis", action="store_true", help="skip the Redis side")
    ap.add_argument("--install-redis", action="store_true", help="apt-get/pip install redis-server and redis-py if missing")
    ap.add_argument("--only", default="", help="comma list of sections: startup,send,concurrent,batch,pull,latency,e2e,profile,uvloop")
    ap.add_argument("--json", type=Path, help="write every figure to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, profiles)")
    args = ap.parse_args(argv)
    if args.quick:
        args.count, args.seconds, args.rounds = min(args.count, 2000), min(args.seconds, 2.0), min(args.rounds, 2)
        args.backlog, args.e2e_seconds = min(args.backlog, 100_000), min(args.e2e_seconds, 2.0)
    sections = set(args.only.split(",")) if args.only else {"startup", "send", "concurrent", "batch", "pull", "latency", "e2e"}
    if args.profile:
        sections.add("profile")
    if args.uvloop:
        sections.add("uvloop")
    quiet_logging()

    work = Path(tempfile.mkdtemp(prefix="rmqcore-e2e-bench-"))
    print(f"work directory: {work}  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {loadavg():.1f})")
    rows: list[Row] = []
    report: dict[str, Any] = {"rows": rows, "code": code_state(), "cpus": os.cpu_count(), "load_at_start": loadavg()}
    print(f"code: {report['code']}")
    stack = contextlib.ExitStack()
    rounds, count, secs = args.rounds, args.count, args.seconds
    try:
        # ---- Redis --------------------------------------------------------------------------
        redis_url: str | None = None
        if not args.no_redis:
            try:
                ensure_redis_py(install=args.install_redis)
                redis_srv = stack.enter_context(RedisServer(install=args.install_redis))
                redis_url = redis_srv.url
                print(f"redis-server on 127.0.0.1:{redis_srv.port} (--save '' --appendonly no)")
            except RedisUnavailable as exc:
                print(f"SKIPPING the Redis side: {exc}")
        # ---- our servers ---------------------------------------------------------------------
        namesrv = start_namesrv(work)
        stack.callback(namesrv.stop)
        ns = namesrv.addr
        if "startup" in sections:
            print("broker start-up and idle memory")
            report["startup"] = measure_startup(work, ns, runs=5 if not args.quick else 3, idle_s=3.0)
            print_startup(report["startup"])
            if redis_url:
                report["redis_idle_rss_kb"] = redis_srv.rss_kb()
                print(f"  redis-server idle VmRSS {(redis_srv.rss_kb() or 0) / 1024:.1f} MB")
        broker = start_broker(work, ns)
        stack.callback(broker.stop)
        print(f"name server {ns}, broker {broker.addr} (boot {broker.boot_s * 1e3:.0f} ms)")

        redis_pid = redis_srv.proc.pid if redis_url and redis_srv.proc else None

        def compare(workload: str, contenders: list[tuple[str, int | None, Callable[[], Round]]], note: str = "") -> None:
            """Rounds interleaved across contenders (A B C, A B C, ...) so all see the same machine load."""
            global SERVER_PID
            results: dict[str, list[Round]] = defaultdict(list)
            failed: dict[str, str] = {}
            for _ in range(rounds):
                for system, pid, fn in contenders:
                    if system in failed:
                        continue
                    SERVER_PID = pid
                    try:
                        results[system].append(fn())
                    except Exception as exc:  # reported as a row note; the other contenders go on
                        failed[system] = f"{type(exc).__name__}: {exc}"[:300]
                        print(f"  {workload:<36} {system:<42} FAILED: {failed[system]}")
            SERVER_PID = None
            for system, _, _ in contenders:
                if system in failed:
                    rows.append(Row(workload, system, note=f"FAILED: {failed[system]}"))
                    continue
                row = median_row(workload, system, results[system], note)
                rows.append(row)
                print(
                    f"  {workload:<36} {system:<42} {fmt(row.msgs_per_s, 'rate'):>9} msgs/s  p50 {fmt(row.p50_us):>6} us  "
                    f"p99 {fmt(row.p99_us):>7} us  cpu/msg client {fmt(row.client_cpu_us):>5} us  server {fmt(row.server_cpu_us):>5} us  load {row.load:.1f}"
                )

        bpid = broker.pid
        A = run_async
        UV = lambda *a: run_async(*a, uvloop=True)  # noqa: E731

        # ---- produce --------------------------------------------------------------------------
        if "send" in sections:
            print("sync send, one producer (client loop: asyncio / uvloop; the broker runs as it ships)")
            for size in (128, 1024):
                cs = [
                    (SEND_ASYNCIO, bpid, lambda size=size: A(ours_sync_send, ns, f"SyncT{size}", size, count, secs)),
                    (SEND_UVLOOP, bpid, lambda size=size: UV(ours_sync_send, ns, f"SyncT{size}", size, count, secs)),
                    (SEND_FACADE, bpid, lambda size=size: ours_facade_send(ns, f"SyncT{size}", size, count, secs)),
                    (SEND_RAW, bpid, lambda size=size: UV(raw_sync_send, broker.addr, f"RawT{size}", size, count, secs)),
                ]
                if redis_url:
                    cs.append((SEND_REDIS, redis_pid, lambda size=size: redis_sync_xadd(redis_url, f"sync{size}", size, count, secs)))
                compare(f"sync send {size} B", cs)
        if "concurrent" in sections:
            print("16 concurrent senders")
            cs = [("rmqcore 16 tasks, 1 Producer", bpid, lambda: A(ours_concurrent_send, ns, "ConcT", 128, 16, count * 4, secs))]
            if redis_url:
                cs.append(("Redis 16 tasks XADD (redis.asyncio)", redis_pid, lambda: A(redis_async_xadd, redis_url, "conc", 128, 16, count * 4, secs)))
            compare("16 concurrent sync senders, 128 B", cs)
        if "batch" in sections:
            print("batch send of 64")
            cs = [("rmqcore Producer.send(list)", bpid, lambda: A(ours_batch_send, ns, "BatchT", 128, 64, count * 20, secs))]
            if redis_url:
                cs.append(("Redis pipeline of 64 XADD", redis_pid, lambda: redis_pipelined_xadd(redis_url, "batch", 128, 64, count * 20, secs)))
            compare("batch of 64 x 128 B", cs)
        # ---- consume ---------------------------------------------------------------------------
        if "pull" in sections:
            backlog = args.backlog
            print(f"pull backlog: {backlog:,} x 128 B")
            t0 = time.perf_counter()
            fill = A(ours_batch_send, ns, "PullT", 128, 64, backlog, 600.0, 4)
            fill_s = time.perf_counter() - t0
            report["backlog_fill"] = {"messages": fill.messages, "seconds": fill_s, "how": "Producer.send(list of 64), 4 concurrent tasks", "load": loadavg()}
            print(f"  filled {fill.messages:,} messages in {fill_s:.1f} s ({fill.messages / fill_s / 1e3:.1f} k msgs/s) with batch sends of 64 from 4 tasks")
            n_pull = min(fill.messages, backlog)
            ps = secs * 2
            cs = [
                (PULL_DECODED_1, bpid, lambda: UV(ours_pull, ns, "PullT", 32, n_pull, ps, False)),
                (PULL_DECODED_4, bpid, lambda: UV(ours_pull, ns, "PullT", 32, n_pull, ps, True)),
                (PULL_DECODED_4_ASYNCIO, bpid, lambda: A(ours_pull, ns, "PullT", 32, n_pull, ps, True)),
                (PULL_FACADE, bpid, lambda: ours_facade_pull(ns, "PullT", 32, n_pull, ps)),
                (PULL_RAW_1, bpid, lambda: UV(raw_pull, broker.addr, "PullT", 32, n_pull, ps, False)),
                (PULL_RAW_4, bpid, lambda: UV(raw_pull, broker.addr, "PullT", 32, n_pull, ps, True)),
            ]
            if redis_url:
                t0 = time.perf_counter()
                fr = redis_pipelined_xadd(redis_url, "pull", 128, 1000, backlog, 600.0)
                rfill = time.perf_counter() - t0
                report["redis_backlog_fill"] = {"messages": fr.messages, "seconds": rfill, "how": "pipelines of 1000 XADD"}
                print(f"  redis filled {fr.messages:,} in {rfill:.1f} s (pipelines of 1000 XADD)")
                cs.append(("Redis XREADGROUP COUNT 32", redis_pid, lambda: redis_xreadgroup(redis_url, "pull", "g32", 32, n_pull, ps)))
                cs.append(("Redis XREADGROUP COUNT 1000", redis_pid, lambda: redis_xreadgroup(redis_url, "pull", "g1000", 1000, n_pull, ps)))
            compare(f"pull from a {n_pull // 1000:,}k backlog", cs, note="reads from offset 0 each round, stops at the count or time bound")
        if "latency" in sections:
            print("publish -> consume latency, long-polling consumer, 1 message every 2 ms")
            cs = [("rmqcore Producer -> PullConsumer long poll", bpid, lambda: A(ours_delivery_latency, ns, f"LatT{time.time_ns()}", 1000, 0.002, 25.0))]
            if redis_url:
                cs.append(("Redis XADD -> XREADGROUP BLOCK", redis_pid, lambda: redis_delivery_latency(redis_url, f"lat{time.time_ns()}", 1000, 0.002, 25.0)))
            compare("delivery latency (1000 msgs; n = received)", cs, note="n < 1000 means messages not delivered within 25 s")
        # ---- multi-process end-to-end ------------------------------------------------------------
        if "e2e" in sections:
            report["e2e"] = []
            print("end-to-end: P producer processes (sync send 128 B) + 1 consumer process (pull 32)")
            for p in [int(x) for x in args.producers.split(",") if x]:
                per = 200_000
                for kind, target in (("ours", ns), ("redis", redis_url)):
                    if target is None:
                        continue
                    topic = f"E2E{p}" if kind == "ours" else f"e2e{p}"
                    if kind == "ours":  # create the topic (4 queues) before the consumer looks it up
                        run_async(ours_sync_send, ns, topic, 128, 1, 1.0, 1)
                    pid = bpid if kind == "ours" else redis_pid
                    res = []
                    for i in range(max(1, rounds - 1)):
                        s0, l0 = proc_cpu_s(pid), loadavg()
                        r = run_e2e_processes(kind, target, topic if kind == "ours" else f"{topic}-{i}", p, 128, per, args.e2e_seconds)
                        r["server_cpu_us_per_msg"] = (proc_cpu_s(pid) - s0) / max(1, r["produced"]) * 1e6
                        r["loadavg_1m"] = max(l0, loadavg())
                        res.append(r)
                    med = {k: statistics.median(r[k] for r in res) for k in res[0]}
                    med.update(kind=kind, producers=p)
                    report["e2e"].append(med)
                    print(
                        f"  {kind:<6} {p:>2} producers: produce {med['produce_msgs_per_s'] / 1e3:7.1f} k msgs/s, consume {med['consume_msgs_per_s'] / 1e3:7.1f} k msgs/s "
                        f"({int(med['consumed'])}/{int(med['produced'])}), server cpu {med['server_cpu_us_per_msg']:.0f} us/msg (produce + consume), load {med['loadavg_1m']:.1f}"
                    )
        # ---- profiles ----------------------------------------------------------------------------
        if "profile" in sections:
            prof_dir = work / "profiles"
            prof_dir.mkdir(exist_ok=True)
            report["profiles"] = prof = {}
            n = min(count, 3000)
            if "backlog_fill" not in report:
                A(ours_batch_send, ns, "PullT", 128, 64, 200_000, 120.0, 4)
            prof["client_sync_send"] = profile_client(lambda: run_async(ours_sync_send, ns, "ProfT", 128, n, 30.0, 200), lambda r: r.messages, prof_dir, "client_sync_send")
            prof["client_pull"] = profile_client(lambda: run_async(ours_pull, ns, "PullT", 32, 200_000, 30.0, False), lambda r: r.messages, prof_dir, "client_pull")
            prof["client_batch"] = profile_client(lambda: run_async(ours_batch_send, ns, "ProfB", 128, 64, 64 * 1000, 30.0, 1), lambda r: r.messages, prof_dir, "client_batch")
            with pyspy(broker.pid, prof_dir / "broker_sync_send.txt", 6) as info:
                run_async(ours_sync_send, ns, "ProfS", 128, 10**6, 6.0, 0)
            prof["broker_sync_send"] = info
            with pyspy(broker.pid, prof_dir / "broker_raw_send.txt", 6) as info:
                run_async(raw_sync_send, broker.addr, "ProfR", 128, 10**6, 6.0)
            prof["broker_raw_send"] = info
            with pyspy(broker.pid, prof_dir / "broker_pull.txt", 6) as info:
                run_async(raw_pull, broker.addr, "PullT", 32, 10**7, 6.0, False)
            prof["broker_pull"] = info
            with pyspy(broker.pid, prof_dir / "broker_batch.txt", 6) as info:
                run_async(ours_batch_send, ns, "ProfBB", 128, 64, 10**7, 6.0, 1)
            prof["broker_batch"] = info
            print_profiles(prof)
        # ---- uvloop --------------------------------------------------------------------------------
        if "uvloop" in sections:
            try:
                import uvloop  # noqa: F401
            except ImportError:
                print("SKIPPING uvloop: not installed (pip install uvloop; benchmark only)")
            else:
                print("uvloop: client and broker each on asyncio or uvloop (both brokers under python -O, each with its own name server)")
                ns_a = start_namesrv(work)
                stack.callback(ns_a.stop)
                ns_u = start_namesrv(work)
                stack.callback(ns_u.stop)
                asb = start_broker(work, ns_a.addr, name="asyncio-O-broker", uvloop=False)
                stack.callback(asb.stop)
                uvb = start_broker(work, ns_u.addr, name="uvloop-O-broker", uvloop=True)
                stack.callback(uvb.stop)
                compare("uvloop: sync send 128 B", [
                    ("Producer.send, asyncio both", asb.pid, lambda: A(ours_sync_send, ns_a.addr, "UvT", 128, count, secs)),
                    ("Producer.send, uvloop client", asb.pid, lambda: UV(ours_sync_send, ns_a.addr, "UvT", 128, count, secs)),
                    ("Producer.send, uvloop broker", uvb.pid, lambda: A(ours_sync_send, ns_u.addr, "UvT", 128, count, secs)),
                    ("Producer.send, uvloop both", uvb.pid, lambda: UV(ours_sync_send, ns_u.addr, "UvT", 128, count, secs)),
                    ("raw ProtocolChannel, asyncio both", asb.pid, lambda: A(raw_sync_send, asb.addr, "UvR", 128, count, secs)),
                    ("raw ProtocolChannel, uvloop client", asb.pid, lambda: UV(raw_sync_send, asb.addr, "UvR", 128, count, secs)),
                    ("raw ProtocolChannel, uvloop broker", uvb.pid, lambda: A(raw_sync_send, uvb.addr, "UvR", 128, count, secs)),
                    ("raw ProtocolChannel, uvloop both", uvb.pid, lambda: UV(raw_sync_send, uvb.addr, "UvR", 128, count, secs)),
                ])  # fmt: skip
                compare("uvloop: batch of 64 x 128 B", [
                    ("Producer.send(list), asyncio both", asb.pid, lambda: A(ours_batch_send, ns_a.addr, "UvB", 128, 64, count * 20, secs)),
                    ("Producer.send(list), uvloop client", asb.pid, lambda: UV(ours_batch_send, ns_a.addr, "UvB", 128, 64, count * 20, secs)),
                    ("Producer.send(list), uvloop both", uvb.pid, lambda: UV(ours_batch_send, ns_u.addr, "UvB", 128, 64, count * 20, secs)),
                ])  # fmt: skip
                asb.stop()
                uvb.stop()
    finally:
        stack.close()
        if args.json:
            report["rows"] = [asdict(r) for r in rows]
            args.json.write_text(json.dumps(report, indent=1, default=str))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    pairs = []
    for size in (128, 1024):
        w = f"sync send {size} B"
        for sys_name in (SEND_ASYNCIO, SEND_UVLOOP, SEND_FACADE):
            pairs.append(((w, sys_name), (w, SEND_REDIS), "p50", 1.5))
        pairs.append(((w, SEND_RAW), (w, SEND_REDIS), "p50", None))
    pairs += [
        (("sync send 128 B", SEND_UVLOOP), ("sync send 128 B", SEND_REDIS), "rate", None),
        (("16 concurrent sync senders, 128 B", "rmqcore 16 tasks, 1 Producer"), ("16 concurrent sync senders, 128 B", "Redis 16 tasks XADD (redis.asyncio)"), "rate", None),
        (("batch of 64 x 128 B", "rmqcore Producer.send(list)"), ("batch of 64 x 128 B", "Redis pipeline of 64 XADD"), "rate", 1.0),
    ]
    pull_w = next((r.workload for r in rows if r.workload.startswith("pull from")), None)
    if pull_w:
        for sys_name in (PULL_DECODED_1, PULL_DECODED_4, PULL_DECODED_4_ASYNCIO, PULL_FACADE, PULL_RAW_1, PULL_RAW_4):
            pairs.append(((pull_w, sys_name), (pull_w, "Redis XREADGROUP COUNT 32"), "rate", 1.0))
            pairs.append(((pull_w, sys_name), (pull_w, "Redis XREADGROUP COUNT 1000"), "rate", 1.0))
    print_table(rows, pairs if redis_url else [])
    if "startup" in report:
        print("\nbroker start-up and idle memory")
        print_startup(report["startup"])
    if report.get("e2e"):
        print("\nend-to-end (P producer processes + 1 consumer process)")
        for e in report["e2e"]:
            print(
                f"  {e['kind']:<6} {e['producers']:>2} producers: produce {e['produce_msgs_per_s'] / 1e3:7.1f} k msgs/s, consume {e['consume_msgs_per_s'] / 1e3:7.1f} k msgs/s, "
                f"server cpu {e['server_cpu_us_per_msg']:.0f} us/msg, load {e['loadavg_1m']:.1f}"
            )
    return 0


def print_profiles(prof: dict[str, Any]) -> None:
    for name, info in prof.items():
        print(f"\n== profile: {name}")
        if "error" in info:
            print("  ", info["error"])
            continue
        if "layers_us_per_unit" in info:
            print(f"  {info['units']} messages, {info['total_us_per_unit']:.1f} us of profiled self time per message (cProfile inflates it)")
            for k, v in info["layers_us_per_unit"].items():
                print(f"    {k:<30} {v:8.2f} us/msg")
            print("  top functions (self time per message):")
            for t, where in info["top"][:10]:
                print(f"    {t:>10}  {where}")
        else:
            print(f"  {info.get('samples')} samples, {info.get('busy_samples')} busy; busy by thread {info.get('busy_by_thread')}, idle {info.get('idle_by_thread')}")
            print(f"  self % of busy by layer: {info.get('self_pct_of_busy_by_layer')}")
            print(f"  inclusive % of busy by layer: {info.get('inclusive_pct_of_busy_by_layer')}")
            for pct, where in info.get("top_self", [])[:14]:
                print(f"    {pct:5.1f}%  {where}")


if __name__ == "__main__":
    sys.exit(main())
