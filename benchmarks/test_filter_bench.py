"""SQL92 selector speed against hand-written Python lambdas on the same property dicts.

Run: .venv/bin/pytest benchmarks/test_filter_bench.py --benchmark-only

Each shape has a compiled-selector benchmark and a lambda benchmark in the same
group; one round evaluates every dict of MESSAGES once, so evaluations per second
= len(MESSAGES) / round time (recorded as ``evals_per_s`` in extra_info). The
property values are strings, as the broker sees them. The target is a compiled
selector within 2x of the lambda, and at least 1 M evaluations/s for the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from rmqcore.filter import sql92
from rmqcore.filter.sql92.parser import parse
from rmqcore.filter.sql92.selector import Selector

_rng = random.Random(20240601)
TAGS = ["TagA", "TagB", "TagC"]


def _message(i: int) -> dict[str, str]:
    props = {
        "TAGS": TAGS[i % 3],
        "baiLi": str(i % 15),
        "KEYS": f"order-{i}",
        "UNIQ_KEY": f"7F000001{i:024X}",
        "price": str(_rng.randint(1, 200)),
        "qty": str(_rng.randint(0, 20)),
        "region": _rng.choice(["eu", "us", "ap", "sa", "af", "me", "cn", "jp"]),
        "name": _rng.choice(["order-1", "order-test-2", "refund-3", "order-44"]),
        "level": _rng.choice(["debug", "info", "warn"]),
    }
    if i % 4:
        props["flag"] = "1"
    return props


MESSAGES = [_message(i) for i in range(150)]


def _int_or_none(v: str | None) -> int | None:
    return None if v is None else int(v)


# (id, selector, equivalent hand-written lambda over string properties)
SHAPES: list[tuple[str, str, Callable[[dict[str, Any]], bool]]] = [
    (
        "seed",
        "(TAGS is not null and TAGS in ('TagA','TagC')) and (baiLi is not null and baiLi between 0 and 3)",
        lambda p: p.get("TAGS") is not None
        and p.get("TAGS") in ("TagA", "TagC")
        and p.get("baiLi") is not None
        and 0 <= int(p["baiLi"]) <= 3,
    ),
    ("string_equal", "region = 'eu'", lambda p: p.get("region") == "eu"),
    (
        "numeric_or",
        "price > 100 OR qty < 5",
        lambda p: (p.get("price") is not None and int(p["price"]) > 100) or (p.get("qty") is not None and int(p["qty"]) < 5),
    ),
    (
        "in_six_values",
        "region IN ('eu', 'us', 'ap', 'sa', 'af', 'me')",
        lambda p: p.get("region") in {"eu", "us", "ap", "sa", "af", "me"},
    ),
    (
        "string_tests",
        "name STARTSWITH 'order-' AND name NOT CONTAINS 'test'",
        lambda p: isinstance(p.get("name"), str) and p["name"].startswith("order-") and "test" not in p["name"],
    ),
    (
        "null_and_not_equal",
        "flag IS NOT NULL AND NOT (level = 'debug') AND TAGS <> 'TagB'",
        lambda p: p.get("flag") is not None and p.get("level") != "debug" and p.get("TAGS") != "TagB",
    ),
]


def _run_all(predicate: Callable[[dict[str, Any]], Any]) -> int:
    hits = 0
    for props in MESSAGES:
        if predicate(props) is True:
            hits += 1
    return hits


@pytest.mark.parametrize(("shape", "expression", "hand_written"), SHAPES, ids=[s[0] for s in SHAPES])
def test_selector_matches(benchmark, shape: str, expression: str, hand_written) -> None:
    selector = sql92.compile(expression)
    assert _run_all(selector.matches) == _run_all(hand_written), "selector and lambda must agree"
    benchmark.group = f"filter:{shape}"
    benchmark.extra_info["evaluations_per_round"] = len(MESSAGES)
    benchmark(_run_all, selector.matches)
    benchmark.extra_info["evals_per_s"] = round(len(MESSAGES) / benchmark.stats.stats.median)


@pytest.mark.parametrize(("shape", "expression", "hand_written"), SHAPES, ids=[s[0] for s in SHAPES])
def test_hand_written_lambda(benchmark, shape: str, expression: str, hand_written) -> None:
    benchmark.group = f"filter:{shape}"
    benchmark.extra_info["evaluations_per_round"] = len(MESSAGES)
    benchmark(_run_all, hand_written)
    benchmark.extra_info["evals_per_s"] = round(len(MESSAGES) / benchmark.stats.stats.median)


def _one_kilobyte_selector() -> str:
    parts, i = [], 0
    while len(" AND ".join(parts)) < 1000:
        parts.append(
            [f"p{i} = 'v{i}'", f"q{i} BETWEEN {i} AND {i + 10}", f"r{i} IN ('a', 'b', 'c')", f"(s{i} IS NULL OR s{i} > 2.5)"][i % 4]
        )
        i += 1
    text = " AND ".join(parts)
    return text[: text.rfind(" AND ", 0, 1024)] if len(text) > 1024 else text


def test_parse_and_compile_one_kilobyte(benchmark) -> None:
    text = _one_kilobyte_selector()
    assert 900 <= len(text) <= 1024
    benchmark.group = "filter:parse+compile"
    benchmark.extra_info["characters"] = len(text)
    selector = benchmark(lambda: Selector(text, parse(text)))  # bypasses the compile() cache
    assert selector.properties
