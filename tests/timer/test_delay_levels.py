"""DelayLevelTable: section 7's default levels, clamping, parse errors, deliver-time helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmqcore.timer import DEFAULT_MESSAGE_DELAY_LEVEL, DelayLevelError, DelayLevelTable

S, M, H = 1_000, 60_000, 3_600_000


def test_default_string_is_section_7() -> None:
    assert DEFAULT_MESSAGE_DELAY_LEVEL == "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
    assert DelayLevelTable.parse() == DelayLevelTable.parse(DEFAULT_MESSAGE_DELAY_LEVEL)


def test_default_levels_section_7() -> None:
    table = DelayLevelTable.parse()
    expected = [1 * S, 5 * S, 10 * S, 30 * S] + [m * M for m in range(1, 11)] + [20 * M, 30 * M, 1 * H, 2 * H]
    assert table.max_level == len(table) == 18
    assert [table.delay_ms(level) for level in range(1, 19)] == expected


def test_clamping_like_rocketmq() -> None:
    table = DelayLevelTable.parse()
    assert table.delay_ms(19) == table.delay_ms(1_000) == 2 * H  # above max: max
    assert table.delay_ms(0) == table.delay_ms(-3) == 0  # ≤ 0: no delay
    assert table.clamp_level(25) == 18 and table.clamp_level(4) == 4


def test_days_unit_and_custom_table() -> None:
    table = DelayLevelTable.parse("2d 90s 0s")
    assert table.delays_ms == (2 * 86_400_000, 90 * S, 0)
    assert table.spec == "2d 90s 0s"


def test_surrounding_and_repeated_blanks_are_tolerated() -> None:
    assert DelayLevelTable.parse("  1s   5s ").delays_ms == (1 * S, 5 * S)


@pytest.mark.parametrize(
    ("spec", "bad_token", "level"),
    [
        ("1s 5x", "'5x'", 2),
        ("1S", "'1S'", 1),  # units are lower case, as in RocketMQ's table
        ("1s m 2h", "'m'", 2),
        ("1s -5s", "'-5s'", 2),
        ("1.5s", "'1.5s'", 1),
        ("10", "'10'", 1),
    ],
)
def test_bad_tokens_are_named(spec: str, bad_token: str, level: int) -> None:
    with pytest.raises(DelayLevelError, match=f"bad delay level token {bad_token} \\(level {level}\\)"):
        DelayLevelTable.parse(spec)


def test_empty_spec_is_refused() -> None:
    with pytest.raises(DelayLevelError, match="no delay levels"):
        DelayLevelTable.parse("   ")


def test_deliver_timestamp_and_correction() -> None:
    table = DelayLevelTable.parse()
    assert table.deliver_timestamp_ms(3, 1_000_000) == 1_010_000
    assert table.deliver_timestamp_ms(40, 0) == 2 * H  # clamped
    assert table.deliver_timestamp_ms(0, 500) == 1_500  # not in the Java table: +1 s
    # correctDeliverTimestamp: beyond now + delay ⇒ now; otherwise unchanged.
    assert table.correct_deliver_timestamp_ms(2, 100_000, 105_000) == 105_000
    assert table.correct_deliver_timestamp_ms(2, 100_000, 105_001) == 100_000


def test_schedule_topic_queue_ids() -> None:
    assert DelayLevelTable.queue_id_for_level(1) == 0
    assert DelayLevelTable.queue_id_for_level(18) == 17
    assert DelayLevelTable.level_for_queue_id(17) == 18


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from("smhd")), min_size=1, max_size=30))
def test_parse_round_trip(tokens: list[tuple[int, str]]) -> None:
    unit = {"s": S, "m": M, "h": H, "d": 24 * H}
    table = DelayLevelTable.parse(" ".join(f"{n}{u}" for n, u in tokens))
    assert table.delays_ms == tuple(n * unit[u] for n, u in tokens)
    assert table.delay_ms(len(tokens) + 5) == table.delays_ms[-1]
