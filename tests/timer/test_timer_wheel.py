"""TimerWheel against a FakeClock: rounding, max delay, cancel, same-slot crowds, clock jumps, order.

The reference model used by the property test is the plain rule of section 7 as implemented:
a timer scheduled at clock time ``t0`` for ``deliver_ms`` is due at once if ``deliver_ms ≤ t0``,
else when the wheel reaches ``round_deliver_ms(deliver_ms) + precision``.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.clock import FakeClock
from rmqcore.timer import (
    DEFAULT_MAX_DELAY_SEC,
    DEFAULT_PRECISION_MS,
    TimerDelayTooLongError,
    TimerError,
    TimerWheel,
    round_deliver_ms,
)

HOUR = 3_600_000
DAY = 24 * HOUR
START = 1_700_000_000_000  # FakeClock's default start, a multiple of 1000


def test_defaults_follow_section_11() -> None:
    assert DEFAULT_PRECISION_MS == 1_000
    assert DEFAULT_MAX_DELAY_SEC == 259_200
    wheel = TimerWheel(FakeClock())
    assert wheel.precision_ms == 1_000
    assert wheel.max_delay_ms == 259_200_000


@pytest.mark.parametrize(
    ("deliver_ms", "precision_ms", "rounded"),
    [
        (12_000, 1_000, 11_000),  # exact multiple: minus one precision
        (12_001, 1_000, 12_000),  # otherwise floor
        (12_999, 1_000, 12_000),
        (1_000, 1_000, 0),
        (1, 1_000, 0),
        (250, 100, 200),
        (251, 100, 200),
        (7, 1, 6),  # precision 1: every value is an exact multiple
    ],
)
def test_round_deliver_ms_section_7(deliver_ms: int, precision_ms: int, rounded: int) -> None:
    assert round_deliver_ms(deliver_ms, precision_ms) == rounded


@given(st.integers(0, 10**13), st.integers(1, 10**5))
def test_rounded_slot_covers_deliver_time(deliver_ms: int, precision_ms: int) -> None:
    rounded = round_deliver_ms(deliver_ms, precision_ms)
    assert rounded % precision_ms == 0
    assert rounded < deliver_ms <= rounded + precision_ms


def test_round_deliver_ms_refuses_bad_precision() -> None:
    with pytest.raises(TimerError, match="precision_ms must be positive"):
        round_deliver_ms(1_000, 0)


def test_fires_at_the_end_of_its_rounded_slot_never_early() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    wheel.schedule(START + 2_500, "a")  # slot START+2000, due START+3000
    wheel.schedule(START + 3_000, "b")  # exact multiple: slot START+2000, due START+3000
    wheel.schedule(START + 3_001, "c")  # slot START+3000, due START+4000
    assert wheel.advance_to(START + 2_999) == []
    assert wheel.advance_to(START + 3_000) == [(START + 2_500, "a"), (START + 3_000, "b")]
    assert wheel.advance_to(START + 3_999) == []
    assert wheel.advance_to(START + 4_000) == [(START + 3_001, "c")]
    assert len(wheel) == 0


def test_precision_is_configurable() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock, precision_ms=10)
    wheel.schedule(START + 15, "x")  # slot START+10, due START+20
    assert wheel.advance_to(START + 19) == []
    assert wheel.advance_to(START + 20) == [(START + 15, "x")]


def test_deliver_time_not_after_now_is_due_immediately() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    wheel.schedule(START, "now")
    wheel.schedule(START - 5 * HOUR, "past")
    assert len(wheel) == 2
    assert wheel.next_deadline_ms() == START - 5 * HOUR
    # No clock movement needed: section 7 delivers these at once.
    assert wheel.advance_to(START) == [(START - 5 * HOUR, "past"), (START, "now")]
    assert wheel.next_deadline_ms() is None


def test_max_delay_boundary() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    limit = START + 259_200 * 1_000
    token = wheel.schedule(limit, "at-limit")  # exactly 3 days ahead is allowed (> is refused)
    with pytest.raises(TimerDelayTooLongError, match="the longest delay is 259200 s"):
        wheel.schedule(limit + 1, "too-far")
    assert len(wheel) == 1 and token in wheel
    clock.advance(259_200 * 1_000)
    assert wheel.advance_to() == [(limit, "at-limit")]


def test_max_delay_is_configurable_and_typed() -> None:
    wheel = TimerWheel(FakeClock(START), max_delay_sec=60)
    wheel.schedule(START + 60_000, 1)
    with pytest.raises(TimerDelayTooLongError) as caught:
        wheel.schedule(START + 60_001, 2)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("precision_ms", "max_delay_sec"), [(0, 10), (-1, 10), (1_000, 0)])
def test_refuses_bad_configuration(precision_ms: int, max_delay_sec: int) -> None:
    with pytest.raises(TimerError):
        TimerWheel(FakeClock(), precision_ms=precision_ms, max_delay_sec=max_delay_sec)


def test_cancel() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    keep = wheel.schedule(START + 5_000, "keep")
    drop = wheel.schedule(START + 5_000, "drop")
    far = wheel.schedule(START + 2 * DAY, "far")
    now = wheel.schedule(START - 1, "already due")
    assert wheel.cancel(drop) is True
    assert wheel.cancel(drop) is False  # twice
    assert wheel.cancel(far) is True
    assert wheel.cancel(now) is True
    assert len(wheel) == 1 and drop not in wheel and keep in wheel
    clock.advance(3 * DAY)
    assert wheel.advance_to() == [(START + 5_000, "keep")]
    assert wheel.cancel(keep) is False  # already fired
    assert wheel.next_deadline_ms() is None


def test_many_timers_in_one_slot_come_out_in_deliver_then_schedule_order() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    rng = random.Random(7)
    offsets = [rng.randrange(1, 1_001) for _ in range(5_000)]  # all in the slot (START, START+1000]
    for handle, offset in enumerate(offsets):
        wheel.schedule(START + offset, handle)
    fired = wheel.advance_to(START + 1_000)
    assert len(fired) == 5_000 and len(wheel) == 0
    expected = sorted(((START + offset, handle) for handle, offset in enumerate(offsets)))
    assert fired == expected  # handles are schedule order, so ties keep it


def test_hours_of_schedule_tick_by_tick() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    rng = random.Random(11)
    deliver = {handle: START + rng.randrange(1, 6 * HOUR) for handle in range(3_000)}
    for handle, deliver_ms in deliver.items():
        wheel.schedule(deliver_ms, handle)
    seen: list[tuple[int, int]] = []
    for _ in range(6 * 3_600 + 1):  # six hours, one second at a time
        clock.advance(1_000)
        for deliver_ms, handle in wheel.advance_to():
            # never early, at most one precision late
            assert deliver_ms <= clock.now_ms() < deliver_ms + 1_000
            seen.append((deliver_ms, handle))
    assert sorted(seen) == seen
    assert sorted(seen) == sorted((d, h) for h, d in deliver.items())


def test_clock_jump_of_days_in_one_call_keeps_order() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    rng = random.Random(3)
    entries = [(START + rng.randrange(1, 3 * DAY), handle) for handle in range(20_000)]
    for deliver_ms, handle in entries:
        wheel.schedule(deliver_ms, handle)
    clock.advance(3 * DAY)
    fired = wheel.advance_to()
    assert fired == sorted(entries)
    assert len(wheel) == 0 and wheel.fired_through_ms == START + 3 * DAY


def test_jump_fires_only_what_is_due_and_keeps_the_rest() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    wheel.schedule(START + 2 * HOUR, "2h")
    wheel.schedule(START + 50 * HOUR, "50h")
    wheel.schedule(START + 71 * HOUR, "71h")
    assert wheel.advance_to(START + 49 * HOUR) == [(START + 2 * HOUR, "2h")]
    assert wheel.advance_to(START + 50 * HOUR) == [(START + 50 * HOUR, "50h")]
    assert len(wheel) == 1
    assert wheel.advance_to(START + 72 * HOUR) == [(START + 71 * HOUR, "71h")]


def test_schedule_after_a_jump_relative_to_the_new_time() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    wheel.schedule(START + 10 * HOUR, "early")
    clock.advance(5 * HOUR)
    assert wheel.advance_to() == []
    wheel.schedule(clock.now_ms() + 2_000, "soon")
    clock.advance(2_000)
    assert wheel.advance_to() == [(START + 5 * HOUR + 2_000, "soon")]


def test_wheel_left_unadvanced_for_days_still_fires_correctly() -> None:
    # The clock moves, the wheel is not advanced: new timers are far from the wheel's position.
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    clock.advance(10 * DAY)
    wheel.schedule(clock.now_ms() + 3 * DAY, "edge")
    wheel.schedule(clock.now_ms() + 1_500, "soon")
    assert wheel.advance_to(clock.now_ms() + 1_999) == []
    assert wheel.advance_to(clock.now_ms() + 2_000) == [(clock.now_ms() + 1_500, "soon")]
    assert wheel.advance_to(clock.now_ms() + 3 * DAY) == [(clock.now_ms() + 3 * DAY, "edge")]


def test_going_backwards_fires_nothing_new() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    wheel.schedule(START + 1_500, "x")
    assert wheel.advance_to(START - HOUR) == []
    assert wheel.advance_to(START + 2_000) == [(START + 1_500, "x")]


def test_next_deadline() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    assert wheel.next_deadline_ms() is None
    near = wheel.schedule(START + 2_500, "near")  # lowest level: exact slot end
    assert wheel.next_deadline_ms() == START + 3_000
    wheel.cancel(near)
    far = START + 5 * HOUR + 300
    wheel.schedule(far, "far")
    deadline = wheel.next_deadline_ms()
    assert deadline is not None and deadline <= far + 1_000  # never later than the timer
    # Following the deadlines reaches the timer without firing early.
    fired = []
    while not fired:
        deadline = wheel.next_deadline_ms()
        assert deadline is not None
        fired = wheel.advance_to(deadline)
        if not fired:
            assert deadline < far
    assert fired == [(far, "far")] and deadline == round_deliver_ms(far, 1_000) + 1_000


def test_snapshot_and_restore_rebuild_a_wheel() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    for handle, delay in [(101, 5_000), (102, HOUR), (103, 2 * DAY), (104, 5_000)]:
        wheel.schedule(START + delay, handle)
    wheel.cancel(wheel.schedule(START + 7_000, 999))
    snapshot = wheel.snapshot()
    assert snapshot == [(START + 5_000, 101), (START + 5_000, 104), (START + HOUR, 102), (START + 2 * DAY, 103)]

    # "Restart" an hour and a half later: what is overdue comes out at once, the rest later.
    clock.advance(HOUR + HOUR // 2)
    rebuilt = TimerWheel(clock)
    tokens = rebuilt.restore(snapshot)
    assert len(tokens) == 4 and len(rebuilt) == 4
    assert rebuilt.advance_to() == snapshot[:3]
    clock.advance(2 * DAY)
    assert rebuilt.advance_to() == snapshot[3:]


def test_restore_skips_the_max_delay_check() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock, max_delay_sec=10)
    wheel.restore([(START + 60_000, "accepted earlier")])
    assert wheel.advance_to(START + 60_000) == [(START + 60_000, "accepted earlier")]


def test_handles_are_any_hashable_and_may_repeat() -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    wheel.schedule(START + 1_000, ("topic", 3))
    wheel.schedule(START + 1_000, ("topic", 3))
    assert wheel.advance_to(START + 1_000) == [(START + 1_000, ("topic", 3))] * 2


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("schedule"), st.integers(-5_000, 4 * DAY)),
            st.tuples(st.just("cancel"), st.integers(0, 10_000)),
            st.tuples(st.just("advance"), st.sampled_from([0, 1, 999, 1_000, 1_001, 61_000, HOUR, DAY, 3 * DAY])),
        ),
        max_size=120,
    ),
    st.sampled_from([1, 7, 1_000]),
)
def test_matches_the_plain_rule(operations: list[tuple[str, int]], precision_ms: int) -> None:
    clock = FakeClock(START)
    wheel = TimerWheel(clock, precision_ms=precision_ms)
    pending: dict[int, tuple[int, int, int]] = {}  # token -> (due at, deliver_ms, handle)
    tokens: list[int] = []
    for handle, (operation, value) in enumerate(operations):
        now = clock.now_ms()
        if operation == "schedule":
            deliver_ms = now + value
            if value > wheel.max_delay_ms:
                with pytest.raises(TimerDelayTooLongError):
                    wheel.schedule(deliver_ms, handle)
                continue
            token = wheel.schedule(deliver_ms, handle)
            due_at = now if deliver_ms <= now else round_deliver_ms(deliver_ms, precision_ms) + precision_ms
            pending[token] = (due_at, deliver_ms, handle)
            tokens.append(token)
        elif operation == "cancel" and tokens:
            token = tokens[value % len(tokens)]
            assert wheel.cancel(token) is (pending.pop(token, None) is not None)
        elif operation == "advance":
            clock.advance(value)
            now = clock.now_ms()
            expected = sorted((d, h) for due, d, h in pending.values() if due <= now)
            pending = {t: v for t, v in pending.items() if v[0] > now}
            assert wheel.advance_to() == expected
        assert len(wheel) == len(pending)
    assert sorted(wheel.snapshot()) == sorted((d, h) for _, d, h in pending.values())


def test_jump_past_a_far_bucket_skips_its_cancelled_timers() -> None:
    # Two days ahead is beyond the lowest level (4096 s): these share a higher-level bucket,
    # which a single jump fires whole.
    clock = FakeClock(START)
    wheel = TimerWheel(clock)
    base = START + 2 * DAY
    tokens = [wheel.schedule(base + offset, offset) for offset in (9_000, 1_000, 5_000)]
    assert wheel.cancel(tokens[2]) is True
    # Part-way into the bucket: only what is due comes out, the rest cascades down.
    assert wheel.advance_to(base + 1_000) == [(base + 1_000, 1_000)]
    assert wheel.cancel(tokens[1]) is False
    assert wheel.advance_to(base + HOUR) == [(base + 9_000, 9_000)]
    assert len(wheel) == 0
