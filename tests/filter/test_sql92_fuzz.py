"""Parser fuzzing: random text and random token sequences never crash the parser.

Only SelectorSyntaxError may escape compile() — no lark exception, no
RecursionError, no hang — and whatever compiles evaluates without surprises.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmqcore.filter import SelectorEvaluationError, SelectorSyntaxError, sql92

SELECTOR_CHARS = "abcxyzAND OR NOT IN IS ()'=<>-+.,0123456789eElL/*\n\t\"!#$_é😀"
TOKENS = [
    "a", "b", "TAGS", "NOT", "AND", "OR", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE", "CONTAINS",
    "STARTSWITH", "ENDSWITH", "(", ")", ",", "=", "<>", "<", "<=", ">", ">=", "+", "-", "'x'", "''", "'it''s'",
    "0", "1", "010", "1.5", ".5", "1e3", "0.0", "9223372036854775808", "1e400", "--", "--c\n", "/*c*/", "/*", "'",
    '"', "!=", "notx", "$v", "_", ";",
]
# A hang or an exponential blow-up in the parser ends the test through pytest-timeout,
# rather than an assertion on elapsed time (the machine is shared and noisy).
pytestmark = pytest.mark.timeout(180)
PROPS = [{}, {"a": "1", "b": "x", "TAGS": "TagA"}, {"a": 1, "b": True, "x": 2.5}, {"a": "NaN", "b": "true"}]


def _check(text: str) -> None:
    try:
        selector = sql92.compile(text)
    except SelectorSyntaxError as error:
        assert isinstance(error, ValueError)
        assert str(error)
        if error.position is not None:
            assert 0 <= error.position <= len(text)
        return
    for props in PROPS:
        try:
            result = selector.evaluate(props)
        except SelectorEvaluationError:
            assert selector.matches(props) is False
        else:
            assert result is None or type(result) is bool
    assert sql92.compile(str(selector), max_length=1_000_000) == selector  # normalising may lengthen


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=SELECTOR_CHARS, max_size=60))
def test_random_text_only_raises_selector_syntax_error(text: str) -> None:
    _check(text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.sampled_from([" ", "", "\n"]))
def test_random_token_sequences_only_raise_selector_syntax_error(tokens: list[str], separator: str) -> None:
    _check(separator.join(tokens))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode_only_raises_selector_syntax_error(text: str) -> None:
    _check(text)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 4000,
        "NOT " * 1000 + "a",
        "- " * 2000 + "1 = a",
        "a = b" + " = c" * 1000,
        "a" + " IS NULL" * 500,
        "'" * 4096,
        "/*" * 2000,
        "a IN (" + "'x'," * 1000 + "'y')",
    ],
    ids=["4000 open parens", "1000 NOTs", "2000 minus signs", "1000-long = chain", "500 IS NULL", "quotes", "comment openers", "1000-value IN"],
)
def test_pathological_inputs_fail_cleanly_and_quickly(text: str) -> None:
    _check(text)
