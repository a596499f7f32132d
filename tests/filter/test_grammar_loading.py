"""The SQL92 grammar is read from the installed package first, else from the repository."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from rmqcore.filter.sql92 import grammar

REPO_GRAMMAR = Path(__file__).resolve().parents[2] / "grammar" / "sql92.lark"


def test_packaged_grammar_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaged = tmp_path / "_grammar"
    packaged.mkdir()
    (packaged / "sql92.lark").write_text("// packaged copy\nstart: or_expr\n")
    monkeypatch.setattr(importlib.resources, "files", lambda package: tmp_path)
    assert grammar.grammar_text().startswith("// packaged copy")


@pytest.mark.skipif(
    "site-packages" in Path(grammar.__file__).resolve().parts,
    reason="installed wheel: there is no repository beside the package to fall back to",
)
def test_repository_grammar_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.resources, "files", lambda package: tmp_path)  # no _grammar/ there
    assert grammar.grammar_text() == REPO_GRAMMAR.read_text(encoding="utf-8")


def test_installed_grammar_is_the_repository_grammar() -> None:
    assert grammar.grammar_text() == REPO_GRAMMAR.read_text(encoding="utf-8")


def test_grammar_file_is_the_real_grammar() -> None:
    text = REPO_GRAMMAR.read_text(encoding="utf-8")
    assert "Placeholder" not in text
    for rule in ("or_expr", "and_expr", "eq_expr", "cmp_expr", "unary", "primary", "string_list"):
        assert rule in text


def test_keywords_are_the_5x_set() -> None:
    assert grammar.KEYWORDS == {
        "NOT", "AND", "OR", "BETWEEN", "IN", "TRUE", "FALSE", "NULL", "IS", "CONTAINS", "STARTSWITH", "ENDSWITH",
    }
