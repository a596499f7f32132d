"""rmqcore.remoting stays sans-IO: no sockets, no event loops, only the message model, stdlib and structlog."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import rmqcore.remoting

PACKAGE = Path(rmqcore.remoting.__file__).resolve().parent
FORBIDDEN = {"socket", "asyncio", "anyio", "selectors", "ssl", "trio", "threading_io"}


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_imports_are_stdlib_structlog_message_or_own() -> None:
    offenders = []
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for name in _imported_modules(path):
            top = name.split(".")[0]
            if top in FORBIDDEN:
                offenders.append(f"{path.name}: {name} (I/O)")
            elif top == "rmqcore":
                if not (name.startswith("rmqcore.remoting") or name.startswith("rmqcore.message")):
                    offenders.append(f"{path.name}: {name}")
            elif top != "structlog" and top not in sys.stdlib_module_names and top != "__future__":
                offenders.append(f"{path.name}: {name} (third party)")
    assert not offenders, offenders
