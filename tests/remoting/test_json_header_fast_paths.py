"""The JSON header's fast paths (plain ints, known language names, the language-name lookup
on encode) give exactly what the general field readers give, defects included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rmqcore.remoting import FrameError, LanguageCode, RemotingCommand
from rmqcore.remoting.json_header import _int_field, _language, decode_json_header, encode_json_header

CASES: list[dict[str, Any]] = [
    {"code": 10, "language": "JAVA", "version": 479, "opaque": 7, "flag": 0},
    {"code": 10, "language": "CPP", "opaque": 2**31 - 1, "flag": 1},
    {"code": -(2**31), "language": "NODE_JS", "version": -1, "opaque": -5, "flag": 2},
    {"code": "10", "language": "PYTHON", "version": "479", "opaque": "3", "flag": "1"},
    {"code": 10, "language": 0, "opaque": 1},  # language as a code
    {"code": 10, "language": 12},
    {"code": 10, "language": 9999},
    {"code": 10, "language": "SOMETHING_NEW"},
    {"code": 10, "language": None, "version": None, "opaque": None, "flag": None},
    {"code": 10},
    {"code": 2**31},
    {"code": 10, "opaque": 2**31},
    {"code": 10, "flag": -(2**31) - 1},
    {"code": True},
    {"code": 10, "version": False},
    {"code": 10, "opaque": 1.5},
    {"code": 10, "flag": "x"},
    {"code": 10, "language": ["JAVA"]},
    {"code": 10, "language": True},
    {"opaque": 1},
    {"code": "x", "language": ["bad"], "opaque": "y"},  # several defects: the code is reported
    {"code": 10, "language": {"a": 1}, "opaque": "y"},  # then the language
]


def _reference(header: dict[str, Any]) -> tuple[Any, ...]:
    """What decode_json_header returned before its fast paths: each field through its reader."""
    return (
        _int_field(header, "code", None),
        _language(header.get("language")),
        _int_field(header, "version", 0),
        _int_field(header, "opaque", 0),
        _int_field(header, "flag", 0),
    )


@pytest.mark.parametrize("header", CASES, ids=[json.dumps(c) for c in CASES])
def test_decode_matches_the_general_readers(header: dict[str, Any]) -> None:
    data = json.dumps(header).encode()
    try:
        expected: Any = _reference(header)
    except FrameError as exc:
        with pytest.raises(FrameError) as got:
            decode_json_header(data)
        assert str(got.value) == str(exc)
        return
    cmd = decode_json_header(data)
    assert (cmd.code, cmd.language, cmd.version, cmd.opaque, cmd.flag) == expected
    assert type(cmd.language) is LanguageCode


@pytest.mark.parametrize("language", [*LanguageCode, 0, 12, 9999, -1])
def test_encode_language_name(language: Any) -> None:
    name = language.name if isinstance(language, LanguageCode) else (
        LanguageCode(language).name if language in {int(x) for x in LanguageCode} else "OTHER"
    )
    data = encode_json_header(RemotingCommand(code=10, language=language))
    assert json.loads(data)["language"] == name
