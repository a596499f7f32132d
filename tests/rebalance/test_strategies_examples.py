"""Exact examples of RocketMQ's strategies, each worked out by hand from the section 9 rules."""

from __future__ import annotations

import hashlib

import pytest

from rmqcore.message import MessageQueue
from rmqcore.rebalance import (
    AllocateArgumentError,
    allocate_averagely,
    allocate_averagely_by_circle,
    allocate_by_config,
    allocate_by_machine_room,
    allocate_consistent_hash,
    allocate_machine_room_nearby,
    allocate_sticky,
    md5_ring_hash,
)


def queues(n: int, topic: str = "T", broker: str = "broker-a") -> list[MessageQueue]:
    return [MessageQueue(topic, broker, q) for q in range(n)]


def ids(mqs: list[MessageQueue]) -> list[int]:
    return [mq.queue_id for mq in mqs]


# --- AVG -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "cids", "expected"),
    [
        # N=10, C=3: mod=1; c0 size 4 from 0; c1 size 3 from 1*3+1=4; c2 size 3 from 2*3+1=7
        (10, 3, [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        # N=8, C=3: mod=2; c0, c1 size 3 from 0 and 3; c2 size 2 from 2*2+2=6
        (8, 3, [[0, 1, 2], [3, 4, 5], [6, 7]]),
        # N=2, C=4: size 1; c2 starts at 2*1+2=4 > N ⇒ nothing
        (2, 4, [[0], [1], [], []]),
        (4, 4, [[0], [1], [2], [3]]),
        (5, 1, [[0, 1, 2, 3, 4]]),
    ],
)
def test_averagely(n: int, cids: int, expected: list[list[int]]) -> None:
    cid_all = [f"c{i}" for i in range(cids)]
    assert [ids(allocate_averagely("g", cid, queues(n), cid_all)) for cid in cid_all] == expected


def test_averagely_uses_the_order_given() -> None:
    # Like RocketMQ, no sorting inside: the position in cid_all decides.
    assert ids(allocate_averagely("g", "z", queues(4), ["z", "a"])) == [0, 1]


# --- AVG_BY_CIRCLE ---------------------------------------------------------------------------
def test_averagely_by_circle() -> None:
    cid_all = ["c0", "c1", "c2"]
    got = [ids(allocate_averagely_by_circle("g", cid, queues(7), cid_all)) for cid in cid_all]
    assert got == [[0, 3, 6], [1, 4], [2, 5]]
    assert allocate_averagely_by_circle("g", "c3", queues(2), ["c0", "c1", "c2", "c3"]) == []


# --- CONSISTENT_HASH -------------------------------------------------------------------------
def test_md5_ring_hash_is_first_four_bytes_big_endian() -> None:
    # MD5("abc") = 900150983cd24fb0d6963f7d28e17f72
    assert md5_ring_hash("abc") == 0x90015098
    assert md5_ring_hash("é") == int.from_bytes(hashlib.md5("é".encode()).digest()[:4], "big")


def test_consistent_hash_on_a_hand_made_ring() -> None:
    # Ring a-0→100, b-0→200. Queue q hashes to h(q): first ring key ≥ h, wrapping to the smallest.
    table = {"a-0": 100, "b-0": 200}
    mqs = queues(4)
    table.update({str(mqs[0]): 50, str(mqs[1]): 150, str(mqs[2]): 250, str(mqs[3]): 200})
    cid_all = ["a", "b"]
    got = {cid: ids(allocate_consistent_hash("g", cid, mqs, cid_all, virtual_node_count=1, hash_function=table.__getitem__)) for cid in cid_all}
    # 50→100 (a), 150→200 (b), 250→wrap→100 (a), 200→200 inclusive (b)
    assert got == {"a": [0, 2], "b": [1, 3]}


def test_consistent_hash_equal_hashes_later_overwrites() -> None:
    table = {"a-0": 100, "b-0": 100}
    mqs = queues(3)
    table.update({str(mq): 7 * (mq.queue_id + 1) for mq in mqs})
    kwargs = dict(virtual_node_count=1, hash_function=table.__getitem__)
    assert allocate_consistent_hash("g", "a", mqs, ["a", "b"], **kwargs) == []
    assert allocate_consistent_hash("g", "b", mqs, ["a", "b"], **kwargs) == mqs


def _reference_consistent_hash(cid_all: list[str], mqs: list[MessageQueue], vnodes: int) -> dict[str, list[MessageQueue]]:
    """A second, deliberately plain reading of section 9: list of (hash, cid), linear scan."""

    def h(key: str) -> int:
        d = hashlib.md5(key.encode("utf-8")).digest()
        return (d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]

    ring: dict[int, str] = {}
    for cid in cid_all:
        for r in range(vnodes):
            ring[h(f"{cid}-{r}")] = cid
    points = sorted(ring.items())
    result: dict[str, list[MessageQueue]] = {cid: [] for cid in cid_all}
    for mq in mqs:
        target = h(f"MessageQueue [topic={mq.topic}, brokerName={mq.broker_name}, queueId={mq.queue_id}]")
        owner = next((cid for point, cid in points if point >= target), points[0][1])
        result[owner].append(mq)
    return result


@pytest.mark.parametrize(("consumers", "n_queues", "vnodes"), [(2, 8, 10), (5, 32, 10), (3, 16, 1), (7, 64, 25)])
def test_consistent_hash_matches_a_plain_md5_ring(consumers: int, n_queues: int, vnodes: int) -> None:
    cid_all = sorted(f"192.168.0.{i}@{1000 + i}" for i in range(consumers))
    mqs = sorted(queues(n_queues // 2, "TopicTest", "broker-a") + queues(n_queues // 2, "TopicTest", "broker-b"))
    expected = _reference_consistent_hash(cid_all, mqs, vnodes)
    for cid in cid_all:
        assert allocate_consistent_hash("g", cid, mqs, cid_all, virtual_node_count=vnodes) == expected[cid]


def test_consistent_hash_pinned_values() -> None:
    # Pinned (MD5 is fixed, so these never change); default 10 virtual nodes, queues T/broker-a/0..5.
    # Spot values: MD5 ring hash of "c0-0" is 0x8a18b93e; of "MessageQueue [topic=T, brokerName=broker-a, queueId=0]" 0x612f4674.
    assert md5_ring_hash("c0-0") == 0x8A18B93E
    assert md5_ring_hash(str(MessageQueue("T", "broker-a", 0))) == 0x612F4674
    mqs = queues(6)
    got = {cid: ids(allocate_consistent_hash("g", cid, mqs, ["c0", "c1"])) for cid in ("c0", "c1")}
    assert got == {"c0": [0, 1, 5], "c1": [2, 3, 4]}
    assert {cid: ids(v) for cid, v in _reference_consistent_hash(["c0", "c1"], mqs, 10).items()} == got


def test_consistent_hash_virtual_node_count_checks() -> None:
    with pytest.raises(AllocateArgumentError, match="^illegal virtualNodeCnt :-1$"):
        allocate_consistent_hash("g", "c0", queues(2), ["c0"], virtual_node_count=-1)
    # 0 nodes: an empty ring routes nothing.
    assert allocate_consistent_hash("g", "c0", queues(2), ["c0"], virtual_node_count=0) == []


# --- CONFIG ----------------------------------------------------------------------------------
def test_by_config_ignores_inputs_and_does_no_check() -> None:
    configured = [MessageQueue("T", "b", 5), MessageQueue("T", "b", 1)]
    assert allocate_by_config("g", "", [], [], message_queue_list=configured) == configured
    assert allocate_by_config("g", "x", queues(3), ["y"], message_queue_list=[]) == []


# --- MACHINE_ROOM ----------------------------------------------------------------------------
def test_by_machine_room() -> None:
    brokers = ["hz@b1", "hz@b2", "sh@b3", "hz@b4", "hz@b5", "b6", "hz@", "hz@x@y", "@b7"]
    mqs = sorted(MessageQueue("T", b, 0) for b in brokers)
    # Eligible (2 parts, idc "hz"), in sorted order: hz@b1 hz@b2 hz@b4 hz@b5.
    # "hz@" splits to ["hz"] (Java drops the trailing empty part), "hz@x@y" to 3 parts, "@b7" to ["", "b7"].
    cid_all = ["c0", "c1", "c2"]
    got = {cid: [mq.broker_name for mq in allocate_by_machine_room("g", cid, mqs, cid_all, consumer_idcs={"hz"})] for cid in cid_all}
    # P=4, C=3: mod=1, rem=1; c0: [0,1) + element 0+1*3=3; c1: [1,2); c2: [2,3)
    assert got == {"c0": ["hz@b1", "hz@b5"], "c1": ["hz@b2"], "c2": ["hz@b4"]}
    # the empty idc is a value like any other
    assert [mq.broker_name for mq in allocate_by_machine_room("g", "c0", mqs, ["c0"], consumer_idcs={""})] == ["@b7"]


# --- MACHINE_ROOM_NEARBY ---------------------------------------------------------------------
class DictResolver:
    def __init__(self, brokers: dict[str, str], consumers: dict[str, str]) -> None:
        self.brokers, self.consumers = brokers, consumers

    def broker_deploy_in(self, mq: MessageQueue) -> str | None:
        return self.brokers.get(mq.broker_name)

    def consumer_deploy_in(self, cid: str) -> str | None:
        return self.consumers.get(cid)


def test_machine_room_nearby() -> None:
    resolver = DictResolver(
        {"hz-b": "hz", "sh-b": "sh", "b-1": "zulu", "b-2": "alpha"},
        {"hz-c0": "hz", "hz-c1": "hz", "sh-c0": "sh"},
    )
    mqs = sorted(queues(4, broker="hz-b") + queues(2, broker="sh-b") + queues(3, broker="b-1") + queues(3, broker="b-2"))
    cid_all = ["hz-c0", "hz-c1", "sh-c0"]

    def run(cid: str) -> list[tuple[str, int]]:
        got = allocate_machine_room_nearby("g", cid, mqs, cid_all, inner_strategy=allocate_averagely, machine_room_resolver=resolver)
        return [(mq.broker_name, mq.queue_id) for mq in got]

    # hz: 4 queues between hz-c0, hz-c1 (AVG: 2 + 2).  Rooms without consumers, in room order
    # (TreeMap: "alpha" = b-2 before "zulu" = b-1), 3 queues each among all three consumers (1 each).
    assert run("hz-c0") == [("hz-b", 0), ("hz-b", 1), ("b-2", 0), ("b-1", 0)]
    assert run("hz-c1") == [("hz-b", 2), ("hz-b", 3), ("b-2", 1), ("b-1", 1)]
    assert run("sh-c0") == [("sh-b", 0), ("sh-b", 1), ("b-2", 2), ("b-1", 2)]


def test_machine_room_nearby_empty_room_errors() -> None:
    mqs = queues(1, broker="b")
    no_broker_room = DictResolver({}, {"c": "hz"})
    with pytest.raises(AllocateArgumentError, match=r"^Machine room is null for mq MessageQueue \[topic=T, brokerName=b, queueId=0\]$"):
        allocate_machine_room_nearby("g", "c", mqs, ["c"], inner_strategy=allocate_averagely, machine_room_resolver=no_broker_room)
    no_consumer_room = DictResolver({"b": "hz"}, {"c": ""})
    with pytest.raises(AllocateArgumentError, match="^Machine room is null for consumer id c$"):
        allocate_machine_room_nearby("g", "c", mqs, ["c"], inner_strategy=allocate_averagely, machine_room_resolver=no_consumer_room)
    with pytest.raises(AllocateArgumentError, match="^allocateMessageQueueStrategy is null$"):
        allocate_machine_room_nearby("g", "c", mqs, ["c"], inner_strategy=None, machine_room_resolver=no_consumer_room)  # type: ignore[arg-type]
    with pytest.raises(AllocateArgumentError, match="^machineRoomResolver is null$"):
        allocate_machine_room_nearby("g", "c", mqs, ["c"], inner_strategy=allocate_averagely, machine_room_resolver=None)  # type: ignore[arg-type]


# --- the common check ------------------------------------------------------------------------
CHECKED = [
    lambda *a: allocate_averagely(*a),
    lambda *a: allocate_averagely_by_circle(*a),
    lambda *a: allocate_consistent_hash(*a),
    lambda *a: allocate_by_machine_room(*a, consumer_idcs={"hz"}),
    lambda *a: allocate_machine_room_nearby(*a, inner_strategy=allocate_averagely, machine_room_resolver=DictResolver({}, {})),
    lambda *a: allocate_sticky(*a),
]


@pytest.mark.parametrize("strategy", CHECKED)
def test_common_check_texts_and_order(strategy) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AllocateArgumentError, match="^currentCID is empty$"):
        strategy("g", "", [], [])
    with pytest.raises(AllocateArgumentError, match="^mqAll is null or mqAll empty$"):
        strategy("g", "c0", [], [])
    with pytest.raises(AllocateArgumentError, match="^cidAll is null or cidAll empty$"):
        strategy("g", "c0", queues(1), [])
    # a consumer not in cidAll gets nothing (RocketMQ logs "[BUG]" and returns an empty list)
    assert strategy("g", "stranger", queues(3, broker="hz@b"), ["c0", "c1"]) == []


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        allocate_averagely("g", "", queues(1), ["c"])
