"""Transactions (half, commit, rollback, check-back), delayed sends, the store lock, registration, restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from rmqcore.clock import FakeClock
from rmqcore.message import decode_offset_message_id, decode_stored_message, decode_stored_messages
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode, ResponseCode, make_request
from rmqcore.remoting.bodies.route import TopicRouteData
from rmqcore.remoting.headers.namesrv import GetRouteInfoRequestHeader
from rmqcore.remoting.headers.transaction import CheckTransactionStateRequestHeader, EndTransactionRequestHeader
from rmqcore.server.broker import BrokerController, StoreLockedError
from rmqcore.server.config import NamesrvConfig
from rmqcore.server.namesrv import NamesrvController
from rmqcore.transport import Channel

from .conftest import broker_config, connect, running_broker

pytestmark = pytest.mark.anyio

TOPIC = "TopicTest"
TX_PROPS = {C.PROPERTY_TRANSACTION_PREPARED: "true", C.PROPERTY_PRODUCER_GROUP: "PG"}


def _end(sent, commit_or_rollback: int, *, from_check: bool = False) -> EndTransactionRequestHeader:
    _, commitlog_offset = decode_offset_message_id(sent.ext_fields["msgId"])
    return EndTransactionRequestHeader(
        "PG",
        int(sent.ext_fields["queueOffset"]),
        commitlog_offset,
        commit_or_rollback,
        sent.ext_fields["transactionId"],
        from_transaction_check=from_check,
        topic=TOPIC,
    )


async def test_reject_transaction_message_refuses_half_messages_only(tmp_path: Path) -> None:
    async with running_broker(tmp_path, rejectTransactionMessage="true") as broker, connect(broker.port) as producer:
        half = await producer.send(TOPIC, b"half", properties=TX_PROPS, sys_flag=C.TRANSACTION_PREPARED_TYPE)
        assert half.code == ResponseCode.NO_PERMISSION
        assert half.remark == f"the broker[{broker.store_host[0]}:{broker.store_host[1]}] sending transaction message is forbidden"
        assert broker.store.max_offset(C.TRANS_HALF_TOPIC, 0) == 0
        assert (await producer.send(TOPIC, b"plain")).code == ResponseCode.SUCCESS


async def test_half_message_commit_and_rollback(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as producer:
        committed = await producer.send(TOPIC, b"commit me", properties=TX_PROPS, sys_flag=C.TRANSACTION_PREPARED_TYPE)
        rolled = await producer.send(TOPIC, b"roll me back", properties=TX_PROPS, sys_flag=C.TRANSACTION_PREPARED_TYPE)
        assert (committed.code, rolled.code) == (0, 0)
        assert broker.store.max_offset(TOPIC, 0) == 0  # half messages are invisible
        assert broker.store.max_offset(C.TRANS_HALF_TOPIC, 0) == 2

        assert (await producer.request(RequestCode.END_TRANSACTION, _end(committed, C.TRANSACTION_COMMIT_TYPE))).code == 0
        assert (await producer.request(RequestCode.END_TRANSACTION, _end(rolled, C.TRANSACTION_ROLLBACK_TYPE))).code == 0
        [visible] = decode_stored_messages((await producer.pull("CG", TOPIC, 0, 0)).body)
        assert visible.body == b"commit me"
        assert visible.sys_flag & C.TRANSACTION_TYPE_MASK == C.TRANSACTION_COMMIT_TYPE

        wrong_group = _end(committed, C.TRANSACTION_COMMIT_TYPE)
        wrong_group.producer_group = "SomeoneElse"
        refused = await producer.request(RequestCode.END_TRANSACTION, wrong_group)
        assert refused.code == ResponseCode.SYSTEM_ERROR


async def test_check_back_asks_the_producer_group(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000_000)
    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as producer:
        await producer.heartbeat("p1", producer_group="PG")
        sent = await producer.send(TOPIC, b"in doubt", properties=TX_PROPS, sys_flag=C.TRANSACTION_PREPARED_TYPE)
        clock.advance(6_001)  # older than transactionTimeOut (6 s)
        assert broker.check_transactions() == 1
        [check] = await producer.requests.wait_for(RequestCode.CHECK_TRANSACTION_STATE)
        assert check.is_oneway
        header = CheckTransactionStateRequestHeader.from_ext(check.ext_fields)
        assert header.msg_id == sent.ext_fields["transactionId"] and header.topic == TOPIC
        real, _ = decode_stored_message(check.body)
        assert (real.topic, real.queue_id, real.body) == (TOPIC, 0, b"in doubt")
        # The producer answers from the check: commit the re-appended half it was asked about.
        answer = EndTransactionRequestHeader(
            "PG", header.tran_state_table_offset, header.commit_log_offset, C.TRANSACTION_COMMIT_TYPE,
            header.msg_id, from_transaction_check=True, topic=TOPIC,
        )  # fmt: skip
        await producer.channel.oneway(make_request(RequestCode.END_TRANSACTION, answer))
        with anyio.fail_after(5):
            while broker.store.max_offset(TOPIC, 0) == 0:
                await anyio.wait_all_tasks_blocked()
        [committed] = decode_stored_messages((await producer.pull("CG", TOPIC, 0, 0)).body)
        assert committed.body == b"in doubt"


async def test_delayed_and_timer_messages(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000_000)
    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as client:
        delayed = await client.send(TOPIC, b"level 2", properties={C.PROPERTY_DELAY_TIME_LEVEL: "2"})
        timed = await client.send(TOPIC, b"in 3 s", properties={C.PROPERTY_TIMER_DELAY_SEC: "3"})
        assert (delayed.code, timed.code) == (0, 0), (delayed.remark, timed.remark)
        too_far = await client.send(TOPIC, b"x", properties={C.PROPERTY_TIMER_DELAY_SEC: str(4 * 86_400)})
        assert too_far.code == ResponseCode.MESSAGE_ILLEGAL
        assert broker.store.max_offset(TOPIC, 0) == 0
        clock.advance(3_000)
        assert broker.tick_delay() == 1
        clock.advance(2_000)
        assert broker.tick_delay() == 1
        got = decode_stored_messages((await client.pull("CG", TOPIC, 0, 0)).body)
        assert [m.body for m in got] == [b"in 3 s", b"level 2"]
        offsets = await client.request(RequestCode.GET_ALL_DELAY_OFFSET)
        assert offsets.code == 0 and json.loads(offsets.body)["offsetTable"]["2"] == 1


async def test_timer_checkpoint_is_served_in_the_timercheck_layout(tmp_path: Path) -> None:
    import struct

    clock = FakeClock(1_700_000_000_000)
    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as client:
        assert (await client.send(TOPIC, b"in 3 s", properties={C.PROPERTY_TIMER_DELAY_SEC: "3"})).code == 0
        before = await client.request(RequestCode.GET_TIMER_CHECK_POINT)
        assert before.code == 0 and len(before.body) == 56
        read_ms, flush_pos, queue_offset, master_offset, _state, stamp, _counter = struct.unpack(">7q", before.body)
        # The pending timer message (rmq_sys_wheel_timer offset 0) holds both marks back.
        assert (queue_offset, master_offset, flush_pos) == (0, 0, 0)
        assert read_ms < 1_700_000_003_000 and stamp == clock.now_ms()
        clock.advance(3_000)
        assert broker.tick_delay() == 1
        after = struct.unpack(">7q", (await client.request(RequestCode.GET_TIMER_CHECK_POINT)).body)
        assert after[2] == after[3] == 1 and after[0] >= 1_700_000_003_000


async def test_timer_checkpoint_without_timers_is_a_system_error(tmp_path: Path) -> None:
    async with running_broker(tmp_path, timerWheelEnable="false") as broker, connect(broker.port) as client:
        answer = await client.request(RequestCode.GET_TIMER_CHECK_POINT)
    assert (answer.code, answer.remark) == (ResponseCode.SYSTEM_ERROR, "The checkpoint is null")


async def test_store_lock_refuses_a_second_broker(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker:
        second = BrokerController(broker_config(tmp_path))
        with pytest.raises(StoreLockedError, match=f"store directory {tmp_path} is in use by another broker"):
            second.open_configs()  # what run() does first
        with pytest.raises(ExceptionGroup) as refused:
            async with anyio.create_task_group() as tg:
                await tg.start(second.run)
        assert refused.group_contains(StoreLockedError)
        # The first broker is unaffected.
        async with connect(broker.port) as client:
            assert (await client.send(TOPIC, b"still mine")).code == 0


async def test_boot_line_startup_time_and_registration(tmp_path: Path) -> None:
    namesrv = NamesrvController(NamesrvConfig(listen_port=0, kv_config_path=""))
    async with anyio.create_task_group() as tg:
        ns_port = await tg.start(namesrv.run)
        controller = BrokerController(broker_config(tmp_path, namesrvAddr=f"127.0.0.1:{ns_port}"))
        with capture_logs() as events:
            begin = time.perf_counter()
            await tg.start(controller.run)
            startup_s = time.perf_counter() - begin
        assert startup_s < 0.5
        boot = [e for e in events if e["event"].startswith("The broker[")]
        assert boot[0]["event"] == (
            f"The broker[broker-test, 127.0.0.1:{controller.port}] boot success. "
            f"serializeType=JSON and name server is 127.0.0.1:{ns_port}"
        )
        assert controller.registrar.last_results == {f"127.0.0.1:{ns_port}": "ok"}

        stream = await anyio.connect_tcp("127.0.0.1", ns_port)
        channel = Channel(stream, None)
        tg.start_soon(channel.run)
        route = await channel.request(
            make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader("TBW102")), 5
        )
        assert route.code == 0
        data = TopicRouteData.decode(route.body)
        assert data.broker_datas[0].broker_addrs == {0: f"127.0.0.1:{controller.port}"}
        # A topic created on the broker is registered at once.
        async with connect(controller.port) as client:
            await client.send("FreshTopic", b"x")
        with anyio.fail_after(5):
            while True:
                fresh = await channel.request(
                    make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader("FreshTopic")), 5
                )
                if fresh.code == 0:
                    break
                await controller.register_with_name_servers()
        await channel.close()
        await controller.shutdown()
        await namesrv.shutdown()
        tg.cancel_scope.cancel()
