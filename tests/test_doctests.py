"""Every docstring example in the installed package runs."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rmqcore

_SKIP_PREFIXES = ("rmqcore.store._native",)


def _modules() -> list[str]:
    names = ["rmqcore"]
    for info in pkgutil.walk_packages(rmqcore.__path__, "rmqcore."):
        if not info.name.startswith(_SKIP_PREFIXES) and not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {module_name}"
