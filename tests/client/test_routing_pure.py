"""Queue selection, route conversion, fault avoidance and status mappings (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rmqcore.client.fault_tolerance import BrokerAvailability
from rmqcore.client.pull_result import PullResult, PullStatus, process_pull_result, pull_status_for_code
from rmqcore.client.route import TopicPublishInfo, publish_queues, subscribe_queues
from rmqcore.client.selectors import select_by_hash
from rmqcore.client.send_result import SendStatus, send_status_for_code
from rmqcore.clock import FakeClock
from rmqcore.message import MessageExt, MessageQueue, encode_stored_message


@dataclass
class QD:
    broker_name: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int


@dataclass
class BD:
    broker_name: str
    broker_addrs: dict[int, str]


@dataclass
class Route:
    queue_datas: list[QD]
    broker_datas: list[BD]
    order_topic_conf: str | None = None
    filter_server_table: dict = field(default_factory=dict)


def _route() -> Route:
    return Route(
        [QD("broker-b", 2, 2, 6), QD("broker-a", 4, 3, 6), QD("broker-c", 2, 2, 4), QD("broker-d", 1, 1, 6)],
        [BD("broker-a", {0: "a:1"}), BD("broker-b", {0: "b:1", 1: "b:2"}), BD("broker-c", {0: "c:1"}), BD("broker-d", {1: "d:2"})],
    )


def test_publish_queues_sorted_by_broker_writable_with_master_only() -> None:
    queues, ordered = publish_queues("T", _route())
    assert not ordered
    assert [(q.broker_name, q.queue_id) for q in queues] == [
        ("broker-a", 0), ("broker-a", 1), ("broker-a", 2), ("broker-b", 0), ("broker-b", 1)
    ]


def test_order_topic_conf_overrides() -> None:
    route = _route()
    route.order_topic_conf = "broker-b:2;broker-a:1"
    queues, ordered = publish_queues("T", route)
    assert ordered and [(q.broker_name, q.queue_id) for q in queues] == [("broker-b", 0), ("broker-b", 1), ("broker-a", 0)]


def test_subscribe_queues_are_the_readable_ones() -> None:
    got = subscribe_queues("T", _route())
    assert len(got) == 4 + 2 + 2 + 1
    assert MessageQueue("T", "broker-c", 1) in got


def test_select_queue_round_robin_covers_all_queues() -> None:
    info = TopicPublishInfo.from_route("T", _route())
    seen = [info.select_queue() for _ in range(len(info.message_queues))]
    assert sorted(seen) == sorted(info.message_queues)


def test_select_queue_avoids_last_failed_and_isolated_brokers() -> None:
    clock = FakeClock(start_ms=0)
    availability = BrokerAvailability(clock, isolation_ms=5_000)
    info = TopicPublishInfo.from_route("T", _route())
    assert all(info.select_queue(last_broker_name="broker-a").broker_name == "broker-b" for _ in range(10))
    availability.mark_failed("broker-b")
    assert all(info.select_queue(availability=availability).broker_name == "broker-a" for _ in range(10))
    availability.mark_failed("broker-a")
    # Everything isolated: still answers, never refuses a send.
    assert info.select_queue(availability=availability) in info.message_queues
    clock.advance(5_000)
    assert {info.select_queue(availability=availability).broker_name for _ in range(10)} == {"broker-a", "broker-b"}


def test_select_by_hash_is_java_modulo() -> None:
    queues = [MessageQueue("T", "b", i) for i in range(4)]
    assert [select_by_hash(queues, None, i).queue_id for i in range(10)] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert select_by_hash(queues, None, -7).queue_id == 3
    assert select_by_hash(queues, None, "order-1") == select_by_hash(queues, None, "order-1")


def test_status_mappings() -> None:
    assert [send_status_for_code(c) for c in (0, 10, 11, 12)] == [
        SendStatus.SEND_OK, SendStatus.FLUSH_DISK_TIMEOUT, SendStatus.SLAVE_NOT_AVAILABLE, SendStatus.FLUSH_SLAVE_TIMEOUT
    ]
    assert send_status_for_code(17) is None
    assert [pull_status_for_code(c) for c in (0, 19, 20, 21, 1)] == [
        PullStatus.FOUND, PullStatus.NO_NEW_MSG, PullStatus.NO_MATCHED_MSG, PullStatus.OFFSET_ILLEGAL, None
    ]


def test_process_pull_result_refilters_by_exact_tag_and_stamps_offsets() -> None:
    records = b"".join(
        encode_stored_message(MessageExt("T", f"m{i}".encode(), tags=tag, queue_offset=i, commitlog_offset=100 * i))
        for i, tag in enumerate(["TagA", "TagB", "TagC", None])
    )
    mq = MessageQueue("T", "broker-a", 0)
    result = process_pull_result(mq, PullResult(PullStatus.FOUND, 4, 0, 4, body=records), {"TagA", "TagC"})
    assert [m.body for m in result.msg_found_list] == [b"m0", b"m2"]
    assert all(m.properties["MIN_OFFSET"] == "0" and m.properties["MAX_OFFSET"] == "4" for m in result.msg_found_list)
    assert all(m.broker_name == "broker-a" for m in result.msg_found_list)
    everything = process_pull_result(mq, PullResult(PullStatus.FOUND, 4, 0, 4, body=records), None)
    assert len(everything.msg_found_list) == 4
