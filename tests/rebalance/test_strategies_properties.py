"""Hypothesis properties of every strategy, over the whole group's assignment.

* every queue has exactly one live owner (where RocketMQ guarantees it: not CONFIG, and for
  MACHINE_ROOM only the queues of the consumers' idcs);
* sizes differ by at most one for the even strategies (AVG, AVG_BY_CIRCLE, MACHINE_ROOM, STICKY);
* the result depends only on the sorted inputs.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.message import MessageQueue
from rmqcore.rebalance import (
    allocate_averagely,
    allocate_averagely_by_circle,
    allocate_by_config,
    allocate_by_machine_room,
    allocate_consistent_hash,
    allocate_machine_room_nearby,
    allocate_sticky,
    assign_all,
    strategy_by_name,
)

message_queues = st.sets(
    st.builds(
        MessageQueue,
        st.sampled_from(["TopicA", "TopicB"]),
        st.sampled_from(["hz@broker-a", "hz@broker-b", "sh@broker-c", "broker-d", "bj@broker-e"]),
        st.integers(0, 15),
    ),
    min_size=1,
    max_size=60,
).map(sorted)
consumer_ids = st.sets(st.from_regex(r"10\.0\.0\.[0-9]{1,3}@[0-9]{1,5}", fullmatch=True), min_size=1, max_size=12).map(sorted)


class PrefixResolver:
    """Brokers: the part before '@' (or 'none'); consumers: by a digit of their id."""

    def broker_deploy_in(self, mq: MessageQueue) -> str:
        return mq.broker_name.split("@")[0] if "@" in mq.broker_name else "none"

    def consumer_deploy_in(self, cid: str) -> str:
        return ("hz", "sh", "gz")[int(cid.split("@")[1]) % 3]


def whole_group(strategy, mqs: list[MessageQueue], cids: list[str], **options) -> dict[str, list[MessageQueue]]:  # type: ignore[no-untyped-def]
    return {cid: strategy("group", cid, mqs, cids, **options) for cid in cids}


def assert_partition(assignment: dict[str, list[MessageQueue]], expected: list[MessageQueue]) -> None:
    owned = Counter(mq for queues in assignment.values() for mq in queues)
    assert sorted(owned) == sorted(expected)
    assert set(owned.values()) <= {1}


def assert_balanced(assignment: dict[str, list[MessageQueue]]) -> None:
    sizes = [len(queues) for queues in assignment.values()]
    assert max(sizes) - min(sizes) <= 1


PARTITIONING = {
    "AVG": (allocate_averagely, {}),
    "AVG_BY_CIRCLE": (allocate_averagely_by_circle, {}),
    "CONSISTENT_HASH": (allocate_consistent_hash, {}),
    "CONSISTENT_HASH_3": (allocate_consistent_hash, {"virtual_node_count": 3}),
    "STICKY": (allocate_sticky, {}),
    "NEARBY_AVG": (allocate_machine_room_nearby, {"inner_strategy": allocate_averagely, "machine_room_resolver": PrefixResolver()}),
    "NEARBY_CIRCLE": (allocate_machine_room_nearby, {"inner_strategy": allocate_averagely_by_circle, "machine_room_resolver": PrefixResolver()}),
}
EVEN = {"AVG", "AVG_BY_CIRCLE", "STICKY"}


@settings(max_examples=60, deadline=None)
@given(message_queues, consumer_ids, st.sampled_from(sorted(PARTITIONING)))
def test_every_queue_has_one_owner(mqs: list[MessageQueue], cids: list[str], name: str) -> None:
    strategy, options = PARTITIONING[name]
    assignment = whole_group(strategy, mqs, cids, **options)
    assert_partition(assignment, mqs)
    if name in EVEN:
        assert_balanced(assignment)


@settings(max_examples=60, deadline=None)
@given(message_queues, consumer_ids, st.sets(st.sampled_from(["hz", "sh", "bj", "gz"])))
def test_machine_room_partitions_the_consumer_idcs_queues_evenly(mqs: list[MessageQueue], cids: list[str], idcs: set[str]) -> None:
    assignment = whole_group(allocate_by_machine_room, mqs, cids, consumer_idcs=idcs)
    eligible = [mq for mq in mqs if mq.broker_name.count("@") == 1 and mq.broker_name.split("@")[0] in idcs]
    assert_partition(assignment, eligible)
    assert_balanced(assignment)


@settings(max_examples=30, deadline=None)
@given(message_queues, consumer_ids, st.lists(st.integers(0, 59), max_size=5))
def test_by_config_returns_the_configured_list_to_everyone(mqs: list[MessageQueue], cids: list[str], picks: list[int]) -> None:
    configured = [mqs[i % len(mqs)] for i in picks]
    assignment = whole_group(allocate_by_config, mqs, cids, message_queue_list=configured)
    assert all(queues == configured for queues in assignment.values())


ALL_BY_NAME = ["AVG", "AVG_BY_CIRCLE", "CONSISTENT_HASH", "STICKY", "MACHINE_ROOM", "MACHINE_ROOM_NEARBY-AVG", "MACHINE_ROOM_NEARBY-CONSISTENT_HASH"]


def _by_name(name: str):  # type: ignore[no-untyped-def]
    if name == "MACHINE_ROOM":
        return strategy_by_name(name, consumer_idcs={"hz", "sh"})
    if name.startswith("MACHINE_ROOM_NEARBY"):
        return strategy_by_name(name, machine_room_resolver=PrefixResolver())
    return strategy_by_name(name)


@settings(max_examples=60, deadline=None)
@given(message_queues, consumer_ids, st.sampled_from(ALL_BY_NAME), st.randoms(use_true_random=False))
def test_result_depends_only_on_the_sorted_inputs(mqs, cids, name, rnd) -> None:  # type: ignore[no-untyped-def]
    strategy = _by_name(name)
    shuffled_mqs, shuffled_cids = list(mqs), list(cids)
    rnd.shuffle(shuffled_mqs)
    rnd.shuffle(shuffled_cids)
    # Fresh, equal-but-not-identical objects: nothing may hang on identity or insertion order.
    copied_mqs = [MessageQueue(mq.topic, mq.broker_name, mq.queue_id) for mq in shuffled_mqs]
    copied_cids = ["".join(cid) for cid in shuffled_cids]
    expected = assign_all(strategy, "group", mqs, cids)
    assert assign_all(strategy, "group", copied_mqs, copied_cids) == expected
    for cid in cids:
        assert strategy("group", cid, sorted(copied_mqs), sorted(copied_cids)) == expected[cid]


@settings(max_examples=40, deadline=None)
@given(message_queues, consumer_ids, st.sampled_from(ALL_BY_NAME))
def test_a_consumer_not_in_the_group_gets_nothing(mqs, cids, name) -> None:  # type: ignore[no-untyped-def]
    assert _by_name(name)("group", "not-a-member", mqs, cids) == []
