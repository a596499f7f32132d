"""A sticky strategy (not in RocketMQ): keep every queue it can on its owner, sizes within one.

Given the previous assignment, ``sticky_assignment`` computes the whole new assignment:

1. A consumer's previous queues that still exist stay candidates for it (a queue claimed by two
   consumers stays with the one earlier in ``cid_all``).
2. Each consumer may own ``N // C`` queues; ``N % C`` of them may own one more.  Those extra
   places go to the consumers that kept the most (ties: earlier in ``cid_all``), which maximises
   the number of queues that stay put.
3. Each consumer keeps its candidates up to its quota, earliest in ``mq_all`` first; what is left
   over and the queues nobody owned fill the consumers under quota, in ``mq_all`` / ``cid_all`` order.

So sizes differ by at most one, every queue has exactly one owner, and the number of queues that
move is the least possible under that balance.  Like the RocketMQ strategies, ties follow the order
of the lists given (the consumer sorts them), so every consumer computes the same answer.

>>> from rmqcore.message import MessageQueue
>>> mqs = [MessageQueue("T", "b", q) for q in range(6)]
>>> before = {"c0": mqs[:3], "c1": mqs[3:]}
>>> after = sticky_assignment(mqs, ["c0", "c1", "c2"], before)
>>> {cid: [mq.queue_id for mq in queues] for cid, queues in after.items()}
{'c0': [0, 1], 'c1': [3, 4], 'c2': [2, 5]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rmqcore.message import MessageQueue
from rmqcore.rebalance.strategies import check_allocate_arguments

Assignment = Mapping[str, Iterable[MessageQueue]]


def sticky_assignment(
    mq_all: Sequence[MessageQueue], cid_all: Sequence[str], previous_assignment: Assignment | None = None
) -> dict[str, list[MessageQueue]]:
    """The new owner of every queue: balanced within one, moving as few queues as possible.

    Result lists follow the order of ``mq_all``; every consumer of ``cid_all`` is a key.
    """
    consumers = list(dict.fromkeys(cid_all))  # a duplicate id is one consumer
    result: dict[str, list[MessageQueue]] = {cid: [] for cid in consumers}
    if not consumers:
        return result
    live = set(consumers)
    position = {mq: i for i, mq in enumerate(mq_all)}

    # 1. Candidates: previous queues that still exist, first claimant in cid_all order wins.
    previous_owner: dict[MessageQueue, str] = {}
    for cid in consumers:
        for mq in (previous_assignment or {}).get(cid, ()):
            if mq in position and mq not in previous_owner:
                previous_owner[mq] = cid
    candidates: dict[str, list[MessageQueue]] = {cid: [] for cid in consumers}
    for mq in mq_all:
        owner = previous_owner.get(mq)
        if owner in live:
            candidates[owner].append(mq)  # already in mq_all order

    # 2. Quotas: the N % C larger places go to the consumers that kept the most.
    base, extra = divmod(len(position), len(consumers))
    order = {cid: i for i, cid in enumerate(consumers)}
    by_kept = sorted(consumers, key=lambda cid: (-len(candidates[cid]), order[cid]))
    quota = {cid: base + (1 if rank < extra else 0) for rank, cid in enumerate(by_kept)}

    # 3. Keep up to quota; pool the rest with the unowned queues; fill the gaps in order.
    assigned: set[MessageQueue] = set()
    for cid in consumers:
        kept = candidates[cid][: quota[cid]]
        result[cid] = kept
        assigned.update(kept)
    pool = iter([mq for mq in dict.fromkeys(mq_all) if mq not in assigned])
    for cid in consumers:
        missing = quota[cid] - len(result[cid])
        for _ in range(missing):
            result[cid].append(next(pool))
        result[cid].sort(key=position.__getitem__)
    return result


def allocate_sticky(
    consumer_group: str,
    current_cid: str,
    mq_all: Sequence[MessageQueue],
    cid_all: Sequence[str],
    *,
    previous_assignment: Assignment | None = None,
) -> list[MessageQueue]:
    """The current consumer's part of ``sticky_assignment``, with RocketMQ's argument checks.

    Without a previous assignment it is a balanced split (blocks, the first N % C one larger).

    >>> mqs = [MessageQueue("T", "b", q) for q in range(5)]
    >>> [mq.queue_id for mq in allocate_sticky("g", "c1", mqs, ["c0", "c1"])]
    [3, 4]
    """
    if not check_allocate_arguments(consumer_group, current_cid, mq_all, cid_all):
        return []
    return sticky_assignment(mq_all, cid_all, previous_assignment)[current_cid]
