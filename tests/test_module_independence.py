"""Pieces import only the shared message model, the clock and their own files.

The server and client compose pieces; a piece never imports another piece, the
server or the client, so each can be reused alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rmqcore

ROOT = Path(rmqcore.__file__).resolve().parent
PIECES = ["store", "filter", "timer", "transaction", "rebalance", "remoting"]
SHARED = {"rmqcore", "rmqcore.message", "rmqcore.clock"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "rmqcore" or name.startswith("rmqcore.")}


@pytest.mark.parametrize("piece", PIECES)
def test_piece_imports_only_message_clock_and_itself(piece: str) -> None:
    package = ROOT / piece
    if not package.exists():
        pytest.skip(f"rmqcore.{piece} is not part of this build")
    own = f"rmqcore.{piece}"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for name in _imports(path):
            allowed = name in SHARED or any(name == s or name.startswith(s + ".") for s in SHARED - {"rmqcore"}) or name == own or name.startswith(own + ".")
            if not allowed:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "pieces must not import other pieces:\n" + "\n".join(offenders)
