"""Send and pull over the wire: stored bytes served as they are, statuses, long polling, filters, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from rmqcore.filter import CompiledFilter, register_filter, unregister_filter
from rmqcore.message import Message, MessageExt, decode_offset_message_id, decode_properties, decode_stored_messages, tags_code
from rmqcore.remoting import RequestCode, ResponseCode, make_request
from rmqcore.remoting.headers.send import SendMessageRequestHeader, encode_send_request_ext
from rmqcore.remoting.bodies import TopicRouteData
from rmqcore.remoting.headers.offset import GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, SearchOffsetRequestHeader
from rmqcore.remoting.headers.query import QueryMessageRequestHeader, ViewMessageRequestHeader

from rmqcore.server.config import NamesrvConfig
from rmqcore.server.namesrv import NamesrvController

from .conftest import connect, running_broker

pytestmark = pytest.mark.anyio

TOPIC = "TopicTest"
GROUP = "CG"


async def test_send_pull_round_trip_serves_stored_bytes(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        v2 = await client.send(TOPIC, b"hello v2", tags="TagA", keys="k1 k2", queue_id=1)
        v1 = await client.send(TOPIC, b"hello v1", tags="TagB", queue_id=1, code=RequestCode.SEND_MESSAGE)
        batch = await client.send_batch(TOPIC, [Message(TOPIC, b"b0", tags="TagC"), Message(TOPIC, b"b1")], queue_id=1)
        assert (v2.code, v1.code, batch.code) == (0, 0, 0), (v2.remark, v1.remark, batch.remark)
        assert [v2.ext_fields["queueOffset"], v1.ext_fields["queueOffset"], batch.ext_fields["queueOffset"]] == ["0", "1", "2"]
        assert v2.ext_fields["queueId"] == "1"
        assert len(batch.ext_fields["msgId"].split(",")) == 2

        pulled = await client.pull(GROUP, TOPIC, 1, 0)
        assert pulled.code == ResponseCode.SUCCESS
        assert pulled.ext_fields["nextBeginOffset"] == "4"
        assert (pulled.ext_fields["minOffset"], pulled.ext_fields["maxOffset"]) == ("0", "4")
        # The body is the stored records, byte for byte.
        assert pulled.body == broker.store.get_raw(TOPIC, 1, 0, 32).raw
        messages = decode_stored_messages(pulled.body)
        assert [m.body for m in messages] == [b"hello v2", b"hello v1", b"b0", b"b1"]
        assert [m.tags for m in messages] == ["TagA", "TagB", "TagC", None]
        first = messages[0]
        assert first.properties["CLUSTER"] == "DefaultCluster"
        assert first.properties["KEYS"] == "k1 k2"
        assert first.born_host[0] == "127.0.0.1"
        assert first.store_host == ("127.0.0.1", broker.port)
        # msgId is the offset message id: store host + commit-log offset (reference section 4).
        (host, commitlog_offset) = decode_offset_message_id(v2.ext_fields["msgId"])
        assert host == ("127.0.0.1", broker.port) and commitlog_offset == first.commitlog_offset
        assert v2.ext_fields["transactionId"] == first.properties["UNIQ_KEY"]

        view = await client.request(RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader(commitlog_offset))
        assert view.code == 0 and view.body == pulled.body[: first.store_size]

        query = await client.request(RequestCode.QUERY_MESSAGE, QueryMessageRequestHeader(TOPIC, "k2", 32, 0, 2**62))
        assert query.code == 0 and [m.body for m in decode_stored_messages(query.body)] == [b"hello v2"]
        missing = await client.request(RequestCode.QUERY_MESSAGE, QueryMessageRequestHeader(TOPIC, "nope", 32, 0, 2**62))
        assert missing.code == ResponseCode.QUERY_NOT_FOUND

        max_offset = await client.request(RequestCode.GET_MAX_OFFSET, GetMaxOffsetRequestHeader(TOPIC, 1))
        min_offset = await client.request(RequestCode.GET_MIN_OFFSET, GetMinOffsetRequestHeader(TOPIC, 1))
        assert (max_offset.ext_fields["offset"], min_offset.ext_fields["offset"]) == ("4", "0")
        search = await client.request(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, SearchOffsetRequestHeader(TOPIC, 1, 0))
        assert search.code == 0 and search.ext_fields["offset"] == "0"


# Stored record fields that differ between two puts of the same message (reference section 4,
# IPv4 born host): QUEUEID, QUEUEOFFSET + PHYSICALOFFSET, STORETIMESTAMP.
_PER_PUT_FIELDS = ((12, 16), (20, 36), (56, 64))


def _without_per_put_fields(record: bytes) -> bytes:
    out = bytearray(record)
    for start, end in _PER_PUT_FIELDS:
        out[start:end] = bytes(end - start)
    return bytes(out)


@pytest.mark.parametrize(
    ("properties", "as_sent"),
    [
        ("UNIQ_KEY\x01K1\x02", True),
        ("TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01K2\x02WAIT\x01true\x02", True),
        ("TAGS\x01标签\x02UNIQ_KEY\x01K3\x02", True),
        ("TAGS\x01A\x02TAGS\x01B\x02UNIQ_KEY\x01K4\x02", False),  # a repeated key: the last value, once
        ("TAGS\x01\x02UNIQ_KEY\x01K5\x02", False),  # an empty value is dropped
        ("UNIQ_KEY\x01K6", False),  # no trailing separator
        ("CLUSTER\x01Mine\x02UNIQ_KEY\x01K7\x02", False),  # the broker's CLUSTER replaces the client's
        ("TAGS\x01A\x02", False),  # no UNIQ_KEY: the broker adds one
    ],
)
async def test_single_send_stores_what_a_put_of_the_decoded_message_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, properties: str, as_sent: bool
) -> None:
    """A plain send is stored from the wire's property string (CLUSTER appended) without a
    MessageExt (``put_encoded``); the record is byte for byte what ``put`` of the decoded
    message writes."""
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        store = broker.store
        encoded_puts: list[str] = []
        put_encoded = store.put_encoded

        def spy(topic: str, *args: Any, **kwargs: Any) -> Any:
            encoded_puts.append(topic)
            return put_encoded(topic, *args, **kwargs)

        monkeypatch.setattr(store, "put_encoded", spy)
        header = SendMessageRequestHeader("PG", TOPIC, "TBW102", 4, 1, 0, 1_700_000_000_000, 3, properties=properties)
        sent = await client.request(RequestCode.SEND_MESSAGE_V2, encode_send_request_ext(header), b"body")
        assert sent.code == ResponseCode.SUCCESS, sent.remark
        assert encoded_puts == ([TOPIC] if as_sent else [])
        stored = store.get_raw(TOPIC, 1, 0, 1)
        (message,) = stored.messages
        assert sent.ext_fields["transactionId"] == message.properties["UNIQ_KEY"]
        assert int(sent.ext_fields["queueOffset"]) == message.queue_offset == 0
        assert decode_offset_message_id(sent.ext_fields["msgId"])[1] == message.commitlog_offset

        expected = decode_properties(properties)
        expected["CLUSTER"] = "DefaultCluster"
        expected.setdefault("UNIQ_KEY", message.properties["UNIQ_KEY"])
        reference = MessageExt(
            TOPIC, b"body", flag=3, properties=expected, queue_id=2, sys_flag=0, born_timestamp=1_700_000_000_000,
            born_host=message.born_host, store_host=broker.store_host,
        )  # fmt: skip
        store.put(reference, 2)
        put = store.get_raw(TOPIC, 2, 0, 1)
        assert _without_per_put_fields(stored.raw) == _without_per_put_fields(put.raw)
        # Same ConsumeQueue tag code and index keys as the put.
        tag = expected.get("TAGS")
        if tag:
            for queue_id in (1, 2):
                assert store.get_raw(TOPIC, queue_id, 0, 1, tag_codes=[tags_code(tag)]).message_count == 1
        for key in [expected["UNIQ_KEY"], *expected.get("KEYS", "").split()]:
            assert len(store.query_by_key(TOPIC, key).messages) == 2


async def test_single_sends_that_need_more_than_a_put_are_not_stored_as_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delayed, transactional, retry and reconsumed sends keep their own paths."""
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        encoded_puts: list[str] = []
        put_encoded = broker.store.put_encoded
        monkeypatch.setattr(
            broker.store, "put_encoded", lambda topic, *a, **k: (encoded_puts.append(topic), put_encoded(topic, *a, **k))[1]
        )
        assert (await client.send(TOPIC, b"delayed", properties={"DELAY": "1"})).code == ResponseCode.SUCCESS
        assert (await client.send(TOPIC, b"timer", properties={"TIMER_DELAY_SEC": "5"})).code == ResponseCode.SUCCESS
        half = await client.send(TOPIC, b"half", properties={"TRAN_MSG": "true", "PGROUP": "PG"}, sys_flag=0x4)
        assert half.code == ResponseCode.SUCCESS
        assert (await client.send(TOPIC, b"again", reconsume_times=1)).code == ResponseCode.SUCCESS
        retry = await client.send("%RETRY%CG", b"retry", reconsume_times=0)
        assert retry.code == ResponseCode.SUCCESS, retry.remark
        assert encoded_puts == []
        assert (await client.send(TOPIC, b"plain")).code == ResponseCode.SUCCESS
        assert encoded_puts == [TOPIC]


async def test_sync_flush_single_sends_put_encoded_on_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under SYNC_FLUSH a plain send is stored with put_encoded on the event loop, without
    waiting there, and answers once durable (timeouts and WAIT=false: test_sync_flush_sends.py)."""
    import threading

    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        store = broker.store
        calls: list[tuple[str, bool, bool]] = []
        put_encoded = store.put_encoded
        loop_thread = threading.get_ident()

        def spy(topic: str, *args: Any, **kwargs: Any) -> Any:
            result = put_encoded(topic, *args, **kwargs)
            calls.append((topic, threading.get_ident() == loop_thread, kwargs.get("wait_for_flush", True)))
            return result

        monkeypatch.setattr(store, "put_encoded", spy)
        sent = await client.send(TOPIC, b"durable", tags="TagA")
        assert sent.code == ResponseCode.SUCCESS and calls == [(TOPIC, True, False)]
        assert store.flushed_offset >= store.max_phy_offset
        assert [m.body for m in store.get_raw(TOPIC, 0, 0, 32).messages] == [b"durable"]


async def test_pull_statuses(tmp_path: Path) -> None:
    """Reference section 3, "Pull status → response"."""
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        await client.send(TOPIC, b"make the topic", queue_id=0)
        empty_at_zero = await client.pull(GROUP, TOPIC, 2, 0)
        assert (empty_at_zero.code, empty_at_zero.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_NOT_FOUND, "0")
        empty_at_five = await client.pull(GROUP, TOPIC, 2, 5)
        assert (empty_at_five.code, empty_at_five.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_OFFSET_MOVED, "0")
        for i in range(2):
            await client.send(TOPIC, b"m%d" % i, queue_id=2, tags="TagA")
        at_end = await client.pull(GROUP, TOPIC, 2, 2)
        assert (at_end.code, at_end.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_NOT_FOUND, "2")
        past_end = await client.pull(GROUP, TOPIC, 2, 9)
        assert (past_end.code, past_end.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_OFFSET_MOVED, "2")
        no_match = await client.pull(GROUP, TOPIC, 2, 0, subscription="TagZ")
        assert no_match.code == ResponseCode.PULL_RETRY_IMMEDIATELY
        assert no_match.ext_fields["nextBeginOffset"] == "2"
        bad_queue = await client.pull(GROUP, TOPIC, 99, 0)
        assert bad_queue.code == ResponseCode.SYSTEM_ERROR and "queueId[99] is illegal" in bad_queue.remark
        unknown = await client.pull(GROUP, "NoSuchTopic", 0, 0)
        assert unknown.code == ResponseCode.TOPIC_NOT_EXIST and "NoSuchTopic" in unknown.remark


async def test_long_poll_parks_until_a_send_arrives(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as consumer, connect(broker.port) as producer:
        await producer.send(TOPIC, b"first", queue_id=3)
        responses = []

        async def parked_pull() -> None:
            responses.append(await consumer.pull(GROUP, TOPIC, 3, 1, suspend_ms=20_000, subscription="TagB"))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(parked_pull)
                while broker.long_poll.parked_on(TOPIC, 3) == 0:
                    await anyio.wait_all_tasks_blocked()
                # A message of another tag does not wake the TagB subscriber.
                await producer.send(TOPIC, b"other tag", queue_id=3, tags="TagA")
                await anyio.wait_all_tasks_blocked()
                assert not responses and broker.long_poll.parked_on(TOPIC, 3) == 1
                await producer.send(TOPIC, b"wake up", queue_id=3, tags="TagB")
        [response] = responses
        assert response.code == ResponseCode.SUCCESS
        assert [m.body for m in decode_stored_messages(response.body)] == [b"wake up"]


async def test_long_poll_times_out_with_not_found(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        await client.send(TOPIC, b"x", queue_id=0)
        with anyio.fail_after(5):
            response = await client.pull(GROUP, TOPIC, 0, 1, suspend_ms=50)
        assert response.code == ResponseCode.PULL_NOT_FOUND
        assert broker.long_poll.parked == 0


async def test_tag_filter_by_code(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        for tag in ("TagA", "TagB", "TagC", "TagA"):
            await client.send(TOPIC, tag.encode(), tags=tag)
        response = await client.pull(GROUP, TOPIC, 0, 0, subscription="TagA || TagC")
        assert response.code == 0
        got = decode_stored_messages(response.body)
        assert [m.body for m in got] == [b"TagA", b"TagC", b"TagA"]
        assert response.ext_fields["nextBeginOffset"] == "4"
        # The ConsumeQueue holds the Java hash of the tag (reference section 5).
        assert tags_code("TagA") == 2598919


async def test_sql92_filter_needs_enable_property_filter(tmp_path: Path) -> None:
    async with running_broker(tmp_path / "off") as broker, connect(broker.port) as client:
        await client.send(TOPIC, b"x", properties={"a": "1"})
        refused = await client.pull(GROUP, TOPIC, 0, 0, subscription="a > 0", expression_type="SQL92")
        assert refused.code == ResponseCode.SYSTEM_ERROR
        assert refused.remark == "The broker does not support consumer to filter message by SQL92"

    async with running_broker(tmp_path / "on", enablePropertyFilter="true") as broker, connect(broker.port) as client:
        for i in range(6):
            await client.send(TOPIC, b"%d" % i, tags="TagA" if i % 2 else "TagB", properties={"a": str(i)})
        response = await client.pull(GROUP, TOPIC, 0, 0, subscription="a >= 2 AND TAGS = 'TagA'", expression_type="SQL92")
        assert response.code == 0
        assert [m.body for m in decode_stored_messages(response.body)] == [b"3", b"5"]
        none = await client.pull(GROUP, TOPIC, 0, 0, subscription="a > 100", expression_type="SQL92")
        assert (none.code, none.ext_fields["nextBeginOffset"]) == (ResponseCode.PULL_RETRY_IMMEDIATELY, "6")
        bad = await client.pull(GROUP, TOPIC, 0, 0, subscription="a >>> 1", expression_type="SQL92")
        assert bad.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
        unknown_type = await client.pull(GROUP, TOPIC, 0, 0, subscription="x", expression_type="NOPE")
        assert unknown_type.code == ResponseCode.FILTER_DATA_NOT_EXIST


class BodyPrefixFilter:
    """A custom filter type: keeps messages whose body starts with the expression."""

    def compile(self, expression: str) -> CompiledFilter:
        prefix = expression.encode()
        return CompiledFilter("BODYPREFIX", expression, lambda message: message.body.startswith(prefix))


async def test_registered_custom_filter_type(tmp_path: Path) -> None:
    register_filter("BODYPREFIX", BodyPrefixFilter, replace=True)
    try:
        async with running_broker(tmp_path, enablePropertyFilter="true") as broker, connect(broker.port) as client:
            for body in (b"keep-1", b"drop-2", b"keep-3"):
                await client.send(TOPIC, body)
            response = await client.pull(GROUP, TOPIC, 0, 0, subscription="keep", expression_type="BODYPREFIX")
            assert response.code == 0
            assert [m.body for m in decode_stored_messages(response.body)] == [b"keep-1", b"keep-3"]
    finally:
        unregister_filter("BODYPREFIX")


async def test_unknown_topic_and_auto_create(tmp_path: Path) -> None:
    async with running_broker(tmp_path / "off", autoCreateTopicEnable="false") as broker, connect(broker.port) as client:
        response = await client.send("NewTopic", b"x")
        assert response.code == ResponseCode.TOPIC_NOT_EXIST
        assert "topic[NewTopic] not exist" in response.remark
    async with running_broker(tmp_path / "on") as broker, connect(broker.port) as client:
        response = await client.send("NewTopic", b"x")
        assert response.code == 0
        created = broker.topics.select("NewTopic")
        assert (created.write_queue_nums, created.perm) == (4, 6)  # client asked 4 (< TBW102's 8)


async def test_send_that_creates_its_topic_answers_after_the_name_server_knows_it(tmp_path: Path) -> None:
    """As createTopicInSendMessageMethod registers before the send returns: a client that
    looks the route up right after the answer finds the topic, however slow the name server."""
    namesrv = NamesrvController(NamesrvConfig(listen_port=0, kv_config_path=""))
    register = namesrv._handlers[RequestCode.REGISTER_BROKER]
    gate = {"on": False}
    registering, release = anyio.Event(), anyio.Event()

    async def held_register(channel, cmd):
        if gate["on"]:  # a loaded name server: hold the registration until the test lets it go
            registering.set()
            await release.wait()
        return register(channel, cmd)

    namesrv._handlers[RequestCode.REGISTER_BROKER] = held_register
    async with anyio.create_task_group() as tg:
        port = await tg.start(namesrv.run)
        try:
            async with running_broker(tmp_path, namesrvAddr=f"127.0.0.1:{port}") as broker, connect(broker.port) as client:
                answers: list[Any] = []
                answered = anyio.Event()

                async def send() -> None:
                    answers.append(await client.send("FreshTopic", b"x"))
                    answered.set()

                assert (await client.send("ExistingTopic", b"w")).code == ResponseCode.SUCCESS  # created before the hold
                gate["on"] = True
                tg.start_soon(send)
                with anyio.fail_after(5):
                    await registering.wait()
                # Only the creating send waits: a send to a known topic answers while the registration is held.
                with anyio.fail_after(5):
                    other = await client.send("ExistingTopic", b"z")
                assert other.code == ResponseCode.SUCCESS
                with anyio.move_on_after(0.3):
                    await answered.wait()
                assert not answers, "the send answered before the name server had its topic"
                release.set()
                with anyio.fail_after(5):
                    await answered.wait()
                assert answers[0].code == ResponseCode.SUCCESS, answers[0].remark
                route = namesrv.handle(None, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "FreshTopic"}))
                assert route.code == ResponseCode.SUCCESS, route.remark
                assert TopicRouteData.decode(route.body).queue_datas[0].write_queue_nums == 4
                again = await client.send("FreshTopic", b"y")  # nothing created: no registration waited on
                assert again.code == ResponseCode.SUCCESS and broker.registration_in_flight is None
        finally:
            await namesrv.shutdown()
            tg.cancel_scope.cancel()


async def test_oversized_message_is_illegal(tmp_path: Path) -> None:
    async with running_broker(tmp_path, maxMessageSize="1024") as broker, connect(broker.port) as client:
        response = await client.send(TOPIC, b"x" * 1025)
        assert response.code == ResponseCode.MESSAGE_ILLEGAL
        ok = await client.send(TOPIC, b"x" * 700)
        assert ok.code == 0


async def test_handler_crash_answers_system_error_and_connection_lives(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:

        def crashing_handler(channel, cmd):  # an extension handler with a bug
            raise ZeroDivisionError("division by zero in a plug-in")

        broker.register_handler(9_001, crashing_handler)
        crashed = await client.request(9_001)
        assert crashed.code == ResponseCode.SYSTEM_ERROR
        assert "ZeroDivisionError" in crashed.remark
        unsupported = await client.request(12_345)
        assert unsupported.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED and "12345" in unsupported.remark
        malformed = await client.request(RequestCode.PULL_MESSAGE, {"topic": TOPIC})
        assert malformed.code == ResponseCode.SYSTEM_ERROR and "consumerGroup" in malformed.remark
        after = await client.send(TOPIC, b"still serving")
        assert after.code == 0


async def test_full_disk_answers_service_not_available(tmp_path: Path) -> None:
    usage = {"used": 0.5}
    async with running_broker(tmp_path, disk_usage_probe=lambda path: usage["used"]) as broker:
        async with connect(broker.port) as client:
            assert (await client.send(TOPIC, b"fits")).code == 0
            usage["used"] = 0.99  # above diskMaxUsedSpaceRatio (75 %)
            broker.store.check_disk()
            refused = await client.send(TOPIC, b"no room")
            assert refused.code == ResponseCode.SERVICE_NOT_AVAILABLE and "disk" in refused.remark
            # Reads still work while writes are refused.
            assert (await client.pull(GROUP, TOPIC, 0, 0)).code == 0
            usage["used"] = 0.5
            broker.store.check_disk()
            assert (await client.send(TOPIC, b"room again")).code == 0


async def test_oversized_frame_closes_only_that_connection(tmp_path: Path) -> None:
    async with running_broker(tmp_path, maxFrameSize="65536") as broker, connect(broker.port) as good:
        async with await anyio.connect_tcp("127.0.0.1", broker.port) as bad:
            # A length prefix past the frame limit: the broker drops this connection at once.
            await bad.send((70_000).to_bytes(4, "big") + b"\0" * 16)
            with anyio.fail_after(5), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                await bad.receive()
        assert (await good.send(TOPIC, b"unaffected")).code == 0


async def test_sync_flush_send_runs_off_the_event_loop(tmp_path: Path) -> None:
    async with running_broker(tmp_path, flushDiskType="SYNC_FLUSH") as broker, connect(broker.port) as client:
        results = []

        async def send(i: int) -> None:
            results.append(await client.send(TOPIC, b"durable %d" % i, queue_id=0))

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(send, i)
        assert sorted(int(r.ext_fields["queueOffset"]) for r in results if r.code == 0) == list(range(8))
        assert broker.store.flushed_offset >= broker.store.max_phy_offset

        # The send answers after its flush: the store's dispatch notice at the put must still
        # wake a pull parked on the event loop.
        parked = []

        async def pull() -> None:
            parked.append(await client.pull("CG", TOPIC, 0, 8, suspend_ms=20_000))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(pull)
                while broker.long_poll.parked_on(TOPIC, 0) == 0:
                    await anyio.wait_all_tasks_blocked()
                await client.send(TOPIC, b"durable, then answered", queue_id=0)
        assert [m.body for m in decode_stored_messages(parked[0].body)] == [b"durable, then answered"]


async def test_consumer_running_info_is_forwarded_to_the_consumer(tmp_path: Path) -> None:
    from rmqcore.remoting import make_response
    from rmqcore.remoting.headers.client import GetConsumerRunningInfoRequestHeader

    def answer(cmd):  # the consumer side of GET_CONSUMER_RUNNING_INFO
        if cmd.code == RequestCode.GET_CONSUMER_RUNNING_INFO:
            return make_response(cmd, 0, body=b'{"properties":{"consumeType":"CONSUME_PASSIVELY"}}')
        return None

    async with running_broker(tmp_path) as broker, connect(broker.port, answer) as consumer, connect(broker.port) as admin:
        await consumer.heartbeat("c1", consumer_group=GROUP, topics={TOPIC: "*"})
        response = await admin.request(RequestCode.GET_CONSUMER_RUNNING_INFO, GetConsumerRunningInfoRequestHeader(GROUP, "c1"))
        assert response.code == 0 and b"CONSUME_PASSIVELY" in response.body
        offline = await admin.request(RequestCode.GET_CONSUMER_RUNNING_INFO, GetConsumerRunningInfoRequestHeader(GROUP, "nobody"))
        assert offline.code == ResponseCode.SYSTEM_ERROR and "not online" in offline.remark


async def test_consume_message_directly_forwards_the_stored_message_to_the_consumer(tmp_path: Path) -> None:
    from rmqcore.message import decode_stored_message
    from rmqcore.remoting import make_response
    from rmqcore.remoting.headers.client import ConsumeMessageDirectlyResultRequestHeader

    def answer(cmd):  # the consumer side: consume the forwarded message, say how it went
        if cmd.code == RequestCode.CONSUME_MESSAGE_DIRECTLY:
            msg, _ = decode_stored_message(cmd.body)
            result = f'{{"autoCommit":true,"consumeResult":"CR_SUCCESS","order":false,"remark":"{msg.body.decode()}","spentTimeMills":1}}'
            return make_response(cmd, 0, body=result.encode())
        return None

    async with running_broker(tmp_path) as broker, connect(broker.port, answer) as consumer, connect(broker.port) as admin:
        await consumer.heartbeat("c1", consumer_group=GROUP, topics={TOPIC: "*"})
        sent = await admin.send(TOPIC, b"consume me now", queue_id=2)
        msg_id = sent.ext_fields["msgId"]
        header = ConsumeMessageDirectlyResultRequestHeader(GROUP, "c1", msg_id, topic=TOPIC)
        response = await admin.request(RequestCode.CONSUME_MESSAGE_DIRECTLY, header)
        assert response.code == 0 and b'"remark":"consume me now"' in response.body
        [forwarded] = await consumer.requests.wait_for(RequestCode.CONSUME_MESSAGE_DIRECTLY)
        assert forwarded.ext_fields["brokerName"] == broker.broker_name
        assert forwarded.ext_fields["msgId"] == msg_id

        offline = await admin.request(
            RequestCode.CONSUME_MESSAGE_DIRECTLY, ConsumeMessageDirectlyResultRequestHeader(GROUP, "nobody", msg_id)
        )
        assert offline.code == ResponseCode.SYSTEM_ERROR and offline.remark == f"The Consumer <{GROUP}> <nobody> not online"
        missing_id = msg_id[:-16] + f"{10**9:016X}"
        missing = await admin.request(
            RequestCode.CONSUME_MESSAGE_DIRECTLY, ConsumeMessageDirectlyResultRequestHeader(GROUP, "c1", missing_id)
        )
        assert missing.code == ResponseCode.SYSTEM_ERROR and missing.remark == f"message <{missing_id}> not found in this broker"
        garbage = await admin.request(
            RequestCode.CONSUME_MESSAGE_DIRECTLY, ConsumeMessageDirectlyResultRequestHeader(GROUP, "c1", "not-an-id")
        )
        assert garbage.code == ResponseCode.SYSTEM_ERROR and "not found" in garbage.remark


async def test_many_parked_pulls_each_woken_by_its_queue(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as consumer, connect(broker.port) as producer:
        await producer.send(TOPIC, b"create", queue_id=0)
        base = {q: broker.store.max_offset(TOPIC, q) for q in range(4)}
        responses: dict[int, list] = {q: [] for q in range(4)}

        async def parked(queue_id: int) -> None:
            responses[queue_id].append(await consumer.pull(GROUP, TOPIC, queue_id, base[queue_id], suspend_ms=20_000))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for queue_id in range(4):
                    for _ in range(5):
                        tg.start_soon(parked, queue_id)
                while broker.long_poll.parked < 20:
                    await anyio.wait_all_tasks_blocked()
                for queue_id in range(4):
                    await producer.send(TOPIC, b"for queue %d" % queue_id, queue_id=queue_id)
        for queue_id, got in responses.items():
            assert [r.code for r in got] == [0] * 5
            assert {decode_stored_messages(r.body)[0].body for r in got} == {b"for queue %d" % queue_id}
        assert broker.long_poll.parked == 0
