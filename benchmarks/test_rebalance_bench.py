"""Queues moved when one consumer joins or leaves: AVG vs STICKY (and CONSISTENT_HASH for context).

For C in 8..64 consumers and N in 16..1024 queues, the group starts from the AVG assignment
(what a RocketMQ group has today).  Then:

* join: a new consumer whose id sorts in the middle of the group (C → C + 1);
* leave: the consumer in the middle of the sort order goes away (C → C − 1).

"moved" counts queues whose owner changed (``moved_queue_count``); "min" is the least any
balanced assignment can move (join: the newcomer's N // (C+1); leave: the leaver's queues).
CONSISTENT_HASH starts from its own assignment (it is not balanced, so its column is context).

Run as a script to print the table, or under pytest-benchmark: the table goes to stdout
(``-s``) and to ``extra_info["moved_queues"]``, and the full-group computation is timed.

    .venv/bin/python benchmarks/test_rebalance_bench.py
    .venv/bin/pytest benchmarks/test_rebalance_bench.py --benchmark-only -s
"""

from __future__ import annotations

import pytest

from rmqcore.message import MessageQueue
from rmqcore.rebalance import (
    allocate_averagely,
    allocate_consistent_hash,
    assign_all,
    assign_all_sticky,
    moved_queue_count,
)

CONSUMERS = (8, 16, 32, 64)
QUEUES = (16, 64, 256, 1024)


def message_queues(n: int) -> list[MessageQueue]:
    # Spread over 4 brokers as a real topic would be.
    return sorted(MessageQueue("TopicTest", f"broker-{b}", q) for b in "abcd" for q in range(n // 4))


def consumer_ids(c: int) -> list[str]:
    # Even numbers, so an odd one can join anywhere in the sort order.
    return [f"10.0.0.1@{2 * i:04d}" for i in range(c)]


def moved_row(c: int, n: int) -> dict[str, int]:
    mqs, cids = message_queues(n), consumer_ids(c)
    joiner = f"10.0.0.1@{2 * (c // 2) - 1:04d}"  # sorts between the two middle consumers
    leaver = cids[c // 2]
    joined, left = sorted([*cids, joiner]), [cid for cid in cids if cid != leaver]

    avg_before = assign_all(allocate_averagely, "g", mqs, cids)
    hash_before = assign_all(allocate_consistent_hash, "g", mqs, cids)
    row = {
        "C": c,
        "N": n,
        "join_avg": moved_queue_count(avg_before, assign_all(allocate_averagely, "g", mqs, joined)),
        "join_sticky": moved_queue_count(avg_before, assign_all_sticky(mqs, joined, avg_before)),
        "join_min": n // (c + 1),
        "join_hash": moved_queue_count(hash_before, assign_all(allocate_consistent_hash, "g", mqs, joined)),
        "leave_avg": moved_queue_count(avg_before, assign_all(allocate_averagely, "g", mqs, left)),
        "leave_sticky": moved_queue_count(avg_before, assign_all_sticky(mqs, left, avg_before)),
        "leave_min": len(avg_before[leaver]),
        "leave_hash": moved_queue_count(hash_before, assign_all(allocate_consistent_hash, "g", mqs, left)),
    }
    return row


COLUMNS = ["C", "N", "join_avg", "join_sticky", "join_min", "join_hash", "leave_avg", "leave_sticky", "leave_min", "leave_hash"]


def moved_table() -> list[dict[str, int]]:
    return [moved_row(c, n) for c in CONSUMERS for n in QUEUES]


def render(rows: list[dict[str, int]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[col]) for col in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def test_moved_queues_table(benchmark) -> None:  # type: ignore[no-untyped-def]
    rows = benchmark.pedantic(moved_table, rounds=1, iterations=1)
    for row in rows:
        # Sticky is optimal among balanced assignments: it meets the lower bound from a balanced start.
        assert row["join_sticky"] == row["join_min"] and row["leave_sticky"] == row["leave_min"]
        assert row["join_sticky"] <= row["join_avg"] and row["leave_sticky"] <= row["leave_avg"]
    benchmark.extra_info["moved_queues"] = rows
    print("\n" + render(rows))


@pytest.mark.parametrize("strategy", ["AVG", "CONSISTENT_HASH", "STICKY"])
def test_full_assignment_64_consumers_1024_queues(benchmark, strategy: str) -> None:  # type: ignore[no-untyped-def]
    mqs, cids = message_queues(1024), consumer_ids(64)
    previous = assign_all(allocate_averagely, "g", mqs, cids[:-1])
    if strategy == "STICKY":
        result = benchmark(assign_all_sticky, mqs, cids, previous)
    else:
        function = allocate_averagely if strategy == "AVG" else allocate_consistent_hash
        result = benchmark.pedantic(assign_all, args=(function, "g", mqs, cids), rounds=5, iterations=1)
    assert sum(len(qs) for qs in result.values()) == 1024


if __name__ == "__main__":
    print(render(moved_table()))
