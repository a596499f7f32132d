"""Shared helpers for the filter tests."""

from __future__ import annotations

from typing import Any

import pytest

from rmqcore.filter import SelectorEvaluationError, sql92

RAISES = "raises"  # expected outcome: evaluation raises SelectorEvaluationError (RocketMQ throws)


def outcome(expression: str, properties: dict[str, Any]) -> object:
    """``True`` / ``False`` / ``None`` from ``evaluate``, or RAISES."""
    selector = sql92.compile(expression)
    try:
        result = selector.evaluate(properties)
    except SelectorEvaluationError:
        assert selector.matches(properties) is False, "matches() must turn an evaluation error into no match"
        return RAISES
    assert selector.matches(properties) is (result is True)
    return result


@pytest.fixture
def evaluate_outcome():
    return outcome
