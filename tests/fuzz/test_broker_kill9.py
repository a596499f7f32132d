"""kill -9 of a broker process while producers send; restart on the same store; nothing acknowledged is lost.

The broker runs as ``rmqcore broker`` with ``flushDiskType=SYNC_FLUSH`` and small CommitLog
files (they roll during the test). Several raw-Channel producers pipeline single and batch
sends to four queues and record every acknowledged (queue, offset, UNIQ_KEY, body). After a
random number of acknowledgements the process gets SIGKILL while sends are in flight; it is
restarted on the same store directory and:

* every acknowledged message is pulled at its acknowledged queue offset, body and UNIQ_KEY
  byte for byte, and VIEW_MESSAGE_BY_ID at its CommitLog offset (from the msgId) serves it;
* each queue is contiguous from offset 0 and serves only messages some producer sent
  (acknowledged, or in flight at the kill) -- nothing torn, nothing invented.

Three kill/restart cycles append to the same store, so recovery also runs on recovered files.
"""

from __future__ import annotations

import os
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from rmqcore.message import Message, decode_offset_message_id, decode_stored_messages, encode_batch_body, new_uniq_key
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode, ResponseCode, make_request
from rmqcore.remoting.headers.send import SendMessageRequestHeader, encode_send_request_ext
from rmqcore.transport import ChannelClosed
from rmqcore.transport.channel import RequestTimeout

from tests.fuzz.live import connect, pull_request
from tests.integration.servers import ServerProcess, start_broker, write_broker_conf

pytestmark = [pytest.mark.integration, pytest.mark.crash, pytest.mark.anyio]

TOPIC = "KillTopic"
QUEUES = 4
PRODUCERS = 4
CYCLES = 3
SEED = int(os.environ.get("RMQCORE_FUZZ_SEED", "20261123"))
TIMEOUT_S = 15.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Sent:
    queue_id: int
    uniq: str
    body: bytes


@dataclass
class Ledger:
    attempted: dict[str, bytes] = field(default_factory=dict)  # UNIQ_KEY -> body, every send tried
    acked: dict[tuple[int, int], Sent] = field(default_factory=dict)  # (queue, offset) -> message
    acked_commitlog: dict[str, tuple[int, str]] = field(default_factory=dict)  # UNIQ_KEY -> (commitlog offset, msgId)
    refused: int = 0
    in_flight_at_kill: int = 0


def _header(queue_id: int, props: dict[str, str] | None, batch: bool = False) -> dict[str, str]:
    from rmqcore.message import encode_properties

    header = SendMessageRequestHeader("KillPG", TOPIC, "TBW102", QUEUES, queue_id, 0, 1_700_000_000_000, 0,
                                      properties=encode_properties(props) if props is not None else None, batch=batch)
    return encode_send_request_ext(header)


_DROPPED = (ChannelClosed, RequestTimeout, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)


async def produce(port: int, ledger: Ledger, rng: random.Random, name: str, enough: anyio.Event, kill_after: int) -> None:
    """Send until the connection drops; record acknowledgements; set ``enough`` at ``kill_after`` acks."""
    try:
        async with connect(port) as channel:
            seq = 0
            while True:
                seq += 1
                q = rng.randrange(QUEUES)
                if rng.random() < 0.2:
                    msgs = []
                    for _ in range(rng.randint(2, 5)):
                        uniq = new_uniq_key()
                        body = f"{name}-{seq}-".encode() + rng.randbytes(rng.randint(1, 1500))
                        msgs.append(Message(TOPIC, body, properties={C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: uniq}))
                        ledger.attempted[uniq] = body
                    request = make_request(RequestCode.SEND_BATCH_MESSAGE, _header(q, None, batch=True), encode_batch_body(msgs))
                    sent = [Sent(q, m.properties[C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX], m.body) for m in msgs]
                else:
                    uniq = new_uniq_key()
                    body = f"{name}-{seq}-".encode() + rng.randbytes(rng.randint(1, 3000))
                    ledger.attempted[uniq] = body
                    props = {C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: uniq, C.PROPERTY_WAIT_STORE_MSG_OK: "true"}
                    request = make_request(RequestCode.SEND_MESSAGE_V2, _header(q, props), body)
                    sent = [Sent(q, uniq, body)]
                ledger.in_flight_at_kill += 1
                try:
                    resp = await channel.request(request, TIMEOUT_S)
                except _DROPPED:
                    return  # the broker was killed under us
                finally:
                    ledger.in_flight_at_kill -= 1
                if resp.code != ResponseCode.SUCCESS:
                    # Not an acknowledgement; only a flush timeout is an acceptable refusal here.
                    ledger.refused += 1
                    assert resp.code == ResponseCode.FLUSH_DISK_TIMEOUT, (resp.code, resp.remark)
                    continue
                first = int(resp.ext_fields["queueOffset"])
                assert int(resp.ext_fields["queueId"]) == q
                msg_ids = resp.ext_fields["msgId"].split(",")
                assert len(msg_ids) == len(sent), resp.ext_fields
                for i, (m, msg_id) in enumerate(zip(sent, msg_ids)):
                    key = (q, first + i)
                    assert key not in ledger.acked, f"offset {key} acknowledged twice"
                    ledger.acked[key] = m
                    ledger.acked_commitlog[m.uniq] = (decode_offset_message_id(msg_id)[1], msg_id)
                if len(ledger.acked) >= kill_after:
                    enough.set()
    except _DROPPED:
        return  # killed before or while connecting


async def verify(port: int, ledger: Ledger) -> int:
    """Every acknowledged message is served where it was acknowledged; queues hold only sent messages."""
    served = 0
    async with connect(port) as channel:
        for q in range(QUEUES):
            offset, expected_next = 0, 0
            while True:
                resp = await channel.request(pull_request(TOPIC, q, offset, 32, group="KillCG"), TIMEOUT_S)
                if resp.code != ResponseCode.SUCCESS:
                    assert resp.code in (ResponseCode.PULL_NOT_FOUND, ResponseCode.PULL_OFFSET_MOVED), (q, resp.code, resp.remark)
                    break
                for msg in decode_stored_messages(resp.body):
                    assert msg.queue_offset == expected_next, f"queue {q}: offset {msg.queue_offset}, expected {expected_next}"
                    expected_next += 1
                    uniq = msg.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
                    assert uniq in ledger.attempted, f"queue {q} offset {msg.queue_offset}: a message nobody sent"
                    assert msg.body == ledger.attempted[uniq], f"queue {q} offset {msg.queue_offset}: body differs"
                    acked = ledger.acked.get((q, msg.queue_offset))
                    if acked is not None:
                        assert (acked.uniq, acked.body) == (uniq, msg.body), f"queue {q} offset {msg.queue_offset}"
                    served += 1
                offset = int(resp.ext_fields["nextBeginOffset"])
            missing = sorted(o for (qq, o) in ledger.acked if qq == q and o >= expected_next)
            assert not missing, f"queue {q}: acknowledged offsets {missing[:10]} (of {len(missing)}) lost; served up to {expected_next}"
        for uniq, (commitlog_offset, msg_id) in ledger.acked_commitlog.items():
            view = await channel.request(make_request(RequestCode.VIEW_MESSAGE_BY_ID, {"offset": str(commitlog_offset)}), TIMEOUT_S)
            assert view.code == ResponseCode.SUCCESS, (msg_id, view.code, view.remark)
            [msg] = decode_stored_messages(view.body)
            assert msg.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) == uniq and msg.body == ledger.attempted[uniq]
    return served


async def test_kill9_under_load_loses_no_acknowledged_message(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    store = tmp_path / "store"
    logs = tmp_path / "logs"
    conf = write_broker_conf(
        tmp_path / "broker.conf", store, "", brokerName="broker-kill", flushDiskType="SYNC_FLUSH",
        mapedFileSizeCommitLog=256 * 1024, mapedFileSizeConsumeQueue=20 * 1000,
    )
    ledger = Ledger()
    broker: ServerProcess | None = None
    try:
        for cycle in range(CYCLES):
            broker = start_broker(conf, logs, name=f"broker-cycle{cycle}")
            if cycle:
                # What the previous cycle acknowledged survived the kill and the restart.
                await verify(broker.port, ledger)
            kill_after = len(ledger.acked) + rng.randint(50, 400)
            enough = anyio.Event()
            async with anyio.create_task_group() as tg:
                for p in range(PRODUCERS):
                    tg.start_soon(produce, broker.port, ledger, random.Random(rng.random()), f"c{cycle}p{p}", enough, kill_after)
                with anyio.fail_after(60):
                    await enough.wait()
                in_flight = ledger.in_flight_at_kill
                broker.proc.send_signal(signal.SIGKILL)
                code = await anyio.to_thread.run_sync(broker.proc.wait)
                assert code == -signal.SIGKILL
            print(f"cycle {cycle}: killed with {in_flight} sends in flight; {len(ledger.acked)} acknowledged, "
                  f"{len(ledger.attempted)} attempted, {ledger.refused} refused")
        broker = start_broker(conf, logs, name="broker-final")
        served = await verify(broker.port, ledger)
        assert served >= len(ledger.acked) > 0
        # The restarted broker still takes writes after the last recovery.
        async with connect(broker.port) as channel:
            uniq = new_uniq_key()
            props = {C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: uniq, C.PROPERTY_WAIT_STORE_MSG_OK: "true"}
            resp = await channel.request(make_request(RequestCode.SEND_MESSAGE_V2, _header(0, props), b"after"), TIMEOUT_S)
            assert resp.code == ResponseCode.SUCCESS, (resp.code, resp.remark)
        recovered = [ln for ln in broker.log_text().splitlines() if "store.recovered" in ln]
        assert recovered and "abnormal_shutdown=True" in recovered[-1], recovered[-1:]
    finally:
        if broker is not None:
            broker.stop()
