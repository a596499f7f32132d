"""The sticky strategy, whole-group assignment, moved-queue counting and the name lookup."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.message import MessageQueue
from rmqcore.rebalance import (
    AllocateArgumentError,
    NamedStrategy,
    UnknownStrategyError,
    allocate_averagely,
    allocate_averagely_by_circle,
    allocate_by_config,
    allocate_consistent_hash,
    allocate_sticky,
    assign_all,
    assign_all_sticky,
    moved_queue_count,
    owner_of,
    strategy_by_name,
    sticky_assignment,
)


def queues(n: int) -> list[MessageQueue]:
    return [MessageQueue("T", "b", q) for q in range(n)]


def cids(n: int) -> list[str]:
    return [f"c{i:02d}" for i in range(n)]


# --- sticky: worked examples ------------------------------------------------------------------
def test_join_moves_only_what_the_newcomer_needs() -> None:
    mqs = queues(12)
    before = assign_all(allocate_averagely, "g", mqs, cids(3))  # 4 / 4 / 4
    after = assign_all_sticky(mqs, cids(4), before)  # quota 3 each: each old consumer gives up one
    assert [len(after[c]) for c in cids(4)] == [3, 3, 3, 3]
    assert moved_queue_count(before, after) == 3
    # each keeps its first three, the newcomer gets the three released ones in queue order
    assert [mq.queue_id for mq in after["c03"]] == [3, 7, 11]
    # AVG would shift blocks along: c00 [0..2], c01 [3..5], c02 [6..8], c03 [9..11]
    assert moved_queue_count(before, assign_all(allocate_averagely, "g", mqs, cids(4))) == 6


def test_leave_moves_only_the_leavers_queues() -> None:
    mqs = queues(12)
    before = assign_all(allocate_averagely, "g", mqs, cids(4))
    survivors = ["c00", "c02", "c03"]
    after = assign_all_sticky(mqs, survivors, before)
    assert moved_queue_count(before, after) == 3  # just c01's three
    for cid in survivors:
        assert set(before[cid]) <= set(after[cid])


def test_extra_places_go_to_those_who_kept_the_most() -> None:
    mqs = queues(7)
    before = {"c": queues(7)[:5], "b": queues(7)[5:]}
    after = sticky_assignment(mqs, ["a", "b", "c"], before)  # N=7, C=3: one consumer may hold 3
    assert [mq.queue_id for mq in after["c"]] == [0, 1, 2]  # c kept most: the extra place is c's
    assert [mq.queue_id for mq in after["b"]] == [5, 6]
    assert [mq.queue_id for mq in after["a"]] == [3, 4]


def test_queue_claimed_twice_stays_with_the_first_consumer() -> None:
    mqs = queues(2)
    after = sticky_assignment(mqs, ["a", "b"], {"b": [mqs[0]], "a": [mqs[0]]})
    assert after == {"a": [mqs[0]], "b": [mqs[1]]}


def test_gone_queues_and_unknown_consumers_in_the_previous_assignment_are_ignored() -> None:
    mqs = queues(3)
    previous = {"a": [MessageQueue("T", "b", 99), mqs[2]], "ghost": [mqs[0]]}
    after = sticky_assignment(mqs, ["a", "b"], previous)
    assert after == {"a": [mqs[0], mqs[2]], "b": [mqs[1]]}


def test_allocate_sticky_is_the_current_consumers_part() -> None:
    mqs = queues(10)
    before = assign_all(allocate_averagely_by_circle, "g", mqs, cids(2))
    whole = assign_all_sticky(mqs, cids(3), before)
    for cid in cids(3):
        assert allocate_sticky("g", cid, mqs, cids(3), previous_assignment=before) == whole[cid]


# --- sticky: properties -----------------------------------------------------------------------
@st.composite
def group_change(draw):  # type: ignore[no-untyped-def]
    n_queues = draw(st.integers(1, 80))
    mqs = queues(n_queues)
    old = draw(st.sets(st.sampled_from(cids(20)), min_size=1, max_size=16).map(sorted))
    new = draw(st.sets(st.sampled_from(cids(20)), min_size=1, max_size=16).map(sorted))
    how = draw(st.sampled_from(["avg", "circle", "hash", "random"]))
    if how == "random":
        previous = {cid: [] for cid in old}
        for mq in mqs:
            previous[draw(st.sampled_from(old))].append(mq)
    else:
        strategy = {"avg": allocate_averagely, "circle": allocate_averagely_by_circle, "hash": allocate_consistent_hash}[how]
        previous = assign_all(strategy, "g", mqs, old)
    return mqs, new, previous


@settings(max_examples=150, deadline=None)
@given(group_change())
def test_sticky_is_a_balanced_partition_moving_no_more_than_any_even_strategy(change) -> None:  # type: ignore[no-untyped-def]
    mqs, new, previous = change
    after = assign_all_sticky(mqs, new, previous)
    owners = Counter(mq for qs in after.values() for mq in qs)
    assert sorted(owners) == mqs and set(owners.values()) == {1}
    sizes = [len(qs) for qs in after.values()]
    assert max(sizes) - min(sizes) <= 1
    # Sticky moves the fewest queues among balanced assignments, so never more than AVG or AVG_BY_CIRCLE.
    moved = moved_queue_count(previous, after)
    assert moved <= moved_queue_count(previous, assign_all(allocate_averagely, "g", mqs, new))
    assert moved <= moved_queue_count(previous, assign_all(allocate_averagely_by_circle, "g", mqs, new))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60), st.integers(1, 12), st.sampled_from([allocate_averagely, allocate_averagely_by_circle]))
def test_sticky_keeps_a_balanced_assignment_unchanged(n_queues: int, n_consumers: int, strategy) -> None:  # type: ignore[no-untyped-def]
    before = assign_all(strategy, "g", queues(n_queues), cids(n_consumers))
    assert assign_all_sticky(queues(n_queues), cids(n_consumers), before) == before


def test_sticky_moves_the_minimum_on_small_cases_by_brute_force() -> None:
    # Every balanced assignment of 5 queues to 3 consumers, from every previous owner map (x has left).
    from itertools import product

    mqs, group = queues(5), ["a", "b", "c"]
    def is_balanced(owners: tuple[str, ...]) -> bool:
        counts = [owners.count(c) for c in group]
        return max(counts) - min(counts) <= 1

    balanced = [owners for owners in product(group, repeat=5) if is_balanced(owners)]
    for previous_owners in product(["a", "b", "c", "x"], repeat=5):
        previous = {c: [mq for mq, o in zip(mqs, previous_owners) if o == c] for c in ("a", "b", "c", "x")}
        after = sticky_assignment(mqs, group, previous)
        best = min(sum(1 for o, p in zip(owners, previous_owners) if o != p) for owners in balanced)
        assert moved_queue_count(previous, after) == best


# --- whole-group helpers ----------------------------------------------------------------------
def test_assign_all_sorts_like_the_consumer() -> None:
    mqs = queues(5)
    assert assign_all(allocate_averagely, "g", reversed(mqs), ["c1", "c0"]) == {"c0": mqs[:3], "c1": mqs[3:]}


def test_owner_of_and_moved_count() -> None:
    mqs = queues(3)
    before = {"a": [mqs[0], mqs[1]], "b": [mqs[2]]}
    after = {"a": [mqs[0]], "b": [mqs[1], mqs[2]], "c": [MessageQueue("T", "b", 7)]}
    assert owner_of(after)[mqs[1]] == ["b"]
    assert moved_queue_count(before, after) == 2  # mqs[1] changed owner; queue 7 is new
    assert moved_queue_count(before, before) == 0


# --- name lookup ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "function"),
    [
        ("AVG", {}, allocate_averagely),
        ("AVG_BY_CIRCLE", {}, allocate_averagely_by_circle),
        ("CONSISTENT_HASH", {"virtual_node_count": 5}, allocate_consistent_hash),
        ("CONFIG", {"message_queue_list": []}, allocate_by_config),
        ("STICKY", {}, allocate_sticky),
    ],
)
def test_strategy_by_name(name: str, options: dict, function) -> None:  # type: ignore[no-untyped-def]
    strategy = strategy_by_name(name, **options)
    assert isinstance(strategy, NamedStrategy)
    assert strategy.name == strategy.get_name() == name
    mqs = queues(9)
    assert strategy("g", "c1", mqs, cids(3)) == function("g", "c1", mqs, cids(3), **options)


def test_nearby_by_name_wraps_the_inner_strategy() -> None:
    class OneRoom:
        def broker_deploy_in(self, mq: MessageQueue) -> str:
            return "hz"

        def consumer_deploy_in(self, cid: str) -> str:
            return "hz"

    strategy = strategy_by_name("MACHINE_ROOM_NEARBY-CONSISTENT_HASH", machine_room_resolver=OneRoom(), virtual_node_count=4)
    assert strategy.name == "MACHINE_ROOM_NEARBY-CONSISTENT_HASH"
    assert strategy.options["inner_strategy"].name == "CONSISTENT_HASH"
    mqs = queues(16)
    # One room holding everyone: the same as the inner strategy alone.
    for cid in cids(3):
        assert strategy("g", cid, mqs, cids(3)) == allocate_consistent_hash("g", cid, mqs, cids(3), virtual_node_count=4)


def test_name_lookup_errors() -> None:
    with pytest.raises(UnknownStrategyError, match="unknown allocate strategy 'LOL'"):
        strategy_by_name("LOL")
    with pytest.raises(UnknownStrategyError):
        strategy_by_name("MACHINE_ROOM_NEARBY-LOL", machine_room_resolver=object())
    with pytest.raises(AllocateArgumentError, match="^machineRoomResolver is null$"):
        strategy_by_name("MACHINE_ROOM_NEARBY-AVG")
    with pytest.raises(AllocateArgumentError, match="^illegal virtualNodeCnt :-2$"):
        strategy_by_name("CONSISTENT_HASH", virtual_node_count=-2)
    with pytest.raises(TypeError):
        strategy_by_name("AVG", virtual_nodes=3)  # misspelt / foreign option, refused at configuration
    with pytest.raises(TypeError):
        strategy_by_name("CONFIG")  # CONFIG needs its list
