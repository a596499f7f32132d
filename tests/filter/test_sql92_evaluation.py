"""Evaluation semantics of the SQL92 selector, rule by rule (reference section 6, "Evaluation").

Each case: selector, properties, expected three-valued result (True / False /
None for Java null) or RAISES where RocketMQ throws at evaluation time (the
broker then treats the message as not matching).
"""

from __future__ import annotations

import pytest

from rmqcore.filter import SelectorEvaluationError, UnsupportedPropertyTypeError, sql92

from .conftest import RAISES, outcome

CASES = [
    # --- missing property ⇒ null -------------------------------------------------------------
    ("null: = with null left is null", "a = 'x'", {}, None),
    ("null: = with null right only is FALSE", "'x' = a", {}, False),
    ("null: <> with null left is null", "a <> 'x'", {}, None),
    ("null: <> with null right only is TRUE", "'x' <> a", {}, True),
    ("null: = with both null is TRUE (lv == rv)", "a = b", {}, True),
    ("null: <> with both null is FALSE", "a <> b", {}, False),
    ("null: > is null", "a > 1", {}, None),
    ("null: < with null right is null", "1 < a", {}, None),
    ("null: >= with present left, null right", "a >= b", {"a": "1"}, None),
    ("null: BETWEEN is null", "a BETWEEN 1 AND 3", {}, None),
    ("null: NOT BETWEEN is null", "a NOT BETWEEN 1 AND 3", {}, None),
    ("null: IN is null", "a IN ('x')", {}, None),
    ("null: NOT IN is null", "a NOT IN ('x')", {}, None),
    ("null: CONTAINS is FALSE", "a CONTAINS 'x'", {}, False),
    ("null: NOT CONTAINS is FALSE", "a NOT CONTAINS 'x'", {}, False),
    ("null: STARTSWITH is FALSE", "a STARTSWITH 'x'", {}, False),
    ("null: NOT STARTSWITH is FALSE", "a NOT STARTSWITH 'x'", {}, False),
    ("null: ENDSWITH is FALSE", "a ENDSWITH 'x'", {}, False),
    ("null: NOT ENDSWITH is FALSE", "a NOT ENDSWITH 'x'", {}, False),
    ("null: bare identifier is null", "a", {}, None),
    ("null: NOT of null is null", "NOT a", {}, None),
    ("null: negation of null is null", "-a = 1", {}, None),
    ("IS NULL of missing", "a IS NULL", {}, True),
    ("IS NULL of present", "a IS NULL", {"a": "x"}, False),
    ("IS NOT NULL of missing", "a IS NOT NULL", {}, False),
    ("IS NOT NULL of present", "a IS NOT NULL", {"a": ""}, True),
    ("IS NULL of a null comparison", "(a = 1) IS NULL", {}, True),
    ("NULL literal IS NULL", "NULL IS NULL", {}, True),
    ("lookup is case-sensitive", "A = 'x'", {"a": "x"}, None),
    # --- AND / OR / NOT truth tables and short-circuits ------------------------------------------
    ("AND T T", "TRUE AND TRUE", {}, True),
    ("AND T F", "TRUE AND FALSE", {}, False),
    ("AND T N", "TRUE AND NULL", {}, None),
    ("AND N T", "NULL AND TRUE", {}, None),
    ("AND F N", "FALSE AND NULL", {}, False),
    ("AND N F", "NULL AND FALSE", {}, False),
    ("AND N N", "NULL AND NULL", {}, None),
    ("OR F F", "FALSE OR FALSE", {}, False),
    ("OR T N", "TRUE OR NULL", {}, True),
    ("OR N T", "NULL OR TRUE", {}, True),
    ("OR F N", "FALSE OR NULL", {}, None),
    ("OR N N", "NULL OR NULL", {}, None),
    ("NOT TRUE", "NOT TRUE", {}, False),
    ("NOT FALSE", "NOT FALSE", {}, True),
    ("NOT NULL", "NOT NULL", {}, None),
    ("TRUE alone", "TRUE", {}, True),
    ("FALSE alone", "FALSE", {}, False),
    ("NULL alone", "NULL", {}, None),
    ("AND: FALSE left short-circuits the right", "FALSE AND 'x' = 1", {}, False),
    ("AND: null left evaluates the right", "NULL AND 'x' = 1", {}, RAISES),
    ("AND: FALSE right after an error-free left", "a = 'x' AND FALSE", {}, False),
    ("OR: TRUE left short-circuits the right", "TRUE OR 'x' = 1", {}, True),
    ("OR: FALSE left evaluates the right", "FALSE OR 'x' = 1", {}, RAISES),
    ("OR: an error inside an earlier AND operand still surfaces", "(a = '1' AND 'x' = 1) OR TRUE", {}, RAISES),
    ("AND: a null operand does not stop the evaluation", "a = '1' AND 'x' = 1", {}, RAISES),
    ("NOT over a null comparison stays null", "NOT (a = 'x') AND TRUE", {}, None),
    ("long AND chain stops at the first FALSE", "a = '1' AND b = '2' AND FALSE AND 'x' = 1", {"a": "1", "b": "2"}, False),
    ("long OR chain with a null and a TRUE", "a = '1' OR b = '2' OR c = '3'", {"c": "3"}, True),
    ("long OR chain with a null and FALSEs", "a = '1' OR b = '2' OR c = '3'", {"a": "0", "b": "0"}, None),
    # --- equality and coercion -----------------------------------------------------------------
    ("= string equal", "a = 'abc'", {"a": "abc"}, True),
    ("= string different", "a = 'abc'", {"a": "abd"}, False),
    ("= string vs Integer parses", "a = 1", {"a": "1"}, True),
    ("= string vs Integer, other value", "a = 1", {"a": "2"}, False),
    ("= Integer.valueOf('1.0') throws", "a = 1", {"a": "1.0"}, RAISES),
    ("= Integer.valueOf('abc') throws", "a = 1", {"a": "abc"}, RAISES),
    ("= Integer.valueOf(' 1') throws (no trim)", "a = 1", {"a": " 1"}, RAISES),
    ("= Integer.valueOf('+1') parses", "a = 1", {"a": "+1"}, True),
    ("= Integer.valueOf of Unicode digits parses", "a = 3", {"a": "\u0663"}, True),
    ("= Integer.valueOf overflow throws", "a = 1", {"a": "5000000000"}, RAISES),
    ("= string vs Long literal parses as long", "a = 5000000000", {"a": "5000000000"}, True),
    ("= 1L is an Integer", "a = 1L", {"a": "1"}, True),
    ("= string vs Double literal parses '1'", "a = 1.0", {"a": "1"}, True),
    ("= string vs Double literal, Double.valueOf trims", "a = 1.5", {"a": " 1.5 "}, True),
    ("= Double.valueOf('abc') throws", "a = 1.5", {"a": "abc"}, RAISES),
    ("= string vs TRUE: 'true'", "a = TRUE", {"a": "true"}, True),
    ("= string vs TRUE: any case", "a = TRUE", {"a": "TrUe"}, True),
    ("= string vs TRUE: other text is false", "a = TRUE", {"a": "yes"}, False),
    ("= string vs FALSE: any other text is false", "a = FALSE", {"a": "abc"}, True),
    ("= Boolean left vs string: ClassCastException", "TRUE = a", {"a": "true"}, RAISES),
    ("= Boolean result left vs string constant throws", "(a = 'x') = 'true'", {"a": "x"}, RAISES),
    ("= Integer vs Boolean compares as -1", "1 = TRUE", {}, False),
    ("= Integer vs Double widens", "1 = 1.0", {}, True),
    ("= string literal vs Integer literal", "'1' = 1", {}, True),
    ("= string literal that is not a number", "'x' = 1", {}, RAISES),
    ("= two string properties compare as strings", "a = b", {"a": "1", "b": "1.0"}, False),
    ("= chain compares a Boolean with the next", "a = b = c", {"a": "1", "b": "1", "c": True}, True),
    ("= chain with a string third operand throws", "a = b = c", {"a": "1", "b": "1", "c": "true"}, RAISES),
    ("= chain with a missing third operand", "a = b = c", {"a": "1", "b": "1"}, False),
    ("<> is NOT =", "a <> 'x'", {"a": "y"}, True),
    ("<> equal values", "a <> 'x'", {"a": "x"}, False),
    ("<> coercion error propagates", "a <> 1", {"a": "x"}, RAISES),
    # --- typed property values (int / float / bool) ---------------------------------------------
    ("typed: Integer vs string literal", "a = '1'", {"a": 1}, True),
    ("typed: Integer vs non-integer string throws", "a = '1.5'", {"a": 1}, RAISES),
    ("typed: Double vs string literal", "a = '1.5'", {"a": 1.5}, True),
    ("typed: Boolean vs string literal throws", "a = 'true'", {"a": True}, RAISES),
    ("typed: Boolean vs TRUE", "a = TRUE", {"a": True}, True),
    ("typed: Boolean vs Integer is not equal", "a = 1", {"a": True}, False),
    ("typed: Boolean < Integer is TRUE (-1)", "a < 1", {"a": True}, True),
    ("typed: Boolean > Integer is FALSE", "a > 1", {"a": True}, False),
    ("typed: Integer < Boolean is TRUE (-1)", "1 < a", {"a": False}, True),
    ("typed: big int is a Long", "a = 1099511627776", {"a": 2**40}, True),
    ("typed: int vs Double", "a = 1.0", {"a": 1}, True),
    ("typed: Long vs Integer.valueOf range", "a = '5000000000'", {"a": 5000000000}, True),
    ("typed: -0.0 and 0.0 differ (Double.equals)", "a = b", {"a": -0.0, "b": 0.0}, False),
    ("typed: NaN equals NaN (Double.equals)", "a = b", {"a": float("nan"), "b": float("nan")}, True),
    # --- ordering ------------------------------------------------------------------------------------
    ("> string vs Integer", "a > 1", {"a": "2"}, True),
    ("> string vs Integer, equal", "a > 1", {"a": "1"}, False),
    (">= equal", "a >= 1", {"a": "1"}, True),
    ("< smaller", "a < 1", {"a": "0"}, True),
    ("<= equal", "a <= 1", {"a": "1"}, True),
    ("> Integer.valueOf('1.5') throws", "a > 1", {"a": "1.5"}, RAISES),
    ("> non-number throws", "a > 1", {"a": "x"}, RAISES),
    ("> string vs Double literal", "a > 1.5", {"a": "2"}, True),
    ("> Double.valueOf accepts a d suffix", "a > 1.5", {"a": "2d"}, True),
    ("> Double.valueOf accepts hex floats", "a > 1.5", {"a": "0x1p4"}, True),
    ("> Double.valueOf refuses underscores", "a > 1.5", {"a": "1_0"}, RAISES),
    ("> NaN is above everything (Double.compareTo)", "a > 1.5", {"a": "NaN"}, True),
    ("< Infinity", "a < 1.5", {"a": "-Infinity"}, True),
    ("> two strings compare as doubles", "a > b", {"a": "10", "b": "9"}, True),
    ("> two strings that are not numbers throw", "a > b", {"a": "x", "b": "1"}, RAISES),
    ("> Long literal", "a > 5000000000", {"a": "5000000001"}, True),
    ("> Long literal, Long.valueOf refuses a decimal", "a > 5000000000", {"a": "5000000001.5"}, RAISES),
    ("< right side not evaluated when left is null", "a < -('x' = 1)", {}, None),
    ("< right side evaluated when left is present", "a < -('x' = 1)", {"a": "1"}, RAISES),
    ("< negated string is null", "a < -b", {"a": "1", "b": "2"}, None),
    ("< negated typed number", "a < -b", {"a": "-3", "b": 2}, True),
    # --- BETWEEN ---------------------------------------------------------------------------------------
    ("BETWEEN inside", "a BETWEEN 1 AND 3", {"a": "2"}, True),
    ("BETWEEN low bound", "a BETWEEN 1 AND 3", {"a": "1"}, True),
    ("BETWEEN high bound", "a BETWEEN 1 AND 3", {"a": "3"}, True),
    ("BETWEEN below", "a BETWEEN 1 AND 3", {"a": "0"}, False),
    ("BETWEEN above", "a BETWEEN 1 AND 3", {"a": "4"}, False),
    ("BETWEEN non-integer string throws", "a BETWEEN 1 AND 3", {"a": "2.5"}, RAISES),
    ("BETWEEN mixed bounds parse per bound", "a BETWEEN 1 AND 3.5", {"a": "3"}, True),
    ("BETWEEN mixed bounds: Integer.valueOf first", "a BETWEEN 1 AND 3.5", {"a": "3.2"}, RAISES),
    ("BETWEEN with negated bounds in the wrong order", "a BETWEEN -1 AND -5", {"a": "-3"}, False),
    ("BETWEEN typed Integer", "a BETWEEN 1 AND 3", {"a": 2}, True),
    ("BETWEEN typed Double", "a BETWEEN 1 AND 3", {"a": 3.5}, False),
    ("NOT BETWEEN outside", "a NOT BETWEEN 1 AND 3", {"a": "0"}, True),
    ("NOT BETWEEN inside", "a NOT BETWEEN 1 AND 3", {"a": "2"}, False),
    ("NOT BETWEEN bounds need no order", "a NOT BETWEEN 3 AND 1", {"a": "2"}, True),
    ("NOT BETWEEN non-number throws", "a NOT BETWEEN 1 AND 3", {"a": "x"}, RAISES),
    ("BETWEEN property bounds", "a BETWEEN b AND c", {"a": "2", "b": "1", "c": "3"}, True),
    ("BETWEEN property bounds, one missing", "a BETWEEN b AND c", {"a": "2", "b": "1"}, None),
    ("BETWEEN property bounds, one missing, low fails", "a BETWEEN b AND c", {"a": "0", "b": "1"}, False),
    # --- IN ---------------------------------------------------------------------------------------------
    ("IN member", "a IN ('x', 'y')", {"a": "x"}, True),
    ("IN not a member", "a IN ('x', 'y')", {"a": "z"}, False),
    ("IN with many values", "a IN ('a', 'b', 'c', 'd', 'e', 'f')", {"a": "f"}, True),
    ("IN is exact (no trim, case-sensitive)", "a IN ('x')", {"a": "X"}, False),
    ("IN non-String value is null", "a IN ('1')", {"a": 1}, None),
    ("NOT IN not a member", "a NOT IN ('x')", {"a": "y"}, True),
    ("NOT IN member", "a NOT IN ('x')", {"a": "x"}, False),
    ("NOT IN non-String value is null", "a NOT IN ('1')", {"a": 1}, None),
    ("IN with an escaped quote", "a IN ('it''s')", {"a": "it's"}, True),
    # --- CONTAINS / STARTSWITH / ENDSWITH --------------------------------------------------------------
    ("CONTAINS yes", "a CONTAINS 'b'", {"a": "abc"}, True),
    ("CONTAINS no", "a CONTAINS 'z'", {"a": "abc"}, False),
    ("CONTAINS non-String is FALSE", "a CONTAINS '1'", {"a": 1}, False),
    ("CONTAINS empty search is FALSE", "a CONTAINS ''", {"a": "abc"}, False),
    ("NOT CONTAINS yes", "a NOT CONTAINS 'z'", {"a": "abc"}, True),
    ("NOT CONTAINS no", "a NOT CONTAINS 'b'", {"a": "abc"}, False),
    ("NOT CONTAINS non-String is FALSE", "a NOT CONTAINS '1'", {"a": 1}, False),
    ("NOT CONTAINS empty search is FALSE", "a NOT CONTAINS ''", {"a": "abc"}, False),
    ("STARTSWITH yes", "a STARTSWITH 'ab'", {"a": "abc"}, True),
    ("STARTSWITH no", "a STARTSWITH 'bc'", {"a": "abc"}, False),
    ("NOT STARTSWITH yes", "a NOT STARTSWITH 'bc'", {"a": "abc"}, True),
    ("STARTSWITH empty search", "a STARTSWITH ''", {"a": "abc"}, False),
    ("ENDSWITH yes", "a ENDSWITH 'bc'", {"a": "abc"}, True),
    ("ENDSWITH no", "a ENDSWITH 'ab'", {"a": "abc"}, False),
    ("NOT ENDSWITH yes", "a NOT ENDSWITH 'ab'", {"a": "abc"}, True),
    ("NOT ENDSWITH non-String", "a NOT ENDSWITH 'ab'", {"a": True}, False),
    ("ENDSWITH empty search", "a NOT ENDSWITH ''", {"a": "abc"}, False),
    ("CONTAINS on a string literal", "'abc' CONTAINS 'b'", {}, True),
    ("CONTAINS on a Boolean result is FALSE", "(a = 1) CONTAINS 'x'", {"a": "1"}, False),
    ("CONTAINS evaluates its operand", "(a = 1) CONTAINS 'x'", {"a": "x"}, RAISES),
    ("CONTAINS with empty search skips its operand", "(a = 1) CONTAINS ''", {"a": "x"}, False),
    # --- unary -------------------------------------------------------------------------------------------
    ("negation of a string is null", "-a = -1", {"a": "1"}, None),
    ("negation of a typed Integer", "-a = -1", {"a": 1}, True),
    ("double negation", "- -a = 1", {"a": 1}, True),
    ("-Integer.MIN_VALUE overflows to itself", "-a = a", {"a": -(2**31)}, True),
    ("-Long.MIN_VALUE overflows to itself", "-a = a", {"a": -(2**63)}, True),
    ("negation of a Double", "-a < 0", {"a": 1.5}, True),
    ("negated literal", "a = -5", {"a": "-5"}, True),
    ("negated Long literal keeps Long", "a = -2147483648", {"a": "-2147483648"}, True),
    ("unary plus is dropped", "+a", {"a": True}, True),
    # --- bare identifiers (boolean cast) --------------------------------------------------------------
    ("bare identifier Boolean true", "a", {"a": True}, True),
    ("bare identifier Boolean false", "a", {"a": False}, False),
    ("bare identifier string 'true' is FALSE", "a", {"a": "true"}, False),
    ("bare identifier number is FALSE", "a", {"a": 1}, False),
    ("NOT bare identifier string", "NOT a", {"a": "true"}, True),
    ("AND of bare identifiers", "a AND b", {"a": True, "b": True}, True),
    # --- quirks ---------------------------------------------------------------------------------------------
    ("NOT binds tighter than =: (NOT a) = 'true' throws", "NOT a = 'true'", {"a": "true"}, RAISES),
    ("parenthesised NOT (a = 'true')", "NOT (a = 'true')", {"a": "true"}, False),
    ("trailing tokens are ignored", "a = 1 garbage here", {"a": "1"}, True),
    ("trailing ) is ignored", "a = 1)", {"a": "1"}, True),
    ("010 is 0 then an ignored 10", "a = 010", {"a": "10"}, False),
    ("0x10 is 0 then an ignored identifier", "a = 0x10", {"a": "0"}, True),
    ("`--` without a newline is two minus signs", "a = 1 --c", {"a": "1"}, True),
    ("`--` comment ended by a newline", "a = 1 -- c\n OR b = 2", {"b": "2"}, True),
    ("block comment", "a /* x */ = /* y\n * z */ 1", {"a": "1"}, True),
    ("TAGS is just a property", "TAGS = 'TagA'", {"TAGS": "TagA"}, True),
    ("NOW is an identifier, not a function", "NOW IS NULL", {}, True),
    ("backslash is not an escape", "a = '\\'", {"a": "\\"}, True),
    ("comparison NOT followed by something else ends the selector", "a NOT x", {"a": True}, True),
]


@pytest.mark.parametrize(("expression", "properties", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evaluation(expression: str, properties: dict, expected: object) -> None:
    result = outcome(expression, properties)
    assert result is expected, f"{expression!r} on {properties!r} gave {result!r}, expected {expected!r}"


def test_evaluation_error_names_the_java_exception() -> None:
    with pytest.raises(SelectorEvaluationError) as info:
        sql92.compile("a = 1").evaluate({"a": "1.0"})
    assert info.value.java_exception == "NumberFormatException"
    with pytest.raises(SelectorEvaluationError) as info:
        sql92.compile("TRUE = a").evaluate({"a": "x"})
    assert info.value.java_exception == "ClassCastException"


@pytest.mark.parametrize("value", [object(), b"bytes", [1], 2**64])
def test_unsupported_property_values_are_a_typed_error(value: object) -> None:
    selector = sql92.compile("a IS NULL")
    with pytest.raises(UnsupportedPropertyTypeError):
        selector.evaluate({"a": value})
    assert selector.matches({"a": value}) is False


def test_str_subclass_values_are_strings() -> None:
    class Name(str):
        pass

    assert sql92.compile("a = 'x'").evaluate({"a": Name("x")}) is True


def test_matches_needs_exactly_true() -> None:
    selector = sql92.compile("a = 'x'")
    assert selector.matches({"a": "x"}) is True
    assert selector.matches({"a": "y"}) is False
    assert selector.matches({}) is False  # null


class _RecordingProperties(dict):
    """A property map that records which names were looked up."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.looked_up: list[str] = []

    def get(self, key: str, default: object = None) -> object:
        self.looked_up.append(key)
        return super().get(key, default)


def test_matches_fetches_properties_of_a_root_and_lazily() -> None:
    selector = sql92.compile("a IS NOT NULL AND b = 'x' AND c > 1")
    props = _RecordingProperties({"b": "x", "c": "2"})
    assert selector.matches(props) is False
    assert props.looked_up == ["a"]  # the first operand already decided: no further lookups
    props = _RecordingProperties({"a": "1", "b": "x", "c": "2"})
    assert selector.matches(props) is True
    assert props.looked_up == ["a", "b", "c"]


def test_evaluate_agrees_with_matches_on_the_seed_messages() -> None:
    selector = sql92.compile("(TAGS is not null and TAGS in ('TagA','TagC')) and (baiLi is not null and baiLi between 0 and 3)")
    for i in range(30):
        props = {"TAGS": ["TagA", "TagB", "TagC"][i % 3], "baiLi": str(i % 15)}
        assert selector.matches(props) is (selector.evaluate(props) is True)
