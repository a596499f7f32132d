"""TimerWheel against a plain ``heapq`` scheduler: schedule N timers, then fire them all.

Workload (same for both, same run): N handles with deliver times spread uniformly over the next
hour, scheduled one by one, then the clock advanced one second at a time for an hour, collecting
what is due at each step (3 601 ``advance_to`` calls).  Measured at N = 100 k and 1 M.

* ``messages`` in extra_info is N, so the summary turns each median into timers/s;
* targets: the wheel should be at least as fast as heapq at the same N, and its per-timer cost
  should stay flat (1 M timers/s ≥ 0.75 × 100 k timers/s).  Reported, never asserted on time.
* ``dict_floor`` inserts N keys in a dict and pops them in deliver order: the floor any pure
  Python keyed structure pays, to tell the cache cost of 10x more live objects apart from the
  algorithm's.

Each benchmark is bounded by a fixed small number of rounds (``pedantic``).

    .venv/bin/pytest benchmarks/test_timer_bench.py --benchmark-only
"""

from __future__ import annotations

import heapq
import random

import pytest

from rmqcore.clock import FakeClock
from rmqcore.timer import TimerWheel

START_MS = 1_700_000_000_000
SPAN_MS = 3_600_000
STEP_MS = 1_000
SIZES = {"100k": 100_000, "1M": 1_000_000}
ROUNDS = {"100k": 5, "1M": 2}

_workloads: dict[int, list[int]] = {}


def deliver_times(n: int) -> list[int]:
    if n not in _workloads:
        rng = random.Random(20261123)
        _workloads[n] = [START_MS + rng.randrange(1, SPAN_MS) for _ in range(n)]
    return _workloads[n]


def run_wheel(deliver: list[int], span_ms: int = SPAN_MS, step_ms: int = STEP_MS) -> int:
    clock = FakeClock(START_MS)
    wheel = TimerWheel(clock)
    schedule = wheel.schedule
    for handle, deliver_ms in enumerate(deliver):
        schedule(deliver_ms, handle)
    fired = 0
    for now in range(START_MS + step_ms, START_MS + span_ms + step_ms + 1, step_ms):
        fired += len(wheel.advance_to(now))
    return fired


def run_heapq(deliver: list[int], span_ms: int = SPAN_MS, step_ms: int = STEP_MS) -> int:
    heap: list[tuple[int, int, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    for handle, deliver_ms in enumerate(deliver):
        push(heap, (deliver_ms, handle, handle))  # (deliver, sequence, handle): the usual recipe
    fired = 0
    for now in range(START_MS + step_ms, START_MS + span_ms + step_ms + 1, step_ms):
        due = []
        while heap and heap[0][0] <= now:
            deliver_ms, _, handle = pop(heap)
            due.append((deliver_ms, handle))
        fired += len(due)
    return fired


def run_dict_floor(deliver: list[int]) -> int:
    keys = [(deliver_ms << 32) | handle for handle, deliver_ms in enumerate(deliver)]
    live = dict.fromkeys(keys)
    keys.sort()
    for key in keys:
        live.pop(key)
    return len(keys)


def _bench(benchmark, label: str, function, deliver: list[int], targets: list[list]) -> None:  # type: ignore[no-untyped-def]
    benchmark.extra_info["messages"] = len(deliver)
    benchmark.extra_info["targets"] = targets
    fired = benchmark.pedantic(function, args=(deliver,), rounds=ROUNDS[label], iterations=1, warmup_rounds=0)
    assert fired == len(deliver)


@pytest.mark.parametrize("label", list(SIZES))
def test_wheel_schedule_and_fire(benchmark, label: str) -> None:  # type: ignore[no-untyped-def]
    targets = [[f"test_heapq_schedule_and_fire[{label}]", 1.0, "msgs/s"]]
    if label == "1M":
        targets.append(["test_wheel_schedule_and_fire[100k]", 0.75, "msgs/s"])
    _bench(benchmark, label, run_wheel, deliver_times(SIZES[label]), targets)


@pytest.mark.parametrize("label", list(SIZES))
def test_heapq_schedule_and_fire(benchmark, label: str) -> None:  # type: ignore[no-untyped-def]
    targets = [["test_heapq_schedule_and_fire[100k]", 0.75, "msgs/s"]] if label == "1M" else []
    _bench(benchmark, label, run_heapq, deliver_times(SIZES[label]), targets)


@pytest.mark.parametrize("label", list(SIZES))
def test_dict_floor(benchmark, label: str) -> None:  # type: ignore[no-untyped-def]
    targets = [["test_dict_floor[100k]", 0.75, "msgs/s"]] if label == "1M" else []
    _bench(benchmark, label, run_dict_floor, deliver_times(SIZES[label]), targets)


THREE_DAYS_MS = 259_200_000


def three_day_deliver_times() -> list[int]:
    rng = random.Random(7)
    return [START_MS + rng.randrange(1, THREE_DAYS_MS) for _ in range(100_000)]


def test_wheel_three_day_jump_100k(benchmark) -> None:  # type: ignore[no-untyped-def]
    """100 k timers over three days, fired by one ``advance_to`` three days on (cascades, no tick walk)."""
    benchmark.extra_info["messages"] = 100_000
    benchmark.extra_info["targets"] = [["test_heapq_three_day_jump_100k", 1.0, "msgs/s"]]
    fired = benchmark.pedantic(run_wheel, args=(three_day_deliver_times(), THREE_DAYS_MS, THREE_DAYS_MS), rounds=5, iterations=1)
    assert fired == 100_000


def test_heapq_three_day_jump_100k(benchmark) -> None:  # type: ignore[no-untyped-def]
    benchmark.extra_info["messages"] = 100_000
    fired = benchmark.pedantic(run_heapq, args=(three_day_deliver_times(), THREE_DAYS_MS, THREE_DAYS_MS), rounds=5, iterations=1)
    assert fired == 100_000
