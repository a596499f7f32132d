"""JSON bodies: hypothesis round-trips of every body, fastjson quirks, typed errors."""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.message import MessageQueue
from rmqcore.remoting import BodyError
from rmqcore.remoting.bodies import (
    BrokerData,
    CheckClientRequestBody,
    ClusterInfo,
    ConsumeFromWhere,
    ConsumeMessageDirectlyResult,
    ConsumerData,
    ConsumerListBody,
    ConsumerOffsetSerializeWrapper,
    ConsumeType,
    DataVersion,
    DelayOffsetSerializeWrapper,
    HeartbeatData,
    JsonBody,
    KVTable,
    LockBatchRequestBody,
    LockBatchResponseBody,
    MessageModel,
    ProducerData,
    QueueData,
    RegisterBrokerBody,
    SubscriptionData,
    TopicConfig,
    TopicConfigSerializeWrapper,
    TopicList,
    TopicRouteData,
    UnlockBatchRequestBody,
    decode_json_body,
    rectify_int_keys,
)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
name = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=20)  # no spaces: TopicConfig text form
i32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
i64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
opt_text = st.none() | text

data_versions = st.builds(DataVersion, i64, i64, i64)
queue_datas = st.builds(QueueData, text, i32, i32, i32, i32)
broker_datas = st.builds(BrokerData, text, text, st.dictionaries(i64, text, max_size=3), opt_text, st.booleans())
routes = st.builds(
    TopicRouteData,
    st.lists(queue_datas, max_size=3),
    st.lists(broker_datas, max_size=3),
    st.dictionaries(text, st.lists(text, max_size=2), max_size=2),
    opt_text,
    st.none() | st.dictionaries(text, st.dictionaries(text, i32, max_size=2), max_size=2),
)
clusters = st.builds(
    ClusterInfo, st.dictionaries(text, broker_datas, max_size=3), st.dictionaries(text, st.lists(text, max_size=3), max_size=3)
)
subscriptions = st.builds(
    SubscriptionData, text, text, st.lists(text, max_size=3), st.lists(i32, max_size=3), i64, st.sampled_from(["TAG", "SQL92"]), st.booleans()
)
consumers = st.builds(
    ConsumerData,
    text,
    st.sampled_from(ConsumeType),
    st.sampled_from(MessageModel),
    st.sampled_from(ConsumeFromWhere),
    st.lists(subscriptions, max_size=3),
    st.booleans(),
)
heartbeats = st.builds(
    HeartbeatData, text, st.lists(st.builds(ProducerData, text), max_size=3), st.lists(consumers, max_size=3), i32, st.booleans()
)
mqs = st.builds(MessageQueue, text, text, i32)
topic_configs = st.builds(
    TopicConfig, name, i32, i32, i32, st.sampled_from(["SINGLE_TAG", "MULTI_TAG"]), i32, st.booleans(),
    st.dictionaries(text, text, max_size=3),
)  # fmt: skip
wrappers = st.builds(
    TopicConfigSerializeWrapper,
    st.lists(topic_configs, max_size=4).map(lambda tcs: {tc.topic_name: tc for tc in tcs}),
    data_versions,
)

BODY_STRATEGIES: dict[type[JsonBody], st.SearchStrategy[JsonBody]] = {
    DataVersion: data_versions,
    QueueData: queue_datas,
    BrokerData: broker_datas,
    TopicRouteData: routes,
    ClusterInfo: clusters,
    SubscriptionData: subscriptions,
    ProducerData: st.builds(ProducerData, text),
    ConsumerData: consumers,
    HeartbeatData: heartbeats,
    CheckClientRequestBody: st.builds(CheckClientRequestBody, text, text, st.none() | subscriptions, opt_text),
    LockBatchRequestBody: st.builds(LockBatchRequestBody, text, text, st.lists(mqs, max_size=4), st.booleans()),
    UnlockBatchRequestBody: st.builds(UnlockBatchRequestBody, text, text, st.lists(mqs, max_size=4), st.booleans()),
    LockBatchResponseBody: st.builds(LockBatchResponseBody, st.lists(mqs, max_size=4)),
    TopicConfig: topic_configs,
    TopicConfigSerializeWrapper: wrappers,
    RegisterBrokerBody: st.builds(RegisterBrokerBody, wrappers, st.lists(text, max_size=3)),
    TopicList: st.builds(TopicList, st.lists(text, max_size=5), opt_text),
    ConsumerListBody: st.builds(ConsumerListBody, st.lists(text, max_size=5)),
    KVTable: st.builds(KVTable, st.dictionaries(text, text, max_size=5)),
    ConsumerOffsetSerializeWrapper: st.builds(
        ConsumerOffsetSerializeWrapper, st.dictionaries(text, st.dictionaries(i32, i64, max_size=4), max_size=3), st.none() | data_versions
    ),
    DelayOffsetSerializeWrapper: st.builds(DelayOffsetSerializeWrapper, st.dictionaries(i32, i64, max_size=18), st.none() | data_versions),
    ConsumeMessageDirectlyResult: st.builds(ConsumeMessageDirectlyResult, st.booleans(), st.booleans(), opt_text, opt_text, i64),
}


def test_every_body_class_has_a_strategy() -> None:
    import rmqcore.remoting.bodies as bodies

    classes = {obj for obj in vars(bodies).values() if isinstance(obj, type) and issubclass(obj, JsonBody) and obj is not JsonBody}
    assert classes == set(BODY_STRATEGIES)


@pytest.mark.parametrize("cls", list(BODY_STRATEGIES), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_body_round_trips(cls: type[JsonBody], data: st.DataObject) -> None:
    body = data.draw(BODY_STRATEGIES[cls])
    encoded = body.encode()
    json.loads(encoded)  # always standard JSON
    assert cls.decode(encoded) == body


@settings(max_examples=100, deadline=None)
@given(BODY_STRATEGIES[RegisterBrokerBody])
def test_register_broker_compressed_round_trip(body: RegisterBrokerBody) -> None:
    # The compressed form carries TopicConfig.encode() text, which (as in Java) has no
    # topicSysFlag and no order flag: those come back as defaults.
    expected = dataclasses.replace(body)
    expected.topic_config_serialize_wrapper = dataclasses.replace(
        body.topic_config_serialize_wrapper,
        topic_config_table={
            k: dataclasses.replace(tc, topic_sys_flag=0, order=False)
            for k, tc in body.topic_config_serialize_wrapper.topic_config_table.items()
        },
    )
    assert RegisterBrokerBody.decode(body.encode(compressed=True), compressed=True) == expected


def test_register_broker_compressed_layout() -> None:
    # int-length-prefixed parts in a Deflater stream (Java RegisterBrokerBody.encode(true)).
    dv = b'{"counter":2,"stateVersion":0,"timestamp":9}'
    topic = b"TopicA 8 8 6 SINGLE_TAG {}"  # 5.x form; 4.x omits the attributes (checked below)
    raw = struct.pack(">i", len(dv)) + dv + struct.pack(">i", 1) + struct.pack(">i", len(topic)) + topic
    raw += struct.pack(">i", 2) + b"[]" + struct.pack(">i", 0)
    body = RegisterBrokerBody.decode(zlib.compress(raw), compressed=True)
    wrapper = body.topic_config_serialize_wrapper
    assert wrapper.data_version == DataVersion(0, 9, 2)
    assert wrapper.topic_config_table == {"TopicA": TopicConfig("TopicA", 8, 8, 6)}
    assert zlib.decompress(body.encode(compressed=True)) == raw
    # 4.x brokers: five-field topic text and no mapping-info count after the filter-server list
    topic_4x = b"TopicA 8 8 6 SINGLE_TAG"
    raw_4x = raw.replace(struct.pack(">i", len(topic)) + topic, struct.pack(">i", len(topic_4x)) + topic_4x)[:-4]
    body_4x = RegisterBrokerBody.decode(zlib.compress(raw_4x), compressed=True)
    assert body_4x.topic_config_serialize_wrapper.topic_config_table == wrapper.topic_config_table


@pytest.mark.parametrize("data", [b"", b"garbage", zlib.compress(b"\x00\x00\x00\x05ab"), zlib.compress(b"\xff\xff\xff\xff")])
def test_register_broker_compressed_errors(data: bytes) -> None:
    with pytest.raises(BodyError):
        RegisterBrokerBody.decode(data, compressed=True)


def test_route_with_unquoted_broker_ids_from_old_name_servers() -> None:
    raw = (
        b'{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a",'
        b'"cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},'
        b'"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
    )
    route = TopicRouteData.decode(raw)
    assert route.broker_datas[0].broker_addrs == {0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}
    assert route.broker_datas[0].master_addr() == "10.0.0.1:10911"
    assert b'"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}' in route.encode()


def test_route_emits_ascii_escapes_like_browser_compatible() -> None:
    route = TopicRouteData([QueueData("代理", 1, 1, 6)], [])
    assert b"\\u4ee3\\u7406" in route.encode()
    assert TopicRouteData.decode(route.encode()) == route


def test_rectifier_leaves_strings_alone() -> None:
    text = '{"a":"{1:2}","b":{1:"x,2:y"}, 3 :{-4:5}}'
    assert json.loads(rectify_int_keys(text)) == {"a": "{1:2}", "b": {"1": "x,2:y"}, "3": {"-4": 5}}
    assert rectify_int_keys('{"s":"\\"{1:2}"}') == '{"s":"\\"{1:2}"}'


def test_heartbeat_enums_as_ints_or_names_emitted_as_names() -> None:
    raw = json.dumps(
        {
            "clientID": "127.0.0.1@123",
            "producerDataSet": [{"groupName": "PG"}],
            "consumerDataSet": [
                {"groupName": "A", "consumeType": 0, "messageModel": 0, "consumeFromWhere": 5, "subscriptionDataSet": [], "unitMode": False},
                {"groupName": "B", "consumeType": "CONSUME_POP", "messageModel": "CLUSTERING",
                 "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
                 "subscriptionDataSet": [{"topic": "T", "subString": "TagA || TagB", "tagsSet": ["TagA", "TagB"],
                                          "codeSet": [2598919, 2598920], "subVersion": 1, "expressionType": "TAG",
                                          "classFilterMode": False}]},
            ],
        }  # fmt: skip
    ).encode()
    hb = HeartbeatData.decode(raw)
    a, b = hb.consumer_data_set
    assert (a.consume_type, a.message_model, a.consume_from_where) == (
        ConsumeType.CONSUME_ACTIVELY, MessageModel.BROADCASTING, ConsumeFromWhere.CONSUME_FROM_TIMESTAMP,
    )  # fmt: skip
    assert b.consume_type is ConsumeType.CONSUME_POP
    assert b.subscription_data_set[0].code_set == [2598919, 2598920]
    emitted = json.loads(hb.encode())
    assert emitted["consumerDataSet"][0]["consumeType"] == "CONSUME_ACTIVELY"
    assert emitted["consumerDataSet"][0]["messageModel"] == "BROADCASTING"


def test_consumer_offset_json_file_shape() -> None:
    raw = b'{"offsetTable":{"TopicTest@CG":{0:12,1:7},"%RETRY%CG@CG":{0:0}},"dataVersion":{"stateVersion":0,"timestamp":1,"counter":2}}'
    w = ConsumerOffsetSerializeWrapper.decode(raw)
    assert w.offset_table == {"TopicTest@CG": {0: 12, 1: 7}, "%RETRY%CG@CG": {0: 0}}
    assert w.data_version == DataVersion(0, 1, 2)


@pytest.mark.parametrize("cls", list(BODY_STRATEGIES), ids=lambda c: c.__name__)
@pytest.mark.parametrize("data", [None, b"", b"not json", b"[]", b"123", b'{"topicName":5}', b"\xff", b'{"a":{1:}}'])
def test_malformed_bodies_raise_body_error(cls: type[JsonBody], data: bytes | None) -> None:
    # BodyError is the only acceptable failure; some inputs legitimately decode to all-default bodies.
    try:
        result = cls.decode(data)
    except BodyError as exc:
        assert exc.remark and exc.response_code == 1
    else:
        assert isinstance(result, cls)


def test_lock_body_java_shape() -> None:
    body = LockBatchRequestBody("CG", "cid", [MessageQueue("T", "b", 1)])
    assert json.loads(body.encode()) == {
        "clientId": "cid", "consumerGroup": "CG", "onlyThisBroker": False,
        "mqSet": [{"brokerName": "b", "queueId": 1, "topic": "T"}],
    }  # fmt: skip
    assert LockBatchResponseBody.decode(b'{"lockOKMQSet":[{"topic":"T","brokerName":"b","queueId":1}]}').lock_ok_mq_set == [
        MessageQueue("T", "b", 1)
    ]


def test_generic_json_body() -> None:
    assert decode_json_body(b'{"mqTable":{},"properties":{"a":"1"}}')["properties"] == {"a": "1"}
    with pytest.raises(BodyError):
        decode_json_body(b"{")
