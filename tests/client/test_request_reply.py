"""Request-reply: ``Producer.request`` against a real name server and broker, a consumer
answering with ``create_reply_message``; and the pieces it is made of."""

from __future__ import annotations

import zlib

import anyio
import pytest

from rmqcore.client import (
    Admin,
    ConsumeConcurrentlyStatus,
    MQBrokerError,
    MQClientError,
    Message,
    MessageExt,
    Producer,
    PushConsumer,
    RequestTimeoutError,
    sync,
)
from rmqcore.client.client_api import send_request
from rmqcore.client.request_reply import (
    PendingReplies,
    create_reply_message,
    is_reply_property_string,
    reply_from_push,
)
from rmqcore.message import constants as C
from rmqcore.message import encode_properties, reply_topic
from rmqcore.remoting import RequestCode, ResponseCode, make_request
from rmqcore.remoting.headers.client import ReplyMessageRequestHeader
from tests.client.conftest import Cluster

# A new responder group reads its (new) topic from the start: with CONSUME_FROM_LAST_OFFSET, a
# request stored between the consumer's offset query and its max-offset query would be skipped.
FROM_FIRST = "CONSUME_FROM_FIRST_OFFSET"
REQUEST_PROPS = {
    C.PROPERTY_CLUSTER: "DefaultCluster",
    C.PROPERTY_CORRELATION_ID: "c-1",
    C.PROPERTY_MESSAGE_REPLY_TO_CLIENT: "10.0.0.1@7",
    C.PROPERTY_MESSAGE_TTL: "3000",
}


# --- the pieces -------------------------------------------------------------------------------


def test_reply_message_goes_to_the_clusters_reply_topic_with_the_requests_keys() -> None:
    reply = create_reply_message(Message("Orders", b"q", properties=dict(REQUEST_PROPS, TAGS="A")), b"answer")
    assert reply.topic == reply_topic("DefaultCluster") == "DefaultCluster_REPLY_TOPIC"
    assert reply.body == b"answer"
    assert reply.properties == {
        "MSG_TYPE": "reply",
        "CORRELATION_ID": "c-1",
        "REPLY_TO_CLIENT": "10.0.0.1@7",
        "TTL": "3000",
    }


def test_reply_to_a_message_without_cluster_is_refused() -> None:
    with pytest.raises(MQClientError, match=r"property\[CLUSTER\] is null"):
        create_reply_message(Message("Orders", b"q"), b"answer")


def test_a_reply_is_sent_with_send_reply_message_v2_and_anything_else_as_before() -> None:
    reply = create_reply_message(Message("T", b"q", properties=REQUEST_PROPS), b"a")
    assert send_request({"i": encode_properties(reply.properties)}, b"a", False).code == RequestCode.SEND_REPLY_MESSAGE_V2
    assert send_request({"i": "TAGS\x01A\x02"}, b"a", False).code == RequestCode.SEND_MESSAGE_V2
    assert send_request({"b": "T"}, b"a", False).code == RequestCode.SEND_MESSAGE_V2
    assert send_request({"i": "MSG_TYPE\x01reply\x02"}, b"a", True).code == RequestCode.SEND_BATCH_MESSAGE
    assert not is_reply_property_string("MY_MSG_TYPE\x01reply\x02")
    assert is_reply_property_string("TAGS\x01A\x02MSG_TYPE\x01reply\x02")


def push_command(body: bytes, sys_flag: int = 0, correlation_id: str = "c-1") -> object:
    header = ReplyMessageRequestHeader(
        "ReplyPG", "DefaultCluster_REPLY_TOPIC", "TBW102", 4, 0, sys_flag, 1_700_000_000_000, 0,
        properties=encode_properties({C.PROPERTY_CORRELATION_ID: correlation_id, C.PROPERTY_PUSH_REPLY_TIME: "5"}),
        born_host="/10.0.0.2:50000", store_host="broker-host/10.0.0.3:10911", store_timestamp=1_700_000_000_009,
    )  # fmt: skip
    return make_request(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, header.to_ext(), body)


def test_pushed_reply_is_decoded_with_hosts_arrival_time_and_inflated_body() -> None:
    reply = reply_from_push(push_command(zlib.compress(b"z" * 5000), sys_flag=C.COMPRESSED_FLAG), 1_700_000_000_010)  # type: ignore[arg-type]
    assert reply.body == b"z" * 5000
    assert reply.born_host == ("10.0.0.2", 50000)
    assert reply.store_host == ("10.0.0.3", 10911)
    assert (reply.store_timestamp, reply.born_timestamp) == (1_700_000_000_009, 1_700_000_000_000)
    assert reply.properties[C.PROPERTY_REPLY_MESSAGE_ARRIVE_TIME] == "1700000000010"
    assert reply.properties[C.PROPERTY_CORRELATION_ID] == "c-1"


@pytest.mark.anyio
async def test_pending_replies_match_by_correlation_id() -> None:
    replies = PendingReplies(lambda: 42)
    replies.open("c-1")
    stray = replies.on_push_reply(None, push_command(b"stray", correlation_id="nobody"))  # type: ignore[arg-type]
    assert stray.code == ResponseCode.SUCCESS  # acknowledged, logged, dropped
    taken = replies.on_push_reply(None, push_command(b"mine"))  # type: ignore[arg-type]
    assert taken.code == ResponseCode.SUCCESS
    reply = await replies.wait("c-1", 5.0)
    assert reply is not None and reply.body == b"mine"
    replies.close("c-1")
    assert len(replies) == 0
    broken = replies.on_push_reply(None, make_request(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, {"topic": "T"}, b""))  # type: ignore[arg-type]
    assert broken.code == ResponseCode.SYSTEM_ERROR


@pytest.mark.anyio
async def test_pending_reply_that_never_comes_is_none_after_the_timeout() -> None:
    replies = PendingReplies(lambda: 42)
    replies.open("c-2")
    with anyio.fail_after(5):
        assert await replies.wait("c-2", 0.01) is None


# --- against a broker ------------------------------------------------------------------------


class Responder:
    """A consumer's listener that answers every request with ``re:<body>``."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.answered = 0

    async def __call__(self, msgs: list[MessageExt], context: object) -> ConsumeConcurrentlyStatus:
        for msg in msgs:
            await self.producer.send(create_reply_message(msg, b"re:" + msg.body))
            self.answered += 1
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS


async def create_topic(cluster: Cluster, topic: str) -> None:
    """The topic exists before the consumer starts, so it owns its queues from the start."""
    async with Admin(cluster.namesrv_addr) as admin:
        await admin.create_topic(topic, read_queue_nums=4, write_queue_nums=4)


@pytest.mark.integration
async def test_request_returns_the_reply_of_the_consumer(cluster: Cluster) -> None:
    topic = cluster.name("RpcTopic")
    await create_topic(cluster, topic)
    async with Producer(cluster.name("reply_pg"), namesrv_addr=cluster.namesrv_addr) as reply_producer:
        consumer = PushConsumer(cluster.name("rpc_cg"), namesrv_addr=cluster.namesrv_addr, consume_from_where=FROM_FIRST)
        consumer.subscribe(topic, "*")
        responder = Responder(reply_producer)
        consumer.register_message_listener(responder)
        async with Producer(cluster.name("request_pg"), namesrv_addr=cluster.namesrv_addr) as requester:
            async with consumer:
                with anyio.fail_after(30):
                    reply = await requester.request(Message(topic, b"ping"), timeout=20)
                    assert reply.body == b"re:ping"
                    assert reply.topic == "DefaultCluster_REPLY_TOPIC"
                    assert C.PROPERTY_REPLY_MESSAGE_ARRIVE_TIME in reply.properties
                    assert C.PROPERTY_PUSH_REPLY_TIME in reply.properties

                    # Concurrent requests each get their own reply (matched by correlation id).
                    got: dict[int, bytes] = {}

                    async def ask(i: int) -> None:
                        got[i] = (await requester.request(Message(topic, f"q{i}".encode()), timeout=20)).body

                    async with anyio.create_task_group() as tg:
                        for i in range(8):
                            tg.start_soon(ask, i)
                    assert got == {i: f"re:q{i}".encode() for i in range(8)}
            assert len(requester.instance.replies) == 0  # every request closed its entry


@pytest.mark.integration
async def test_reply_reaches_the_request_when_another_producer_of_the_process_got_the_push(cluster: Cluster) -> None:
    """Producers of one process share a client id (ip@pid), as in RocketMQ; the broker pushes a
    reply to any connection of that client id. Here the reply producer heartbeats first, so the
    broker picks its connection: the reply must still reach the request waiting in the other."""
    topic = cluster.name("SharedIdTopic")
    await create_topic(cluster, topic)
    async with Producer(cluster.name("reply_pg"), namesrv_addr=cluster.namesrv_addr) as reply_producer:
        await reply_producer.send(Message(cluster.name("AnyTopic"), b"learn the broker"))
        await reply_producer.instance.send_heartbeat_to_all_brokers()
        consumer = PushConsumer(cluster.name("rpc_cg"), namesrv_addr=cluster.namesrv_addr, consume_from_where=FROM_FIRST)
        consumer.subscribe(topic, "*")
        consumer.register_message_listener(Responder(reply_producer))
        async with Producer(cluster.name("request_pg"), namesrv_addr=cluster.namesrv_addr) as requester, consumer:
            assert requester.instance.client_id == reply_producer.instance.client_id
            with anyio.fail_after(30):
                reply = await requester.request(Message(topic, b"whose push?"), timeout=20)
    assert reply.body == b"re:whose push?"


@pytest.mark.integration
async def test_request_async_hands_the_reply_or_the_error_to_callbacks(cluster: Cluster) -> None:
    topic, unanswered = cluster.name("AsyncRpcTopic"), cluster.name("AsyncUnanswered")
    await create_topic(cluster, topic)
    replies: list[bytes] = []
    errors: list[BaseException] = []
    async with Producer(cluster.name("reply_pg"), namesrv_addr=cluster.namesrv_addr) as reply_producer:
        consumer = PushConsumer(cluster.name("rpc_cg"), namesrv_addr=cluster.namesrv_addr, consume_from_where=FROM_FIRST)
        consumer.subscribe(topic, "*")
        consumer.register_message_listener(Responder(reply_producer))
        async with Producer(cluster.name("request_pg"), namesrv_addr=cluster.namesrv_addr) as requester, consumer:
            with anyio.fail_after(30):
                answered = requester.request_async(Message(topic, b"callback"), lambda r: replies.append(r.body), errors.append, timeout=20)
                assert (await answered.result()).body == b"re:callback"
                lost = requester.request_async(Message(unanswered, b"nobody"), replies.append, errors.append, timeout=0.3)
                with pytest.raises(RequestTimeoutError):
                    await lost.result()
    assert replies == [b"re:callback"]
    assert [type(e) for e in errors] == [RequestTimeoutError]


@pytest.mark.integration
async def test_request_nobody_answers_times_out(cluster: Cluster) -> None:
    topic = cluster.name("UnansweredTopic")
    async with Producer(cluster.name("request_pg"), namesrv_addr=cluster.namesrv_addr) as requester:
        with anyio.fail_after(20), pytest.raises(RequestTimeoutError, match="wait reply message timeout, 300 ms"):
            await requester.request(Message(topic, b"anyone?"), timeout=0.3)
        assert len(requester.instance.replies) == 0


@pytest.mark.integration
async def test_reply_for_a_requester_that_is_gone_fails_the_responders_send(cluster: Cluster) -> None:
    request = Message("Orders", b"q", properties=dict(REQUEST_PROPS, REPLY_TO_CLIENT="10.9.9.9@gone"))
    async with Producer(cluster.name("reply_pg"), namesrv_addr=cluster.namesrv_addr, retry_times_when_send_failed=0) as producer:
        with pytest.raises(MQBrokerError) as caught:
            await producer.send(create_reply_message(request, b"too late"))
    assert caught.value.code == ResponseCode.SYSTEM_ERROR
    assert caught.value.remark == "push reply message fail, channel of <10.9.9.9@gone> not found."


@pytest.mark.integration
def test_synchronous_request(cluster: Cluster) -> None:
    topic = cluster.name("SyncRpcTopic")
    anyio.run(create_topic, cluster, topic)
    with sync.Producer(cluster.name("reply_pg"), namesrv_addr=cluster.namesrv_addr) as reply_producer:
        # Its heartbeat comes first, so the broker pushes the replies to its connection, served
        # by its own event loop thread: they must cross to the requester's loop.
        reply_producer.send(Message(cluster.name("AnyTopic"), b"learn the broker"))
        reply_producer.call(reply_producer.async_client.instance.send_heartbeat_to_all_brokers)
        consumer = sync.PushConsumer(cluster.name("rpc_cg"), namesrv_addr=cluster.namesrv_addr, consume_from_where=FROM_FIRST)
        consumer.subscribe(topic, "*")

        def answer(msgs: list[MessageExt], context: object) -> ConsumeConcurrentlyStatus:
            for msg in msgs:
                reply_producer.send(create_reply_message(msg, msg.body.upper()))
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

        consumer.register_message_listener(answer)
        with sync.Producer(cluster.name("request_pg"), namesrv_addr=cluster.namesrv_addr) as requester:
            with consumer:
                reply = requester.request(Message(topic, b"shout"), timeout=20)
                handle = requester.request_async(Message(topic, b"later"), timeout=20)
                later = requester.call(handle.result)
    assert reply.body == b"SHOUT"
    assert later.body == b"LATER"
