"""The producer's hand-written SEND_MESSAGE_V2 extFields and the synchronous facade's loop (no network)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import anyio
import pytest

from rmqcore.client import Message, Producer, sync
from rmqcore.client.errors import ClientStateError
from rmqcore.clock import FakeClock
from rmqcore.message import MessageQueue, decode_properties, encode_properties
from rmqcore.message import constants as C
from rmqcore.remoting import headers as H


def _instance() -> SimpleNamespace:
    async def find_broker_addr(name: str, topic: str | None = None) -> str:
        raise AssertionError("the address is in broker_addrs")

    return SimpleNamespace(broker_addrs={"broker-a": {0: "127.0.0.1:10911"}}, clock=FakeClock(start_ms=1_700_000_000_000), find_broker_addr=find_broker_addr)


def _typed_ext(producer: Producer, mq: MessageQueue, msg: Message, ext: dict[str, str], batch: bool) -> dict[str, str]:
    """What the typed header and its generic writer give for the same send."""
    props = decode_properties(ext["i"])
    header = H.SendMessageRequestHeader(
        producer_group=producer.group,
        topic=mq.topic,
        default_topic=producer.create_topic_key,
        default_topic_queue_nums=producer.default_topic_queue_nums,
        queue_id=mq.queue_id,
        sys_flag=int(ext["f"]),
        born_timestamp=1_700_000_000_000,
        flag=msg.flag,
        properties=encode_properties(props),
        reconsume_times=int(ext["j"]) if "j" in ext else None,
        unit_mode=False,
        batch=batch,
        max_reconsume_times=int(ext["l"]) if "l" in ext else None,
        broker_name=mq.broker_name,
    )
    return H.encode_send_request_ext(header, v2=True)


@pytest.mark.parametrize(
    ("topic", "properties", "body", "batch"),
    [
        ("TopicTest", {}, b"x" * 128, False),
        ("TopicTest", {"TAGS": "TagA", "KEYS": "k1 k2", "DELAY": "3"}, b"y" * 5000, False),
        ("TopicTest", {"TRAN_MSG": "true", "PGROUP": "pg"}, b"z", False),
        ("%RETRY%cg", {"RECONSUME_TIME": "2", "MAX_RECONSUME_TIMES": "16", "TAGS": "t"}, b"r", False),
        ("TopicTest", {"UNIQ_KEY": "AB", "WAIT": "false"}, b"batch-body", True),
    ],
)
def test_send_ext_matches_the_typed_header(topic: str, properties: dict[str, str], body: bytes, batch: bool) -> None:
    producer = Producer("pg", namesrv_addr="127.0.0.1:9876", default_topic_queue_nums=8)
    mq = MessageQueue(topic, "broker-a", 3)
    msg = Message(topic, body, flag=7, properties=properties)
    addr, ext, wire_body = anyio.run(producer._prepare_ext, _instance(), mq, msg, batch)
    assert addr == "127.0.0.1:10911"
    assert list(ext.items()) == list(_typed_ext(producer, mq, msg, ext, batch).items())
    if not batch:
        assert msg.uniq_key and decode_properties(ext["i"])[C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] == msg.uniq_key
    compressed = int(ext["f"]) & C.COMPRESSED_FLAG
    assert bool(compressed) == (len(body) >= producer.compress_msg_body_over and not batch)
    assert (wire_body != body) == bool(compressed)
    if topic.startswith("%RETRY%"):
        assert (ext["j"], ext["l"]) == ("2", "16") and "RECONSUME_TIME" not in decode_properties(ext["i"])
        assert msg.properties["RECONSUME_TIME"] == "2"  # the caller's message is left as it was


def test_facade_runs_its_loop_on_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.delenv("RMQCORE_EVENT_LOOP", raising=False)
    assert sync.event_loop_options() == {"use_uvloop": True}
    monkeypatch.setenv("RMQCORE_EVENT_LOOP", "asyncio")
    assert sync.event_loop_options() == {"use_uvloop": False}
    monkeypatch.delenv("RMQCORE_EVENT_LOOP")

    class Probe:
        async def __aenter__(self) -> Probe:
            return self

        async def __aexit__(self, *exc: object) -> None:
            pass

        async def loop_type(self) -> type:
            return type(asyncio.get_running_loop())

        async def fail(self) -> None:
            raise ValueError("from the loop")

        async def nested(self, client: sync.SyncClient) -> None:
            client.loop_type()  # a blocking call from the loop's own thread

    client = sync.SyncClient(Probe())
    with pytest.raises(ClientStateError):
        client.loop_type()
    with client:
        assert client.loop_type() is uvloop.Loop
        with pytest.raises(ValueError, match="from the loop"):
            client.fail()
        with pytest.raises(RuntimeError, match="own event loop"):
            client.nested(client)
    with pytest.raises(ClientStateError):
        client.loop_type()
