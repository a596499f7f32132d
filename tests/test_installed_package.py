"""The installed wheel carries what the source tree has: the C extension and the grammar.

``scripts/test.sh`` installs rmqcore as a wheel (not editable), so in CI these checks
look at site-packages; in an editable development install they are skipped.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

import rmqcore

PACKAGE_DIR = Path(rmqcore.__file__).resolve().parent
INSTALLED = "site-packages" in PACKAGE_DIR.parts


def test_tests_import_rmqcore_from_outside_the_source_tree() -> None:
    repo_src = Path(__file__).resolve().parents[1] / "src"
    if not INSTALLED:
        pytest.skip("editable development install: rmqcore comes from src/")
    assert repo_src not in PACKAGE_DIR.parents


@pytest.mark.skipif(not INSTALLED, reason="editable development install")
def test_wheel_contains_grammar_native_extension_and_py_typed() -> None:
    files = importlib.resources.files("rmqcore")
    assert (files / "_grammar" / "sql92.lark").is_file()
    assert (files / "py.typed").is_file()
    assert list((PACKAGE_DIR / "store").glob("_native*.so"))
    assert list((PACKAGE_DIR / "message").glob("_stored_decode*.so"))
    assert (files / "message" / "_stored_decode.pyi").is_file()
    assert list((PACKAGE_DIR / "store").glob("_batch_gather*.so"))
    assert (files / "store" / "_batch_gather.pyi").is_file()
    assert list((PACKAGE_DIR / "store").glob("_put_path*.so"))
    assert (files / "store" / "_put_path.pyi").is_file()


def test_message_decoder_extension_is_used() -> None:
    from rmqcore.message import codec

    assert codec._decode_into is not None, "rmqcore.message._stored_decode did not build or load"


def test_batch_gather_extension_is_used() -> None:
    from rmqcore.store import message_store

    assert message_store._gather is not None, "rmqcore.store._batch_gather did not build or load"


def test_put_path_extension_is_used() -> None:
    from rmqcore.store import message_store

    assert message_store._put_path is not None, "rmqcore.store._put_path did not build or load"


def test_native_store_extension_loads_and_computes_crc() -> None:
    import zlib

    from rmqcore.store import _native

    data = b"The quick brown fox jumps over the lazy dog" * 3
    assert _native.lib.rmq_crc32(0, data, len(data)) == zlib.crc32(data)
