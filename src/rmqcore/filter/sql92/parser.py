"""Parsing selector text into the node tree, with RocketMQ's parse-time checks.

Reference section 6. Lark's LALR parser does the grammar; the callbacks below run
at each reduction and apply the checks that RocketMQ's ``SelectorParser.jj``
actions and ``ComparisonExpression.create*`` methods apply while parsing.

RocketMQ's JavaCC parser does not require end of input: it stops after the first
complete expression and ignores what follows, except that the very next token is
lexed (so a lexical error there still fails). JavaCC commits to a loop
alternative on its first token, except ``NOT`` before CONTAINS / STARTSWITH /
ENDSWITH / BETWEEN / IN, which needs two tokens (``LOOKAHEAD(2)``). The parse
loop reproduces that: it feeds tokens until one is refused, then accepts the text
before that token (or before a refused comparison ``NOT``) if it is a complete
expression.
"""

from __future__ import annotations

import re
from typing import cast

from lark import Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from rmqcore.filter.errors import SelectorEvaluationError, SelectorSyntaxError
from rmqcore.filter.sql92 import ast
from rmqcore.filter.sql92.grammar import build_parser
from rmqcore.filter.sql92.java_values import INT_MAX, INT_MIN, LONG_MAX, JLong, java_compare

DEFAULT_MAX_LENGTH = 4096
DEFAULT_MAX_DEPTH = 50
_DOUBLE_MAX = 1.7976931348623157e308
_DOUBLE_MIN = 5e-324  # Double.MIN_VALUE
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)[lL]?")


class _CheckFailed(Exception):
    """A parse-time check failed at ``position`` (converted to SelectorSyntaxError by ``parse``)."""

    def __init__(self, reason: str, position: int | None) -> None:
        super().__init__(reason)
        self.reason, self.position = reason, position


def _pos(token: Token) -> int | None:
    return getattr(token, "start_pos", None)


def _as_boolean(node: ast.Node, where: Token | None, role: str) -> ast.Node:
    # SelectorParser.asBooleanExpression: boolean expressions pass, a bare property is cast.
    if node.is_boolean:
        return node
    if isinstance(node, ast.Prop):
        return ast.BoolCast(node)
    raise _CheckFailed(f"{role} must be a boolean expression, not {ast.to_text(node)}", _pos(where) if where else None)


def _check_equal_operand(node: ast.Node, op: Token) -> None:
    # ComparisonExpression.checkEqualOperand: the NULL literal cannot be compared.
    if isinstance(node, ast.Const) and node.java_type == ast.NULL:
        raise _CheckFailed(f"NULL cannot be an operand of {op.value} (use IS NULL / IS NOT NULL)", _pos(op))


def _check_equal_operands(left: ast.Node, right: ast.Node, op: Token) -> None:
    _check_equal_operand(left, op)
    _check_equal_operand(right, op)
    # checkEqualOperandCompatability: only a boolean constant on the LEFT of a non-boolean constant.
    if isinstance(left, ast.Const) and isinstance(right, ast.Const) and left.is_boolean and not right.is_boolean:
        raise _CheckFailed(f"{ast.to_text(left)} cannot be compared with {ast.to_text(right)}", _pos(op))


def _check_order_operand(node: ast.Node, op: Token) -> None:
    # checkLessThanOperand: constants must be numbers; no boolean expressions.
    if isinstance(node, ast.Const):
        if node.java_type in (ast.INTEGER, ast.LONG, ast.DOUBLE):
            return
        raise _CheckFailed(f"{ast.to_text(node)} cannot be an operand of {op.value.upper()} (numbers only)", _pos(op))
    if node.is_boolean:
        raise _CheckFailed(f"({ast.to_text(node)}) cannot be an operand of {op.value.upper()}: it is a boolean", _pos(op))


def _decode_string(token: Token) -> str:
    return token.value[1:-1].replace("''", "'")


class SelectorBuilder(Transformer):
    """Lark callbacks building :mod:`ast` nodes; each applies RocketMQ's parse-time check."""

    def start(self, children: list) -> ast.Node:
        return _as_boolean(children[0], None, "the selector")

    def or_(self, c: list) -> ast.Node:
        return ast.Or((_as_boolean(c[0], c[1], "an OR operand"), _as_boolean(c[2], c[1], "an OR operand")))

    def and_(self, c: list) -> ast.Node:
        return ast.And((_as_boolean(c[0], c[1], "an AND operand"), _as_boolean(c[2], c[1], "an AND operand")))

    def eq(self, c: list) -> ast.Node:
        _check_equal_operands(c[0], c[2], c[1])
        return ast.Equal(c[0], c[2])

    def ne(self, c: list) -> ast.Node:
        _check_equal_operands(c[0], c[2], c[1])
        return ast.NotEqual(c[0], c[2])

    def is_null(self, c: list) -> ast.Node:
        return ast.IsNull(c[0], negated=False)

    def is_not_null(self, c: list) -> ast.Node:
        return ast.IsNull(c[0], negated=True)

    def _order(self, c: list) -> ast.Node:
        _check_order_operand(c[0], c[1])
        _check_order_operand(c[2], c[1])
        return ast.Order(c[1].value, c[0], c[2])

    gt = ge = lt = le = _order

    def _string_test(self, c: list) -> ast.Node:
        negated = len(c) == 4
        return ast.StringTest(c[-2].type, c[0], _decode_string(c[-1]), negated)

    contains = not_contains = startswith = not_startswith = endswith = not_endswith = _string_test

    def between(self, c: list) -> ast.Node:
        value, op, low, high = c[0], c[1], c[2], c[4]
        # ComparisonExpression.createBetween: two constants must be non-null and low <= high.
        if isinstance(low, ast.Const) and isinstance(high, ast.Const):
            if low.java_type == ast.NULL or high.java_type == ast.NULL:
                raise _CheckFailed("BETWEEN bounds cannot be NULL", _pos(op))
            try:
                order = java_compare(high.value, low.value)
            except SelectorEvaluationError as exc:
                raise _CheckFailed(f"BETWEEN bounds cannot be compared: {exc}", _pos(op)) from None
            if order < 0:
                raise _CheckFailed(
                    f"BETWEEN bounds out of order: {ast.to_text(low)} must be less than or equal to {ast.to_text(high)}",
                    _pos(op),
                )
        for operand in (value, low, value, high):
            _check_order_operand(operand, op)
        return ast.Between(value, low, high, negated=False)

    def not_between(self, c: list) -> ast.Node:
        value, op, low, high = c[0], c[2], c[3], c[5]
        # createNotBetween is `< OR >`: operand checks only, no bound-order check.
        for operand in (value, low, value, high):
            _check_order_operand(operand, op)
        return ast.Between(value, low, high, negated=True)

    def _in(self, c: list) -> ast.Node:
        negated = len(c) == 4
        left, op, values = c[0], c[-2], c[-1]
        if not isinstance(left, ast.Prop):
            raise _CheckFailed(f"IN needs a property on its left, not {ast.to_text(left)}", _pos(op))
        return ast.In(left, tuple(values), negated)

    in_ = not_in = _in

    def string_list(self, c: list) -> list[str]:
        return [_decode_string(t) for t in c]

    def plus(self, c: list) -> ast.Node:
        return c[0]  # unary plus is dropped by RocketMQ's parser

    def neg(self, c: list) -> ast.Node:
        return ast.Neg(c[0])

    def not_(self, c: list) -> ast.Node:
        return ast.Not(_as_boolean(c[1], c[0], "the operand of NOT"))

    def string(self, c: list) -> ast.Node:
        return ast.Const(_decode_string(c[0]), ast.STRING)

    def number(self, c: list) -> ast.Node:
        token: Token = c[0]
        text = token.value
        if _DECIMAL.fullmatch(text):
            # ConstantExpression.createFromDecimal: a Java long, narrowed to Integer when it fits.
            value = int(text.rstrip("lL"))
            if value > LONG_MAX:
                raise _CheckFailed(f"{text} is too large for a long", _pos(token))
            if INT_MIN <= value <= INT_MAX:
                return ast.Const(value, ast.INTEGER)
            return ast.Const(JLong(value), ast.LONG)
        # createFloat: a Double, refused above Double.MAX_VALUE and below Double.MIN_VALUE (so 0.0 too).
        number = float(text)
        if number > _DOUBLE_MAX:
            raise _CheckFailed(f"{text} is greater than Double.MAX_VALUE", _pos(token))
        if number < _DOUBLE_MIN:
            raise _CheckFailed(f"{text} is less than Double.MIN_VALUE (RocketMQ refuses 0.0)", _pos(token))
        return ast.Const(number, ast.DOUBLE)

    def true(self, c: list) -> ast.Node:
        return ast.Const(True, ast.BOOLEAN)

    def false(self, c: list) -> ast.Node:
        return ast.Const(False, ast.BOOLEAN)

    def null(self, c: list) -> ast.Node:
        return ast.Const(None, ast.NULL)

    def prop(self, c: list) -> ast.Node:
        return ast.Prop(c[0].value)


# --- error messages ---------------------------------------------------------------------
_OPERAND_STARTS = {"STRING", "NUMBER", "ID", "TRUE", "FALSE", "NULL", "LPAR", "PLUS", "MINUS", "NOT"}
_NAMES = {
    "STRING": "a string literal",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "EQ": "'='",
    "NE": "'<>'",
    "LT": "'<'",
    "LE": "'<='",
    "GT": "'>'",
    "GE": "'>='",
    "ID": "a property name",
    "NUMBER": "a number",
    "PLUS": "'+'",
    "MINUS": "'-'",
}


def _describe_expected(expected: set[str]) -> str:
    expected = expected - {"$END", "WORD"}
    if {"STRING", "NUMBER", "ID", "LPAR"} <= expected:
        return "an operand (a property, a literal, '(', '-' or NOT)"
    if expected >= {"BETWEEN", "IN", "CONTAINS"} and "EQ" not in expected:
        return "BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT"
    if expected >= {"EQ", "AND", "OR"} or expected >= {"EQ", "RPAR"}:
        return "an operator" + (" or ')'" if "RPAR" in expected else "")
    names = sorted(_NAMES.get(name, name) for name in expected)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _token_text(token: Token) -> str:
    if token.type in ("NOT", "AND", "OR", "BETWEEN", "IN", "TRUE", "FALSE", "NULL", "IS", "CONTAINS", "STARTSWITH", "ENDSWITH"):
        return token.type
    text = str(token.value)
    return text if len(text) <= 24 else text[:21] + "..."


def _after(history: list[Token]) -> str:
    if not history:
        return "at the start of the selector"
    return "after " + " ".join(_token_text(t) for t in history[-2:])


def _lexical_error(text: str, exc: UnexpectedCharacters) -> SelectorSyntaxError:
    pos = cast(int, exc.pos_in_stream)  # optional in lark, always set by the lexer
    ch = text[pos]
    if ch == "'":
        reason = "unterminated string literal"
    elif ch == '"':
        reason = "double quotes do not delimit strings; use single quotes"
    elif text.startswith("/*", pos):
        reason = "unterminated /* comment"
    elif ch == "!":
        reason = "unexpected character '!' (not-equal is <>)"
    else:
        reason = f"unexpected character {ch!r}"
    return SelectorSyntaxError(reason, text, pos)


def _parse_prefix(text: str, allow_trailing: bool) -> ast.Node:
    parser = build_parser(SelectorBuilder)
    interactive = parser.parse_interactive(text)
    history: list[Token] = []
    tokens = interactive.lexer_thread.lex(interactive.parser_state)
    while True:
        try:
            token = next(tokens)
        except StopIteration:
            break
        except UnexpectedCharacters as exc:
            raise _lexical_error(text, exc) from None
        except UnexpectedToken as exc:  # the contextual lexer found a valid token this state refuses
            expected = {name for name in interactive.choices() if name.isupper()}
            return _refused(text, exc.token, expected, history, allow_trailing)
        try:
            interactive.feed_token(token)
        except UnexpectedToken as exc:
            return _refused(text, token, set(exc.expected), history, allow_trailing)
        history.append(token)
        del history[:-2]
    try:
        return interactive.feed_eof(history[-1] if history else None)
    except UnexpectedToken as exc:
        if allow_trailing and history and history[-1].type == "NOT":
            # Tokens that come out of the lexer carry their position (optional in lark's Token).
            return _complete_prefix(text, cast(int, history[-1].start_pos), history, len(text), set(exc.expected))
        raise SelectorSyntaxError(
            f"expected {_describe_expected(set(exc.expected))} {_after(history)}, but the selector ends", text, len(text)
        ) from None


def _refused(text: str, token: Token, expected: set[str], history: list[Token], allow_trailing: bool) -> ast.Node:
    if not allow_trailing:
        raise SelectorSyntaxError(f"expected {_describe_expected(expected)} {_after(history)}", text, token.start_pos)
    # A refused token right after a comparison NOT: JavaCC's LOOKAHEAD(2) fails, the NOT is trailing too.
    # Lexed tokens carry their position (optional in lark's Token).
    error_pos = cast(int, token.start_pos)
    cut = cast(int, history[-1].start_pos) if history and history[-1].type == "NOT" else error_pos
    return _complete_prefix(text, cut, history, error_pos, expected)


def _complete_prefix(text: str, cut: int, history: list[Token], error_pos: int, expected: set[str]) -> ast.Node:
    """The text before ``cut`` as a complete selector, else the error at ``error_pos``.

    Re-parsing the prefix (rather than feeding end-of-input to the failed parser)
    avoids LALR reductions made on the refused token's lookahead.
    """
    try:
        return _parse_prefix(text[:cut], allow_trailing=False)
    except SelectorSyntaxError:
        pass  # not a complete expression either: report the refused token
    ends = error_pos >= len(text)
    raise SelectorSyntaxError(
        f"expected {_describe_expected(expected)} {_after(history)}" + (", but the selector ends" if ends else ""),
        text,
        error_pos,
    )


def parse(text: str, max_length: int = DEFAULT_MAX_LENGTH, max_depth: int = DEFAULT_MAX_DEPTH) -> ast.Node:
    """Parse ``text`` into a checked node tree, or raise :class:`SelectorSyntaxError`.

    >>> str(parse("TAGS in ('TagA','TagC') and baiLi between 0 and 3"))
    "TAGS IN ('TagA', 'TagC') AND baiLi BETWEEN 0 AND 3"
    >>> str(parse("a = 1 garbage"))
    'a = 1'
    >>> parse("a IN (1)")
    Traceback (most recent call last):
    ...
    rmqcore.filter.errors.SelectorSyntaxError: expected a string literal after IN ( at column 7
    """
    if not isinstance(text, str):
        raise TypeError(f"a selector is a str, not {type(text).__name__}")
    if not text.strip(" \t\n\r\f"):
        raise SelectorSyntaxError("the selector is empty", text, None)
    if len(text) > max_length:
        raise SelectorSyntaxError(f"the selector is {len(text)} characters long; the limit is {max_length}", text, None)
    try:
        node = _parse_prefix(text, allow_trailing=True)
    except _CheckFailed as failed:
        raise SelectorSyntaxError(failed.reason, text, failed.position) from None
    if node.depth > max_depth:
        raise SelectorSyntaxError(f"the selector is nested {node.depth} levels deep; the limit is {max_depth}", text, None)
    return node
