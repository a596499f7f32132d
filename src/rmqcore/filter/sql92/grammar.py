"""Loading ``sql92.lark`` and building the Lark LALR parser with its contextual lexer.

The grammar ships inside the installed package as ``rmqcore/_grammar/sql92.lark``
(setup.py copies ``grammar/*.lark`` there); in an editable checkout it is only in
the repository's ``grammar/`` directory, so that is the fallback.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from lark import Lark, Token

GRAMMAR_FILE = "sql92.lark"

# Reserved words, case-insensitive (reference section 6, "Lexical"); 4.9.x lacks the last three.
KEYWORDS = frozenset(
    {"NOT", "AND", "OR", "BETWEEN", "IN", "TRUE", "FALSE", "NULL", "IS", "CONTAINS", "STARTSWITH", "ENDSWITH"}
)


def grammar_text() -> str:
    """The grammar source: the packaged copy first, else the repository's ``grammar/`` file.

    >>> "start: or_expr" in grammar_text()
    True
    """
    try:
        packaged = importlib.resources.files("rmqcore") / "_grammar" / GRAMMAR_FILE
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError):
        pass
    # src/rmqcore/filter/sql92/grammar.py -> repository root is four levels above this directory.
    repo_file = Path(__file__).resolve().parents[4] / "grammar" / GRAMMAR_FILE
    if repo_file.is_file():
        return repo_file.read_text(encoding="utf-8")
    raise FileNotFoundError(f"{GRAMMAR_FILE} is neither packaged in rmqcore/_grammar nor at {repo_file}")


class KeywordPostLexer:
    """Turns each WORD into a keyword token or an ID, after longest-match lexing.

    Lark's contextual lexer only tries the terminals the current parser state can
    take; WORD is always tried (``always_accept``) so that ``inx`` is one identifier
    even where ``IN`` is expected, as with JavaCC's longest match.
    """

    always_accept = ("WORD",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        for token in stream:
            if token.type == "WORD":
                upper = token.value.upper()
                token.type = upper if upper in KEYWORDS else "ID"
            yield token


@cache
def build_parser(transformer_factory: Callable[[], object]) -> Lark:
    """One Lark LALR parser per transformer class (tree callbacks run at each reduction)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        postlex=KeywordPostLexer(),
        transformer=transformer_factory(),
        maybe_placeholders=False,
        propagate_positions=False,
    )
