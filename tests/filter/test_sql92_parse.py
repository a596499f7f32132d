"""Lexical rules, grammar, precedence, parse-time checks and parser quirks (reference section 6)."""

from __future__ import annotations

import pytest

from rmqcore.filter import SelectorSyntaxError, sql92
from rmqcore.filter.sql92 import ast
from rmqcore.filter.sql92.parser import parse


def normal(expression: str) -> str:
    return str(parse(expression))


# --- lexical ------------------------------------------------------------------------------------
LEXICAL_OK = [
    ("keywords are case-insensitive", "a iS nOt NuLl aNd b BeTwEeN 1 aNd 2 Or c In ('x') oR NoT d", "a IS NOT NULL AND b BETWEEN 1 AND 2 OR c IN ('x') OR NOT d"),
    ("5.x keywords case-insensitive", "a contains 'x' and b StartsWith 'y' and c endswith 'z'", "a CONTAINS 'x' AND b STARTSWITH 'y' AND c ENDSWITH 'z'"),
    ("TRUE/FALSE/NULL case-insensitive", "a = true or b = False or c is null", "a = TRUE OR b = FALSE OR c IS NULL"),
    ("longest match: notx is an identifier", "notx", "notx"),
    ("longest match: inx, isx, andx are identifiers", "inx = 1 and isx = 2 and andx = 3", "inx = 1 AND isx = 2 AND andx = 3"),
    ("identifier with $ and _", "$a_1 = 1 AND _b = 2", "$a_1 = 1 AND _b = 2"),
    ("whitespace: tab, newline, CR, form feed", "a\t=\n1\rAND\fb = 2", "a = 1 AND b = 2"),
    ("line comment ended by \\n", "a = 1 -- note\nAND b = 2", "a = 1 AND b = 2"),
    ("line comment ended by \\r", "a = 1 -- note\rAND b = 2", "a = 1 AND b = 2"),
    ("block comment over lines", "a = /* one\n * two **/ 1", "a = 1"),
    ("decimal literal", "a = 42", "a = 42"),
    ("decimal with l suffix narrows to Integer", "a = 42l", "a = 42"),
    ("decimal beyond int is a Long", "a = 2147483648L", "a = 2147483648"),
    ("largest long", "a = 9223372036854775807", "a = 9223372036854775807"),
    ("float digits.digits", "a = 1.5", "a = 1.5"),
    ("float digits.", "a = 2.", "a = 2.0"),
    ("float .digits", "a = .25", "a = 0.25"),
    ("float digits exp", "a = 5E3", "a = 5000.0"),
    ("float with signed exponent", "a = 1.5e-3", "a = 0.0015"),
    ("float exp is case-insensitive", "a = 1e2", "a = 100.0"),
    ("010.5 is one float", "a = 010.5", "a = 10.5"),
    ("smallest positive double", "a = 4.9e-324", "a = 5e-324"),
    ("string with doubled quote", "a = 'it''s'", "a = 'it''s'"),
    ("string spanning lines", "a = 'x\ny'", "a = 'x\ny'"),
    ("empty string", "a = ''", "a = ''"),
]


@pytest.mark.parametrize(("expression", "expected"), [c[1:] for c in LEXICAL_OK], ids=[c[0] for c in LEXICAL_OK])
def test_lexical_forms(expression: str, expected: str) -> None:
    assert normal(expression) == expected


@pytest.mark.parametrize(
    ("expression", "java_type", "value"),
    [
        ("a = 7", ast.INTEGER, 7),
        ("a = 7L", ast.INTEGER, 7),
        ("a = 2147483647", ast.INTEGER, 2147483647),
        ("a = 2147483648", ast.LONG, 2147483648),
        ("a = 7.0", ast.DOUBLE, 7.0),
        ("a = 'x'", ast.STRING, "x"),
        ("a = TRUE", ast.BOOLEAN, True),
    ],
)
def test_literal_java_types(expression: str, java_type: str, value: object) -> None:
    right = parse(expression).right  # type: ignore[attr-defined]
    assert isinstance(right, ast.Const)
    assert (right.java_type, right.value) == (java_type, value)


LEXICAL_ERRORS = [
    ("double quotes", 'a = "x"', "double quotes", 5),
    ("unterminated string", "a = 'x", "unterminated string", 5),
    ("unterminated block comment", "a = 1 OR /* x", "unterminated /* comment", 10),
    ("dot in identifier", "a.b = 1", "unexpected character '.'", 2),
    ("non-ASCII identifier", "é = 1", "unexpected character 'é'", 1),
    ("!= is not an operator", "a != 1", "not-equal is <>", 3),
    ("lexical error right after a complete expression", "a = 1 #", "unexpected character '#'", 7),
]


@pytest.mark.parametrize(("expression", "message", "column"), [c[1:] for c in LEXICAL_ERRORS], ids=[c[0] for c in LEXICAL_ERRORS])
def test_lexical_errors(expression: str, message: str, column: int) -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        parse(expression)
    assert message in str(info.value)
    assert info.value.column == column


# --- precedence and associativity -------------------------------------------------------------------------
PRECEDENCE = [
    ("AND binds tighter than OR", "a OR b AND c", ast.Or),
    ("parentheses override", "(a OR b) AND c", ast.And),
    ("= binds tighter than AND", "a = 1 AND b = 2", ast.And),
    ("comparison binds tighter than =", "a > 1 = TRUE", ast.Equal),
    ("NOT binds tightest: (NOT a) = 1", "NOT a = 1", ast.Equal),
    ("IS NULL is an equality-level operator", "a > 1 IS NULL", ast.IsNull),
    ("BETWEEN's AND is not the logical AND", "a BETWEEN 1 AND 2 AND b", ast.And),
    ("= chains left-associatively", "a = b = c", ast.Equal),
]


@pytest.mark.parametrize(("expression", "root"), [c[1:] for c in PRECEDENCE], ids=[c[0] for c in PRECEDENCE])
def test_precedence(expression: str, root: type) -> None:
    assert type(parse(expression)) is root


def test_not_is_unary_at_the_tightest_level() -> None:
    tree = parse("NOT a = 1")
    assert isinstance(tree, ast.Equal) and isinstance(tree.left, ast.Not)
    assert str(tree) == "(NOT a) = 1"


def test_equality_chain_is_left_deep() -> None:
    tree = parse("a = b = c")
    assert isinstance(tree, ast.Equal) and isinstance(tree.left, ast.Equal) and isinstance(tree.right, ast.Prop)


def test_and_or_chains_are_flat() -> None:
    tree = parse("a AND (b AND c) AND d")
    assert isinstance(tree, ast.And) and len(tree.operands) == 4


# --- parse-time checks --------------------------------------------------------------------------------------
CHECK_ERRORS = [
    ("= NULL on the right", "a = NULL", "NULL cannot be an operand of ="),
    ("= NULL on the left", "NULL = a", "NULL cannot be an operand of ="),
    ("<> NULL", "a <> NULL", "NULL cannot be an operand of <>"),
    ("TRUE = 1", "TRUE = 1", "TRUE cannot be compared with 1"),
    ("FALSE <> 'x'", "FALSE <> 'x'", "FALSE cannot be compared with 'x'"),
    ("< with a string constant", "a < 'x'", "'x' cannot be an operand of <"),
    ("> with a string constant on the left", "'1' > a", "'1' cannot be an operand of >"),
    ("<= with TRUE", "a <= TRUE", "TRUE cannot be an operand of <="),
    (">= with NULL", "a >= NULL", "NULL cannot be an operand of >="),
    ("< with a boolean sub-expression", "a < (b = 1)", "cannot be an operand of <: it is a boolean"),
    ("< with a boolean left", "(b = 1) < 2", "cannot be an operand of <: it is a boolean"),
    ("< chain (left is boolean)", "a < b < c", "it is a boolean"),
    ("BETWEEN bounds out of order", "a BETWEEN 3 AND 1", "BETWEEN bounds out of order"),
    ("BETWEEN double bounds out of order", "a BETWEEN 1.5 AND 1", "BETWEEN bounds out of order"),
    ("BETWEEN NULL low", "a BETWEEN NULL AND 1", "BETWEEN bounds cannot be NULL"),
    ("BETWEEN NULL high", "a BETWEEN 1 AND NULL", "BETWEEN bounds cannot be NULL"),
    ("BETWEEN string bounds", "a BETWEEN 'a' AND 'b'", "cannot be an operand of BETWEEN"),
    ("BETWEEN unparsable string bound", "a BETWEEN 1 AND 'x'", "BETWEEN bounds cannot be compared"),
    ("NOT BETWEEN string bound", "a NOT BETWEEN 'a' AND 1", "cannot be an operand of BETWEEN"),
    ("IN needs a property: number", "1 IN ('x')", "IN needs a property on its left, not 1"),
    ("IN needs a property: string", "'a' IN ('x')", "IN needs a property"),
    ("IN needs a property: boolean", "(a = 1) NOT IN ('x')", "IN needs a property"),
    ("IN with a number", "a IN (1)", "expected a string literal after IN ("),
    ("IN with a property", "a IN (b)", "expected a string literal after IN ("),
    ("IN with no value", "a IN ()", "expected a string literal after IN ("),
    ("IN with a trailing comma", "a IN ('x',)", "expected a string literal after 'x' ,"),
    ("CONTAINS with a property", "a CONTAINS b", "expected a string literal after a CONTAINS"),
    ("STARTSWITH with a number", "a STARTSWITH 1", "expected a string literal"),
    ("top level number", "1", "the selector must be a boolean expression, not 1"),
    ("top level string", "'abc'", "must be a boolean expression"),
    ("top level negation", "-a", "must be a boolean expression, not -a"),
    ("NOT of a number", "NOT 1", "the operand of NOT must be a boolean expression"),
    ("NOT of a negation", "NOT -a", "the operand of NOT must be a boolean expression"),
    ("AND with a number", "1 AND a", "an AND operand must be a boolean expression"),
    ("OR with a string", "a OR 'x'", "an OR operand must be a boolean expression"),
    ("float 0.0 is refused", "a = 0.0", "less than Double.MIN_VALUE"),
    ("float 0.000 is refused", "a = 0.000", "less than Double.MIN_VALUE"),
    ("float underflow is refused", "a = 1e-400", "less than Double.MIN_VALUE"),
    ("float overflow is refused", "a = 1e309", "greater than Double.MAX_VALUE"),
    ("long overflow is refused", "a = 9223372036854775808", "too large for a long"),
    ("empty selector", "", "the selector is empty"),
    ("blank selector", " \n ", "the selector is empty"),
]


@pytest.mark.parametrize(("expression", "message"), [c[1:] for c in CHECK_ERRORS], ids=[c[0] for c in CHECK_ERRORS])
def test_parse_time_check_errors(expression: str, message: str) -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        parse(expression)
    assert message in str(info.value)


CHECK_OK = [
    ("Integer = TRUE (only a boolean LEFT constant is checked)", "1 = TRUE"),
    ("TRUE = FALSE", "TRUE = FALSE"),
    ("TRUE = property", "TRUE = a"),
    ("NULL IS NULL", "NULL IS NULL"),
    ("negated string is not a constant for <", "a < -'x'"),
    ("negated bounds skip the order check", "a BETWEEN -1 AND -5"),
    ("equal bounds", "a BETWEEN 1 AND 1"),
    ("Integer and Double bounds", "a BETWEEN 1 AND 1.5"),
    ("Integer and Long bounds", "a BETWEEN 1 AND 5000000000"),
    ("NOT BETWEEN bounds in any order", "a NOT BETWEEN 3 AND 1"),
    ("parenthesised property for IN", "(a) IN ('x')"),
    ("CONTAINS on a literal", "'abc' CONTAINS 'b'"),
    ("bare identifier", "a"),
    ("parenthesised identifier", "(a)"),
    ("NULL selector", "NULL"),
    ("TRUE selector", "TRUE"),
    ("unary plus on an identifier", "+a"),
    ("NOT of a parenthesised identifier", "NOT (a)"),
]


@pytest.mark.parametrize("expression", [c[1] for c in CHECK_OK], ids=[c[0] for c in CHECK_OK])
def test_parse_time_checks_accept(expression: str) -> None:
    assert parse(expression).is_boolean


# --- trailing tokens (the parser does not require end of input) -------------------------------------------
TRAILING = [
    ("identifier after a complete expression", "a = 1 garbage", "a = 1"),
    ("closing parenthesis", "a = 1)", "a = 1"),
    ("string literal", "a = 1 'x'", "a = 1"),
    ("number", "a = 1 2", "a = 1"),
    ("after an identifier only the next token is lexed", "a = 1 b # $", "a = 1"),
    ("minus after a bare identifier", "a-b = 1", "a"),
    ("NOT not followed by a comparison keyword", "a NOT x", "a"),
    ("NOT NOT", "a = 1 NOT NOT b", "a = 1"),
    ("NOT at the end", "a = 1 NOT", "a = 1"),
    ("float followed by l", "a = 1.5l", "a = 1.5"),
    ("`--` at the end without a newline", "a = 1 --", "a = 1"),
]


@pytest.mark.parametrize(("expression", "expected"), [c[1:] for c in TRAILING], ids=[c[0] for c in TRAILING])
def test_trailing_tokens_are_ignored(expression: str, expected: str) -> None:
    assert normal(expression) == expected


TRAILING_ERRORS = [
    ("AND commits", "a = 1 AND", "expected an operand"),
    ("OR commits", "a = 1 OR )", "expected an operand"),
    ("IS commits", "a IS x", "expected NOT or NULL after a IS"),
    ("IS NOT commits", "a IS NOT x", "expected NULL after IS NOT"),
    ("NOT BETWEEN commits after two tokens", "a NOT BETWEEN )", "expected an operand"),
    ("NOT IN commits after two tokens", "a NOT IN x", "expected '(' after NOT IN"),
    ("NOT CONTAINS commits after two tokens", "a NOT CONTAINS 1", "expected a string literal"),
    ("BETWEEN needs its AND", "a BETWEEN 1 OR 2", "expected AND after BETWEEN 1"),
    ("== is = followed by a refused =", "a == 1", "expected an operand"),
    ("unclosed parenthesis", "(a = 1", "expected ')'"),
    ("lexical error as the next token", "a = 1 \"x\"", "double quotes"),
    ("`--` comment hides the rest of its line only", "a = 1 OR -- x\n", "expected an operand"),
]


@pytest.mark.parametrize(("expression", "message"), [c[1:] for c in TRAILING_ERRORS], ids=[c[0] for c in TRAILING_ERRORS])
def test_committed_continuations_must_complete(expression: str, message: str) -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        parse(expression)
    assert message in str(info.value)


# --- error reporting, limits and the cache ------------------------------------------------------------------
def test_error_message_names_what_was_expected_and_where() -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        sql92.compile("TAGS = 'x' AND a IN (3)")
    error = info.value
    assert str(error) == "expected a string literal after IN ( at column 22"
    assert (error.position, error.line, error.column) == (21, 1, 22)
    assert isinstance(error, ValueError)


def test_error_position_on_a_later_line() -> None:
    with pytest.raises(SelectorSyntaxError) as info:
        parse("a = 1\nAND b <")
    assert info.value.line == 2
    assert str(info.value).endswith("but the selector ends at line 2, column 8")


def test_length_limit_is_enforced_before_parsing() -> None:
    long_selector = "a = '" + "x" * 5000 + "'"
    with pytest.raises(SelectorSyntaxError, match="5006 characters long; the limit is 4096"):
        sql92.compile(long_selector)
    assert sql92.compile(long_selector, max_length=6000).evaluate({"a": "x" * 5000}) is True


def test_depth_limit_refuses_deep_nesting() -> None:
    deep = "NOT " * 60 + "a"
    with pytest.raises(SelectorSyntaxError, match="nested 62 levels deep; the limit is 50"):
        sql92.compile(deep)
    assert sql92.compile(deep, max_depth=62).evaluate({"a": True}) is True


def test_many_parentheses_do_not_recurse() -> None:
    # Parentheses make no node; 2000 of them parse without any recursion.
    selector = sql92.compile("(" * 2000 + "a = 1" + ")" * 2000)
    assert str(selector) == "a = 1"


def test_long_and_chain_is_one_level() -> None:
    chain = " AND ".join(f"p{i} = '{i}'" for i in range(300))
    selector = sql92.compile(chain, max_length=10_000)
    assert selector.tree.depth == 3
    assert selector.evaluate({f"p{i}": str(i) for i in range(300)}) is True


def test_compile_is_cached_and_errors_are_raised_each_time() -> None:
    assert sql92.compile("x = 'cache'") is sql92.compile("x = 'cache'")
    for _ in range(2):
        with pytest.raises(SelectorSyntaxError):
            sql92.compile("x = ")


def test_selector_reports_the_properties_it_reads() -> None:
    selector = sql92.compile("a = 1 AND (b IS NULL OR c IN ('x')) AND NOT d AND 'k' CONTAINS 'k'")
    assert selector.properties == frozenset({"a", "b", "c", "d"})


def test_normalised_text_reparses_to_the_same_tree() -> None:
    text = "NOT (a = 1) OR - -b < 2 AND (c OR d) AND e NOT BETWEEN -1 AND 2.5 AND f NOT IN ('x', 'y''z')"
    selector = sql92.compile(text)
    assert sql92.compile(str(selector)) == selector
    assert str(selector) == "NOT (a = 1) OR - -b < 2 AND (c OR d) AND e NOT BETWEEN -1 AND 2.5 AND f NOT IN ('x', 'y''z')"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("a < b", "c < d"),
        ("a < b", "a <= b"),
        ("a = 1 AND b", "a = 1 AND c"),
        ("a = 1", "a = 1.0"),
        ("a = 1", "a = TRUE"),
        ("x IN ('a')", "x NOT IN ('a')"),
        ("x IN ('a')", "x IN ('b')"),
        ("a BETWEEN 1 AND 2", "a BETWEEN 1 AND 3"),
        ("a CONTAINS 'x'", "a STARTSWITH 'x'"),
        ("a IS NULL", "a IS NOT NULL"),
    ],
)
def test_tree_equality_compares_every_field(first: str, second: str) -> None:
    assert parse(first) != parse(second)
    assert parse(first) == parse(" " + first + " ") and hash(parse(first)) == hash(parse(first))
