"""The whole group's assignment: what every consumer would compute, and how many queues moved.

``assign_all`` sorts the inputs as RocketMQ's ``RebalanceImpl`` does before calling a strategy
(section 9), then asks the strategy once per consumer.

>>> from rmqcore.message import MessageQueue
>>> from rmqcore.rebalance.strategies import allocate_averagely
>>> mqs = [MessageQueue("T", "b", q) for q in range(4)]
>>> before = assign_all(allocate_averagely, "g", mqs, ["c1", "c0"])
>>> {cid: [mq.queue_id for mq in qs] for cid, qs in before.items()}
{'c0': [0, 1], 'c1': [2, 3]}
>>> after = assign_all(allocate_averagely, "g", mqs, ["c0", "c1", "c2"])
>>> moved_queue_count(before, after)  # queue 3 went from c1 to c2
1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rmqcore.message import MessageQueue
from rmqcore.rebalance.sticky import sticky_assignment
from rmqcore.rebalance.strategies import AllocateStrategy


def assign_all(
    strategy: AllocateStrategy,
    consumer_group: str,
    mq_all: Iterable[MessageQueue],
    cid_all: Iterable[str],
) -> dict[str, list[MessageQueue]]:
    """Each consumer's queues under ``strategy``, inputs sorted as the consumer sorts them."""
    mqs = sorted(mq_all)
    cids = sorted(cid_all)
    return {cid: strategy(consumer_group, cid, mqs, cids) for cid in dict.fromkeys(cids)}


def assign_all_sticky(
    mq_all: Iterable[MessageQueue],
    cid_all: Iterable[str],
    previous_assignment: Mapping[str, Iterable[MessageQueue]] | None = None,
) -> dict[str, list[MessageQueue]]:
    """The sticky assignment of the whole group, inputs sorted (one pass, not one per consumer)."""
    return sticky_assignment(sorted(mq_all), sorted(cid_all), previous_assignment)


def owner_of(assignment: Mapping[str, Sequence[MessageQueue]]) -> dict[MessageQueue, list[str]]:
    """Queue → the consumers that own it (more than one means the strategy double-assigned it)."""
    owners: dict[MessageQueue, list[str]] = {}
    for cid, queues in assignment.items():
        for mq in queues:
            owners.setdefault(mq, []).append(cid)
    return owners


def moved_queue_count(
    before: Mapping[str, Sequence[MessageQueue]], after: Mapping[str, Sequence[MessageQueue]]
) -> int:
    """Queues owned after whose owner set differs from before (a new queue counts as moved)."""
    old = owner_of(before)
    return sum(1 for mq, cids in owner_of(after).items() if sorted(old.get(mq, ())) != sorted(cids))
