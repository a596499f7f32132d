"""Request templates and hand-written bad-value requests for the name server and the broker."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable

from rmqcore.message import Message, encode_batch_body, encode_properties, new_uniq_key
from rmqcore.message import constants as C
from rmqcore.remoting import RequestCode, ResponseCode
from rmqcore.remoting.bodies import DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper
from rmqcore.remoting.bodies.heartbeat import (
    ConsumeFromWhere,
    ConsumerData,
    ConsumeType,
    HeartbeatData,
    MessageModel,
    ProducerData,
    SubscriptionData,
)
from rmqcore.remoting.headers import (
    CreateTopicRequestHeader,
    EndTransactionRequestHeader,
    GetMaxOffsetRequestHeader,
    QueryMessageRequestHeader,
    RegisterBrokerRequestHeader,
    ViewMessageRequestHeader,
)
from rmqcore.remoting.headers.pull import PullMessageRequestHeader
from rmqcore.remoting.headers.send import SendMessageRequestHeader, encode_send_request_ext

from tests.fuzz import support as S
from tests.fuzz.support import ANSWER, Case, Opaques

Template = tuple[int, dict[str, str], "bytes | None"]
FUZZ_TOPIC = "FuzzTopic"
NOT_SUCCESS = frozenset({ResponseCode.SUCCESS})
PULL_EMPTY = frozenset({ResponseCode.PULL_NOT_FOUND, ResponseCode.PULL_OFFSET_MOVED, ResponseCode.PULL_RETRY_IMMEDIATELY})

NAMESRV_CODES = [RequestCode.PUT_KV_CONFIG, RequestCode.GET_KV_CONFIG, RequestCode.DELETE_KV_CONFIG,
                 RequestCode.REGISTER_BROKER, RequestCode.UNREGISTER_BROKER, RequestCode.BROKER_HEARTBEAT,
                 RequestCode.QUERY_DATA_VERSION, RequestCode.GET_ROUTEINFO_BY_TOPIC, RequestCode.GET_BROKER_CLUSTER_INFO,
                 RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, RequestCode.GET_TOPICS_BY_CLUSTER]
BROKER_CODES = [int(c) for c in RequestCode if c < 100 or c in (200, 307, 309, 310, 320, 324, 325, 361, 400, 200050, 200051)]
# A reply for a requester that is not connected: the broker answers SYSTEM_ERROR after msgCheck.
REPLY_PROPERTIES = {C.PROPERTY_MESSAGE_TYPE: C.REPLY_MESSAGE_FLAG, C.PROPERTY_CORRELATION_ID: "fuzz",
                    C.PROPERTY_MESSAGE_REPLY_TO_CLIENT: "10.0.0.1@fuzz-requester"}


def register_body(topics: dict[str, int]) -> bytes:
    return RegisterBrokerBody(
        TopicConfigSerializeWrapper({t: TopicConfig(t, n, n) for t, n in topics.items()}, DataVersion(0, 1, 1))
    ).encode()


def register_ext(name: str, addr: str, body: bytes | None, **over: str) -> dict[str, str]:
    ext = RegisterBrokerRequestHeader(name, addr, "FuzzCluster", addr, 0, body_crc32=S.crc(body or b"")).to_ext()
    ext.update(over)
    return ext


def namesrv_templates() -> list[Template]:
    body = register_body({"FuzzNsTopic": 4})
    return [
        (RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "FuzzNsTopic"}, None),
        (RequestCode.REGISTER_BROKER, register_ext("broker-fuzz", "127.0.0.1:20911", body), body),
        (RequestCode.UNREGISTER_BROKER, {"brokerName": "broker-fuzz", "brokerAddr": "127.0.0.1:20911",
                                         "clusterName": "FuzzCluster", "brokerId": "0"}, None),
        (RequestCode.PUT_KV_CONFIG, {"namespace": "ns", "key": "k", "value": "v"}, None),
        (RequestCode.GET_KV_CONFIG, {"namespace": "ns", "key": "k"}, None),
        (RequestCode.DELETE_KV_CONFIG, {"namespace": "ns", "key": "k"}, None),
        (RequestCode.QUERY_DATA_VERSION, {"brokerName": "broker-fuzz", "brokerAddr": "127.0.0.1:20911",
                                          "clusterName": "FuzzCluster", "brokerId": "0"}, DataVersion(0, 1, 1).encode()),
        (RequestCode.BROKER_HEARTBEAT, {"clusterName": "FuzzCluster", "brokerAddr": "127.0.0.1:20911", "brokerName": "broker-fuzz"}, None),
        (RequestCode.GET_TOPICS_BY_CLUSTER, {"cluster": "FuzzCluster"}, None),
        (RequestCode.GET_BROKER_CLUSTER_INFO, {}, None),
    ]


def send_ext(topic: str = FUZZ_TOPIC, queue_id: int = 0, props: dict[str, str] | None = None, *, sys_flag: int = 0,
             batch: bool = False, v2: bool = True, **over: str) -> dict[str, str]:
    p = {C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: new_uniq_key(), C.PROPERTY_WAIT_STORE_MSG_OK: "true"}
    p.update(props or {})
    header = SendMessageRequestHeader("FuzzPG", topic, "TBW102", 4, queue_id, sys_flag, 1_700_000_000_000, 0,
                                      properties=encode_properties(p), batch=batch)
    ext = encode_send_request_ext(header, v2=v2)
    ext.update(over)
    return ext


def pull_ext(topic: str = FUZZ_TOPIC, queue_id: int = 0, offset: int = 0, max_nums: int = 32, *,
             subscription: str | None = "*", expression_type: str | None = None, sys_flag: int = C.PULL_FLAG_SUBSCRIPTION,
             group: str = "FuzzCG", **over: str) -> dict[str, str]:
    ext = PullMessageRequestHeader(group, topic, queue_id, offset, max_nums, sys_flag, 0, 0, 0,
                                   subscription=subscription, expression_type=expression_type).to_ext()
    ext.update(over)
    return ext


def heartbeat_body(client: str = "fuzz-client", sub: SubscriptionData | None = None) -> bytes:
    subs = [sub or SubscriptionData(FUZZ_TOPIC, "*", sub_version=1)]
    consumer = ConsumerData("FuzzCG", ConsumeType.CONSUME_PASSIVELY, MessageModel.CLUSTERING,
                            ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET, subs)
    return HeartbeatData(client, [ProducerData("FuzzPG")], [consumer]).encode()


def lock_body(mqs: list[dict[str, object]] | object, group: str = "FuzzCG") -> bytes:
    return json.dumps({"consumerGroup": group, "clientId": "fuzz-client", "mqSet": mqs, "onlyThisBroker": False}).encode()


def broker_templates() -> list[Template]:
    batch = encode_batch_body([Message(FUZZ_TOPIC, b"b0", properties={"UNIQ_KEY": new_uniq_key()}),
                               Message(FUZZ_TOPIC, b"b1", properties={"UNIQ_KEY": new_uniq_key()})])
    return [
        (RequestCode.SEND_MESSAGE_V2, send_ext(), b"fuzz body"),
        (RequestCode.SEND_MESSAGE, send_ext(v2=False), b"fuzz body v1"),
        (RequestCode.SEND_BATCH_MESSAGE, send_ext(batch=True), batch),
        (RequestCode.PULL_MESSAGE, pull_ext(), None),
        (RequestCode.LITE_PULL_MESSAGE, pull_ext(), None),
        (RequestCode.QUERY_MESSAGE, QueryMessageRequestHeader(FUZZ_TOPIC, "k", 32, 0, 2**62).to_ext(), None),
        (RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader(0).to_ext(), None),
        (RequestCode.GET_MAX_OFFSET, GetMaxOffsetRequestHeader(FUZZ_TOPIC, 0).to_ext(), None),
        (RequestCode.HEART_BEAT, {}, heartbeat_body()),
        (RequestCode.LOCK_BATCH_MQ, {}, lock_body([{"topic": FUZZ_TOPIC, "brokerName": "broker-fuzz", "queueId": 0}])),
        (RequestCode.UNLOCK_BATCH_MQ, {}, lock_body([{"topic": FUZZ_TOPIC, "brokerName": "broker-fuzz", "queueId": 0}])),
        (RequestCode.QUERY_CONSUMER_OFFSET, {"consumerGroup": "FuzzCG", "topic": FUZZ_TOPIC, "queueId": "0"}, None),
        (RequestCode.UPDATE_CONSUMER_OFFSET, {"consumerGroup": "FuzzCG", "topic": FUZZ_TOPIC, "queueId": "0", "commitOffset": "1"}, None),
        (RequestCode.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "FuzzCG"}, None),
        (RequestCode.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader("FuzzCreated", "TBW102", 4, 4, 6, "SINGLE_TAG").to_ext(), None),
        (RequestCode.END_TRANSACTION, EndTransactionRequestHeader("FuzzPG", 0, 0, 8, "id").to_ext(), None),
        (RequestCode.CONSUMER_SEND_MSG_BACK, {"offset": "0", "group": "FuzzCG", "delayLevel": "0", "originMsgId": "x", "originTopic": FUZZ_TOPIC}, None),
        (RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, {"topic": FUZZ_TOPIC, "queueId": "0", "timestamp": "0"}, None),
        (RequestCode.SEND_REPLY_MESSAGE_V2, send_ext(props=REPLY_PROPERTIES), b"fuzz reply"),
        (RequestCode.SEND_REPLY_MESSAGE, send_ext(v2=False, props=REPLY_PROPERTIES), b"fuzz reply v1"),
        (RequestCode.CONSUME_MESSAGE_DIRECTLY, {"consumerGroup": "FuzzCG", "clientId": "fuzz-client", "msgId": "0" * 32}, None),
    ]


# -- hand-written bad values -----------------------------------------------------------------------------------
def _case(kind: str, opaque: Opaques, code: int, ext: dict[str, str], body: bytes | None, note: str, *,
          must_not: frozenset[int] | None = None, must_be: frozenset[int] | None = None, stype: int = 0) -> Case:
    op = opaque()
    case = Case(kind, S.request_frame(code, ext, body, op, stype=stype), ANSWER, [op], note=note)
    if must_not is not None:
        case.must_not[op] = must_not
    if must_be is not None:
        case.must_be[op] = must_be
    return case


def namesrv_bad_values(opaque: Opaques) -> list[Case]:
    body = register_body({"FuzzNsBad": 4})
    big = register_body({f"FuzzNsMany{i}": 4 for i in range(2000)})
    k = "namesrv_bad_value"
    R = RequestCode
    return [
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-bad", "127.0.0.1:30911", body, bodyCrc32="12345"), body,
              "wrong bodyCrc32", must_not=NOT_SUCCESS),
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-bad", "127.0.0.1:30911", b"{not json"), b"{not json",
              "unparsable body with matching crc", must_not=NOT_SUCCESS),
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-bad", "127.0.0.1:30911", b"\x00junk", compressed="true"),
              b"\x00junk", "compressed=true, body not zlib", must_not=NOT_SUCCESS),
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-bad", "127.0.0.1:30911", zlib.compress(b"[1,2]"), compressed="true"),
              zlib.compress(b"[1,2]"), "compressed JSON array body", must_not=NOT_SUCCESS),
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-bad", "127.0.0.1:30911", body, brokerId="abc"), body,
              "non-numeric brokerId", must_not=NOT_SUCCESS),
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-many", "127.0.0.1:30912", big), big, "2000 topics"),
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-empty", "127.0.0.1:30913", None), None, "no body"),
        _case(k, opaque, R.REGISTER_BROKER, {}, body, "no header fields", must_not=NOT_SUCCESS),
        _case(k, opaque, R.REGISTER_BROKER, register_ext("broker-bad", "127.0.0.1:30911", body,
              heartbeatTimeoutMillis="-5"), body, "negative heartbeat timeout"),
        _case(k, opaque, R.QUERY_DATA_VERSION, {"brokerName": "b", "brokerAddr": "x", "clusterName": "c", "brokerId": "0"},
              b"{\"counter\":\"many\"}", "garbage data version"),
        _case(k, opaque, R.QUERY_DATA_VERSION, {"brokerName": "b", "brokerAddr": "x", "clusterName": "c", "brokerId": "0"},
              b"\xff" * 10, "binary data version"),
        _case(k, opaque, R.GET_ROUTEINFO_BY_TOPIC, {"topic": ""}, None, "empty topic", must_not=NOT_SUCCESS),
        _case(k, opaque, R.GET_ROUTEINFO_BY_TOPIC, {"topic": "x" * 100_000}, None, "100k topic name", must_not=NOT_SUCCESS),
        _case(k, opaque, R.GET_ROUTEINFO_BY_TOPIC, {"topic": "FuzzNsKnownTopic"}, None, "known topic via binary header",
              must_be=frozenset({ResponseCode.SUCCESS}), stype=1),
        _case(k, opaque, R.PUT_KV_CONFIG, {"namespace": "ns", "key": "k"}, None, "no value", must_not=NOT_SUCCESS),
        _case(k, opaque, R.GET_KV_CONFIG, {"namespace": "nope", "key": "nope"}, None, "unknown key",
              must_be=frozenset({ResponseCode.QUERY_NOT_FOUND})),
        _case(k, opaque, R.DELETE_KV_CONFIG, {}, None, "no fields", must_not=NOT_SUCCESS),
        _case(k, opaque, R.UNREGISTER_BROKER, {"brokerName": "nobody", "brokerAddr": "1.2.3.4:5", "clusterName": "c",
              "brokerId": "-1"}, None, "unknown broker"),
        _case(k, opaque, R.GET_TOPICS_BY_CLUSTER, {"cluster": "no-such-cluster"}, None, "unknown cluster"),
        _case(k, opaque, R.BROKER_HEARTBEAT, {"clusterName": "c", "brokerAddr": "nowhere", "brokerName": "b"}, None,
              "heartbeat of an unknown broker"),
        _case(k, opaque, 9999, {}, b"body", "unknown code", must_be=frozenset({ResponseCode.REQUEST_CODE_NOT_SUPPORTED})),
    ]


# RocketMQ's parser stops after the first complete expression (``a = 1)`` or ``a LIKE 5`` pass as ``a = 1`` / ``a``),
# so only texts that are not a complete expression up to the first refused token are bad.
BAD_SQL = ["a >", "((", "a = 'x", "1 +", "a IN ()", "a BETWEEN 1", "", "a = 1 AND", "TRUE OR", "NOT", "a IN ('x',"]


def broker_bad_values(opaque: Opaques, known: list[tuple[int, int]], known_commitlog: list[int]) -> list[Case]:
    """``known``: (queue, offset) of the known topic; ``known_commitlog``: commit-log offsets of known messages."""
    from tests.fuzz.live import KNOWN_TOPIC

    k = "broker_bad_value"
    R = RequestCode
    cases: list[Case] = []
    add = cases.append

    # SEND
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(queue_id=-1), b"any queue", "negative queue id"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(queue_id=9999), b"x", "queue id past the topic", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(e="abc"), b"x", "non-numeric queue id", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(e="2147483648"), b"x", "queue id past int", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(g="yesterday"), b"x", "non-numeric bornTimestamp", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(topic=""), b"x", "empty topic", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(topic="t" * 300), b"x", "300-char topic (V2 record)"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(topic="t" * 40000), b"x", "40000-char topic", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(topic="bad topic!"), b"x", "illegal topic chars", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(), None, "no body"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(), b"", "empty body"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(), b"\x00" * (4 * 1024 * 1024 + 1), "body over 4 MiB",
              must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(i="x\x01" * 20000), b"x", "properties over 32 KiB", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(i="\x01\x02\x01\x02"), b"x", "properties without names/values"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(i="ü€𝄞\x01\x02"), b"x", "properties with non-ASCII"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(sys_flag=0x1), b"not zlib", "compressed flag, body not zlib"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(sys_flag=-1), b"x", "sysFlag -1"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(props={"DELAY": "99999"}), b"x", "delay level 99999"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(props={"DELAY": "-3"}), b"x", "delay level -3"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(props={"TIMER_DELAY_MS": "-1"}), b"x", "negative timer delay"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(props={"TIMER_DELIVER_MS": "abc"}), b"x", "non-numeric timer"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(props={"TRAN_MSG": "true"}, sys_flag=0x4), b"x", "half message"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(topic="TBW102"), b"x", "send to TBW102"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(topic="%RETRY%FuzzCG"), b"x", "send to a retry topic"))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(j="-5", l="-1"), b"x", "negative reconsume times"))
    add(_case(k, opaque, R.SEND_MESSAGE, send_ext(v2=False, queueId="-7"), b"x", "v1, negative queue id"))
    add(_case(k, opaque, R.SEND_MESSAGE, send_ext(v2=True), b"x", "v1 code with v2 keys", must_not=NOT_SUCCESS))
    # SEND_BATCH with malformed bodies
    good_batch = encode_batch_body([Message(FUZZ_TOPIC, b"b%d" % i, properties={"UNIQ_KEY": new_uniq_key()}) for i in range(3)])
    bad_batches: list[tuple[bytes | None, str, bool]] = [
        (good_batch[:-3], "truncated last record", True),
        (good_batch[:10], "10 bytes", True),
        (b"\x00\x00\x00\x05" + b"\x00" * 30, "total length 5", True),
        (b"\x7f\xff\xff\xff" + b"\x00" * 30, "total length 2^31-1", True),
        (b"\x00\x00\x00\x30" + b"\x00" * 12 + b"\xff\xff\xff\xf0" + b"\x00" * 30, "negative body length", True),
        (good_batch + b"\x00", "one trailing byte", True),
        (b"\xff" * 64, "all 0xff", True),
        (None, "no body", False),
        (b"", "empty body", False),
        (encode_batch_body([Message(FUZZ_TOPIC, b"", properties={"DELAY": "3"})]), "empty message, delay in batch", False),
        (encode_batch_body([Message(FUZZ_TOPIC, b"x", properties={"UNIQ_KEY": "u"})] * 2000), "2000 messages", False),
    ]
    for body, note, illegal in bad_batches:
        add(_case(k, opaque, R.SEND_BATCH_MESSAGE, send_ext(batch=True), body, f"batch: {note}",
                  must_not=NOT_SUCCESS if illegal else None))
    add(_case(k, opaque, R.SEND_MESSAGE_V2, send_ext(batch=True), good_batch, "batch flag on code 310"))
    add(_case(k, opaque, R.SEND_BATCH_MESSAGE, send_ext(batch=True, topic="bad topic!"), good_batch, "batch to illegal topic",
              must_not=NOT_SUCCESS))

    # PULL (never with the suspend flag: the answer must come at once)
    kq = [(q, o) for q, o in known]
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic="NoSuchTopicAnywhere"), None, "unknown topic",
              must_be=frozenset({ResponseCode.TOPIC_NOT_EXIST})))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, queue_id=-1), None, "queue id -1", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, queue_id=9999), None, "queue id 9999", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, offset=-1), None, "offset -1", must_be=PULL_EMPTY | {0}))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, offset=2**62), None, "offset 2^62", must_be=PULL_EMPTY))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, offset=len(kq) + 1000), None, "offset past the end",
              must_be=PULL_EMPTY))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, max_nums=2**31 - 1), None, "maxMsgNums 2^31-1",
              must_be=frozenset({ResponseCode.SUCCESS})))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, max_nums=0), None, "maxMsgNums 0"))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, max_nums=-5), None, "maxMsgNums -5"))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, queueOffset="abc"), None, "non-numeric offset",
              must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, maxMsgNums="1e9"), None, "maxMsgNums 1e9", must_not=NOT_SUCCESS))
    for sql in BAD_SQL:
        add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, subscription=sql, expression_type="SQL92"), None,
                  f"bad SQL {sql!r}", must_be=frozenset({ResponseCode.SUBSCRIPTION_PARSE_FAILED})))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, subscription="a > 1", expression_type="BOGUS"), None,
              "unknown expression type", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, subscription="||||"), None, "tag expression ||||"))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, subscription=None), None, "subscription flag, no expression"))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, sys_flag=0x1 | 0x4, commitOffset="-99"), None,
              "commit a negative offset"))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, sys_flag=0x8 | 0x4), None, "class-filter flag"))
    add(_case(k, opaque, R.PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, maxMsgBytes="-1"), None, "maxMsgBytes -1"))
    add(_case(k, opaque, R.LITE_PULL_MESSAGE, pull_ext(topic=KNOWN_TOPIC, sys_flag=0x10, group=""), None, "lite pull, empty group"))

    # QUERY / VIEW
    for note, ext in [
        ("maxNum -1", QueryMessageRequestHeader(KNOWN_TOPIC, "k0", -1, 0, 2**62).to_ext()),
        ("maxNum 2^31-1", QueryMessageRequestHeader(KNOWN_TOPIC, "k0", 2**31 - 1, 0, 2**62).to_ext()),
        ("begin after end", QueryMessageRequestHeader(KNOWN_TOPIC, "k0", 32, 2**62, 0).to_ext()),
        ("negative times", QueryMessageRequestHeader(KNOWN_TOPIC, "k0", 32, -5, -1).to_ext()),
        ("unknown topic", QueryMessageRequestHeader("NoSuchTopicAnywhere", "k0", 32, 0, 2**62).to_ext()),
        ("empty key", QueryMessageRequestHeader(KNOWN_TOPIC, "", 32, 0, 2**62).to_ext()),
        ("100k key", QueryMessageRequestHeader(KNOWN_TOPIC, "k" * 100_000, 32, 0, 2**62).to_ext()),
        ("non-numeric maxNum", {**QueryMessageRequestHeader(KNOWN_TOPIC, "k0", 32, 0, 1).to_ext(), "maxNum": "many"}),
    ]:
        add(_case(k, opaque, R.QUERY_MESSAGE, ext, None, f"query: {note}",
                  must_not=NOT_SUCCESS if note == "non-numeric maxNum" else None))
    views: list[tuple[str, str, bool]] = [("-1", "offset -1", True), (str(2**62), "offset 2^62", True),
                                          (str(2**63 - 1), "offset 2^63-1", True), ("abc", "non-numeric", True)]
    # Offsets inside a record are refused (no garbage served as a message); record starts are served.
    views += [(str(o + d), "inside a known record", True) for o in known_commitlog[:3] for d in (1, 7, 20)]
    for value, note, illegal in views:
        add(_case(k, opaque, R.VIEW_MESSAGE_BY_ID, {"offset": value}, None, f"view: {note}",
                  must_not=NOT_SUCCESS if illegal else None))
    for o in known_commitlog[:2]:
        add(_case(k, opaque, R.VIEW_MESSAGE_BY_ID, {"offset": str(o)}, None, "view: a known record",
                  must_be=frozenset({ResponseCode.SUCCESS})))

    # LOCK / UNLOCK
    mq = {"topic": KNOWN_TOPIC, "brokerName": "broker-fuzz", "queueId": 0}
    for code in (R.LOCK_BATCH_MQ, R.UNLOCK_BATCH_MQ):
        name = "lock" if code == R.LOCK_BATCH_MQ else "unlock"
        add(_case(k, opaque, code, {}, None, f"{name}: no body", must_not=NOT_SUCCESS))
        add(_case(k, opaque, code, {}, b"{", f"{name}: broken JSON", must_not=NOT_SUCCESS))
        add(_case(k, opaque, code, {}, lock_body(7), f"{name}: mqSet is a number", must_not=NOT_SUCCESS))
        add(_case(k, opaque, code, {}, lock_body([{"topic": None, "queueId": "x"}]), f"{name}: bad mq"))
        add(_case(k, opaque, code, {}, lock_body([{**mq, "queueId": -i} for i in range(2000)]), f"{name}: 2000 queues"))
        add(_case(k, opaque, code, {}, lock_body([mq], group=""), f"{name}: empty group"))
        add(_case(k, opaque, code, {}, b"[]", f"{name}: array body", must_not=NOT_SUCCESS))

    # HEARTBEAT
    add(_case(k, opaque, R.HEART_BEAT, {}, None, "heartbeat: no body"))
    add(_case(k, opaque, R.HEART_BEAT, {}, b"{\"clientID\":", "heartbeat: broken JSON", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.HEART_BEAT, {}, b"[1]", "heartbeat: array", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.HEART_BEAT, {}, json.dumps({"clientID": "c", "consumerDataSet": [{"groupName": "FuzzCG",
              "consumeType": "NOPE", "messageModel": 7, "consumeFromWhere": None}]}).encode(), "heartbeat: bad enums"))
    add(_case(k, opaque, R.HEART_BEAT, {}, heartbeat_body(sub=SubscriptionData(FUZZ_TOPIC, "a >", expression_type="SQL92")),
              "heartbeat: bad SQL subscription"))
    add(_case(k, opaque, R.HEART_BEAT, {}, json.dumps({"clientID": "c", "consumerDataSet": [{"groupName": "FuzzCG2",
              "subscriptionDataSet": [{"topic": f"T{i}", "subString": "*"} for i in range(500)]}]}).encode(),
              "heartbeat: 500 subscriptions"))
    add(_case(k, opaque, R.HEART_BEAT, {}, json.dumps({"clientID": None, "producerDataSet": [{"groupName": None}]}).encode(),
              "heartbeat: null names"))

    # Transactions and offsets that point at the known messages: nothing may be re-put or changed.
    for i, (q, o) in enumerate(kq[:3]):
        cl = known_commitlog[i] if i < len(known_commitlog) else 0
        for action in (8, 12):
            ext = EndTransactionRequestHeader("FuzzKnownPG", o, cl, action, "id", topic=KNOWN_TOPIC).to_ext()
            add(_case(k, opaque, R.END_TRANSACTION, ext, None, f"end transaction {action} on a normal message",
                      must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.END_TRANSACTION, EndTransactionRequestHeader("PG", -1, -1, 8, "id").to_ext(), None,
              "end transaction at -1", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.END_TRANSACTION, EndTransactionRequestHeader("PG", 0, 0, 99, "id").to_ext(), None,
              "unknown commitOrRollback"))
    add(_case(k, opaque, R.UPDATE_CONSUMER_OFFSET, {"consumerGroup": "FuzzCG", "topic": KNOWN_TOPIC, "queueId": "-1",
              "commitOffset": "-5"}, None, "negative consumer offset"))
    add(_case(k, opaque, R.GET_MAX_OFFSET, {"topic": "NoSuchTopicAnywhere", "queueId": "77"}, None, "max offset, unknown"))
    add(_case(k, opaque, R.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader("FuzzHugeQueues", "TBW102", 2**31 - 1, 2**31 - 1, 6,
              "SINGLE_TAG").to_ext(), None, "topic with 2^31-1 queues"))
    add(_case(k, opaque, R.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader("FuzzNegQueues", "TBW102", -4, -4, -1,
              "NOPE").to_ext(), None, "topic with negative queue numbers"))
    add(_case(k, opaque, R.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader("", "TBW102", 4, 4, 6, "SINGLE_TAG").to_ext(), None,
              "create an empty topic name", must_not=NOT_SUCCESS))
    add(_case(k, opaque, R.CONSUMER_SEND_MSG_BACK, {"offset": str(known_commitlog[0] if known_commitlog else 0), "group": "FuzzCG",
              "delayLevel": "-1", "originMsgId": "x", "originTopic": KNOWN_TOPIC}, None, "send back a known message to DLQ"))
    add(_case(k, opaque, R.CONSUMER_SEND_MSG_BACK, {"offset": "3", "group": "FuzzCG", "delayLevel": "0"}, None,
              "send back from inside a record"))
    return cases


CaseMaker = Callable[[random.Random, Opaques], Case]
