"""Administration requests: topic creation and persistence, client config check, C++-style heartbeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmqcore.remoting import RequestCode, ResponseCode
from rmqcore.remoting.bodies.heartbeat import CheckClientRequestBody, SubscriptionData
from rmqcore.remoting.headers.admin import CreateTopicRequestHeader
from rmqcore.remoting.headers.offset import GetEarliestMsgStoretimeRequestHeader

from .conftest import connect, running_broker

pytestmark = pytest.mark.anyio


async def test_create_topic_persists_and_is_listed(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        created = await client.request(
            RequestCode.UPDATE_AND_CREATE_TOPIC,
            CreateTopicRequestHeader("OrderTopic", "TBW102", 2, 3, 6, "MULTI_TAG", order=True, attributes="+k=v"),
        )
        assert created.code == 0
        bad_name = await client.request(
            RequestCode.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader("bad topic!", "TBW102", 1, 1, 6, "SINGLE_TAG")
        )
        assert bad_name.code == ResponseCode.SYSTEM_ERROR and "illegal characters" in bad_name.remark
        system = await client.request(
            RequestCode.UPDATE_AND_CREATE_TOPIC, CreateTopicRequestHeader("SCHEDULE_TOPIC_XXXX", "TBW102", 1, 1, 6, "SINGLE_TAG")
        )
        assert system.code == ResponseCode.SYSTEM_ERROR and "conflict with system topic" in system.remark
        listed = json.loads((await client.request(RequestCode.GET_ALL_TOPIC_CONFIG)).body)
        assert listed["topicConfigTable"]["OrderTopic"]["writeQueueNums"] == 3
        # Sending to a MULTI_TAG topic sets the MULTI_TAGS sysFlag bit (reference section 4).
        sent = await client.send("OrderTopic", b"x", queue_id=2, tags="a b")
        assert sent.code == 0
        assert broker.store.get("OrderTopic", 2, 0).messages[0].sys_flag & 0x2
        earliest = await client.request(RequestCode.GET_EARLIEST_MSG_STORETIME, GetEarliestMsgStoretimeRequestHeader("OrderTopic", 2))
        assert int(earliest.ext_fields["timestamp"]) == broker.clock.now_ms()
        beyond = await client.send("OrderTopic", b"x", queue_id=3)
        assert beyond.code == ResponseCode.SYSTEM_ERROR and "queueId[3] is illegal" in beyond.remark

    on_disk = json.loads((tmp_path / "config" / "topics.json").read_text())
    assert on_disk["topicConfigTable"]["OrderTopic"] == {
        "attributes": {"k": "v"},
        "order": True,
        "perm": 6,
        "readQueueNums": 2,
        "topicFilterType": "MULTI_TAG",
        "topicName": "OrderTopic",
        "topicSysFlag": 0,
        "writeQueueNums": 3,
    }
    async with running_broker(tmp_path, autoCreateTopicEnable="false") as broker, connect(broker.port) as client:
        assert (await client.send("OrderTopic", b"after restart", queue_id=0)).code == 0


async def test_check_client_config(tmp_path: Path) -> None:
    def body(expression: str, kind: str = "SQL92") -> bytes:
        return CheckClientRequestBody("c1", "CG", SubscriptionData("T", expression, expression_type=kind)).encode()

    async with running_broker(tmp_path / "off") as broker, connect(broker.port) as client:
        refused = await client.request(RequestCode.CHECK_CLIENT_CONFIG, None, body("a > 1"))
        assert refused.code == ResponseCode.SYSTEM_ERROR and "SQL92" in refused.remark
        assert (await client.request(RequestCode.CHECK_CLIENT_CONFIG, None, body("TagA", "TAG"))).code == 0
    async with running_broker(tmp_path / "on", enablePropertyFilter="true") as broker, connect(broker.port) as client:
        assert (await client.request(RequestCode.CHECK_CLIENT_CONFIG, None, body("a > 1"))).code == 0
        bad = await client.request(RequestCode.CHECK_CLIENT_CONFIG, None, body("a >"))
        assert bad.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED


async def test_cpp_style_heartbeat_with_integer_enums(tmp_path: Path) -> None:
    """C++ clients send consumeType/messageModel/consumeFromWhere as ints (reference section 13)."""
    raw = (
        b'{"clientID":"10.0.0.9@4242","producerDataSet":[{"groupName":"PG"}],"consumerDataSet":[{"groupName":"CG",'
        b'"consumeType":1,"messageModel":0,"consumeFromWhere":4,"unitMode":false,"subscriptionDataSet":[{"topic":"T",'
        b'"subString":"TagA || TagB","tagsSet":["TagA","TagB"],"codeSet":[2598919,2598920],"subVersion":7,'
        b'"expressionType":"TAG","classFilterMode":false}]}]}'
    )
    async with running_broker(tmp_path) as broker, connect(broker.port) as client:
        assert (await client.request(RequestCode.HEART_BEAT, None, raw)).code == 0
        group = broker.consumers.group("CG")
        assert (group.consume_type, group.message_model, group.consume_from_where) == (
            "CONSUME_PASSIVELY",
            "BROADCASTING",
            "CONSUME_FROM_FIRST_OFFSET",
        )
        subscription = group.subscriptions["T"]
        assert subscription.tag_codes == frozenset({2598919, 2598920}) and subscription.sub_version == 7
        assert broker.producers.groups() == {"PG": ["10.0.0.9@4242"]}


async def test_search_offset_by_timestamp_honours_boundary_type(tmp_path: Path) -> None:
    """5.x ``boundaryType``: among messages stored at the same time LOWER answers the first and
    UPPER the last; between store times LOWER the next after, UPPER the last before; absent or
    unknown values are LOWER and the value is read in any case (BoundaryType.getType)."""
    from rmqcore.clock import FakeClock
    from rmqcore.remoting.headers.offset import SearchOffsetRequestHeader

    clock = FakeClock(start_ms=1_700_000_000_000)
    async with running_broker(tmp_path, clock) as broker, connect(broker.port) as client:
        t0 = clock.now_ms()
        for step in (0, 0, 0, 10, 0, 10):  # offsets 0-2 at t0, 3-4 at t0+10, 5 at t0+20
            clock.advance(step)
            assert (await client.send("TimeTopic", b"m", queue_id=0)).code == 0

        async def search(ts: int, boundary: str | None) -> int:
            answer = await client.request(
                RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, SearchOffsetRequestHeader("TimeTopic", 0, ts, boundary)
            )
            assert answer.code == 0
            return int(answer.ext_fields["offset"])

        assert [await search(t0, b) for b in (None, "LOWER", "UPPER", "upper", "bogus")] == [0, 0, 2, 2, 0]
        assert (await search(t0 + 10, "LOWER"), await search(t0 + 10, "UPPER")) == (3, 4)
        assert (await search(t0 + 5, "LOWER"), await search(t0 + 5, "UPPER")) == (3, 2)
        assert (await search(t0 - 1, "LOWER"), await search(t0 - 1, "UPPER")) == (0, 0)
        assert (await search(t0 + 21, "LOWER"), await search(t0 + 21, "UPPER")) == (6, 5)
