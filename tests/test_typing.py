"""rmqcore ships ``py.typed``: mypy, with the settings of ``[tool.mypy]`` in pyproject.toml,
reports no error in the source tree.

The check reads ``src/``, not the imported package, so it runs the same whether the suite
imports an editable install or the installed wheel (``scripts/test.sh``); it is skipped where
there is no source tree next to the tests, or no mypy (it comes with the ``dev`` extra).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGE = REPO_ROOT / "src" / "rmqcore"
# Below the suite's own 300 s per-test limit, so that a hung run fails with a message.
MYPY_TIMEOUT_S = 240


def test_mypy_reports_no_errors_in_the_source_tree(tmp_path: Path) -> None:
    if not (SOURCE_PACKAGE / "__init__.py").is_file() or not (REPO_ROOT / "pyproject.toml").is_file():
        pytest.skip(f"no rmqcore source tree at {REPO_ROOT}: nothing to type-check")
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed in this environment (it is in the dev extra)")
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache"), "src/rmqcore"]
    try:
        proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=MYPY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"mypy did not finish within {MYPY_TIMEOUT_S} s")
    assert proc.returncode == 0, f"mypy reports errors (exit status {proc.returncode}):\n{proc.stdout}{proc.stderr}"
