"""The JSON header (reference section 1, serialize type 0).

Emitted like Java's fastjson: fields in alphabetical order (``code, extFields,
flag, language, opaque, remark, serializeTypeCurrentRPC, version``), null fields
omitted, compact separators, non-ASCII left as UTF-8, so section 1's golden
example matches byte for byte. Accepted: any field order, a trailing ``\\n``
inside the header (C++ 1.x, section 13), ``language`` as a name or an int, and
extFields values as JSON numbers or booleans (stringified as Java's
``toString()`` would, section 13).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rmqcore.remoting.codes import LanguageCode, SerializeType
from rmqcore.remoting.command import RemotingCommand
from rmqcore.remoting.errors import FrameError

from json.encoder import encode_basestring as _quote  # the C string escaper json.dumps(ensure_ascii=False) uses

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_raw_decode = json.JSONDecoder().raw_decode
_WHITESPACE = " \t\n\r"
_LANGUAGE_BY_NAME = {lang.name: lang for lang in LanguageCode}
_LANGUAGE_BY_VALUE = {int(lang): lang for lang in LanguageCode}
# Enum ``.name`` is a descriptor call; a dict keyed by the (int-equal) members is one lookup.
_LANGUAGE_NAME = {int(lang): lang.name for lang in LanguageCode}
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def encode_json_header(cmd: RemotingCommand) -> bytes:
    """The JSON header bytes of ``cmd`` (without the frame prefix).

    Written in C (``rmqcore.remoting._json_header``) when the extension is built and the
    fields are the plain kind (ints, str to str extFields, str or None remark); else by
    :func:`encode_json_header_py`. Same bytes either way.

    >>> encode_json_header(RemotingCommand(code=105, opaque=1, ext_fields={"topic": "TopicTest"}))
    b'{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}'
    """
    if _c_encode is not None:
        out = _c_encode(
            cmd.code, cmd.ext_fields, cmd.flag, _LANGUAGE_NAME.get(cmd.language, "OTHER"), cmd.opaque, cmd.remark, cmd.version
        )
        if out is not None:
            return out
    return encode_json_header_py(cmd)


def encode_json_header_py(cmd: RemotingCommand) -> bytes:
    """:func:`encode_json_header` in the interpreter: the reference for the C encoder."""
    lang_name = _LANGUAGE_NAME.get(cmd.language, "OTHER")
    ext = cmd.ext_fields
    if ext:
        # Hand-joined: faster than the generic encoder for a flat str->str map, same bytes.
        try:
            ext_part = '"extFields":{' + ",".join([_quote(k) + ":" + _quote(v) for k, v in ext.items()]) + "},"
        except TypeError:  # a non-str value slipped in; render it as Java would
            ext_part = f'"extFields":{_dumps({k: java_string(v) for k, v in ext.items()})},'
    else:
        ext_part = ""
    remark_part = f'"remark":{_quote(cmd.remark)},' if cmd.remark is not None else ""
    text = (
        f'{{"code":{int(cmd.code)},{ext_part}"flag":{int(cmd.flag)},"language":"{lang_name}",'
        f'"opaque":{int(cmd.opaque)},{remark_part}"serializeTypeCurrentRPC":"JSON","version":{int(cmd.version)}}}'
    )
    return text.encode("utf-8")


def java_string(value: Any) -> str | None:
    """A JSON scalar as Java's ``toString()`` would render it; ``None`` stays ``None``.

    >>> [java_string(v) for v in ("x", 5, True, False, None)]
    ['x', '5', 'true', 'false', None]
    """
    if value is None or isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return _dumps(value)
    return str(value)


def _int_field(header: dict[str, Any], name: str, default: int | None) -> int:
    value = header.get(name)
    if value.__class__ is int and _INT32_MIN <= value <= _INT32_MAX:
        return value  # type: ignore[no-any-return]
    if value is None:
        if default is None:
            raise FrameError(f"JSON header has no {name!r}")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise FrameError(f"JSON header field {name!r} is not an integer: {value!r}")
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise FrameError(f"JSON header field {name!r} is not an integer: {value!r}") from None
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise FrameError(f"JSON header field {name!r} is out of the int range: {value}")
    return value


def _language(value: Any) -> LanguageCode:
    if value is None:
        return LanguageCode.JAVA
    if isinstance(value, str):
        # Unknown names (a newer client) are not worth dropping the connection for.
        return _LANGUAGE_BY_NAME.get(value, LanguageCode.OTHER)
    if isinstance(value, int) and not isinstance(value, bool):
        return _LANGUAGE_BY_VALUE.get(value, LanguageCode.OTHER)
    raise FrameError(f"JSON header field 'language' is neither a name nor a code: {value!r}")


def decode_json_header(data: bytes | bytearray | memoryview) -> RemotingCommand:
    """Parse a JSON header into a command without body; any defect raises ``FrameError``.

    >>> cmd = decode_json_header(b'{"opaque":3,"code":10,"language":"CPP","extFields":{"queueId":2,"batch":false}}\\n')
    >>> (cmd.code, cmd.opaque, cmd.language.name, cmd.ext_fields)
    (10, 3, 'CPP', {'queueId': '2', 'batch': 'false'})
    """
    if _c_decode_common is not None and data.__class__ is bytes:
        # A header of the common shape decodes to the same command either way (the contract
        # of decode_common_json_header): let the C parser have it first.
        cmd = _c_decode_common(data)  # type: ignore[arg-type]
        if cmd is not None:
            return cmd
    return decode_json_header_py(data)


def decode_json_header_py(data: bytes | bytearray | memoryview) -> RemotingCommand:
    """:func:`decode_json_header` in the interpreter only (every header shape, every defect)."""
    try:
        text = bytes(data).decode("utf-8") if data.__class__ is not bytes else data.decode("utf-8")  # type: ignore[union-attr]
        if text[:1] in _WHITESPACE:  # rare (and empty text); raw_decode rejects leading blanks
            text = text.strip(_WHITESPACE)
        # raw_decode skips json.loads' encoding sniffing and end check; the end check is done here.
        header, end = _raw_decode(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise FrameError(f"unparsable JSON header: {exc}") from None
    if end != len(text) and text[end:].strip(_WHITESPACE):
        raise FrameError("unparsable JSON header: trailing data after the object")
    if not isinstance(header, dict):
        raise FrameError(f"JSON header is not an object but {type(header).__name__}")
    raw_ext = header.get("extFields")
    ext: dict[str, str]
    if raw_ext is None:
        ext = {}
    elif isinstance(raw_ext, dict):
        ext = raw_ext
        for value in raw_ext.values():
            if value.__class__ is not str:
                # Rare path (section 13: numbers/booleans); rebuild once with Java renderings.
                ext = {k: s for k, v in raw_ext.items() if (s := java_string(v)) is not None}
                break
    else:
        raise FrameError(f"JSON header extFields is not an object: {type(raw_ext).__name__}")
    remark = header.get("remark")
    if remark is not None and not isinstance(remark, str):
        remark = java_string(remark)
    get = header.get
    # Plain in-range ints and known language names (what every client sends) skip the
    # general checks; the fields are checked in the same order as before, so a header
    # with several defects still reports the same one.
    code = get("code")
    if code.__class__ is not int or not _INT32_MIN <= code <= _INT32_MAX:
        code = _int_field(header, "code", None)
    language = get("language")
    language = _LANGUAGE_BY_NAME.get(language) if language.__class__ is str else None
    if language is None:
        language = _language(get("language"))
    version = get("version", 0)
    if version.__class__ is not int or not _INT32_MIN <= version <= _INT32_MAX:
        version = _int_field(header, "version", 0)
    opaque = get("opaque", 0)
    if opaque.__class__ is not int or not _INT32_MIN <= opaque <= _INT32_MAX:
        opaque = _int_field(header, "opaque", 0)
    flag = get("flag", 0)
    if flag.__class__ is not int or not _INT32_MIN <= flag <= _INT32_MAX:
        flag = _int_field(header, "flag", 0)
    return RemotingCommand(
        code=code,
        language=language,
        version=version,
        opaque=opaque,
        flag=flag,
        remark=remark,
        ext_fields=ext,
        body=None,
        serialize_type=SerializeType.JSON,
    )


# what raw_decode runs, without its whitespace skip (set in JSONDecoder.__init__; the stubs omit it)
_scan_object = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def decode_common_json_header(data: bytes) -> RemotingCommand | None:
    """The command :func:`decode_json_header` returns for a header in the shape clients send,
    or ``None`` for any other header (then call ``decode_json_header``: it returns the same
    command or raises the ``FrameError``).

    Parsed in C (``rmqcore.remoting._json_header``) when the extension is built and the
    header has no whitespace, escapes or unknown fields; else by
    :func:`decode_common_json_header_py`. Same command either way.

    >>> cmd = decode_common_json_header(b'{"code":10,"extFields":{"b":"T"},"language":"CPP","opaque":3}')
    >>> (cmd.code, cmd.opaque, cmd.language.name, cmd.ext_fields)
    (10, 3, 'CPP', {'b': 'T'})
    """
    if _c_decode_common is not None:
        cmd = _c_decode_common(data)
        if cmd is not None:
            return cmd  # type: ignore[no-any-return]
    return decode_common_json_header_py(data)


def decode_common_json_header_py(data: bytes) -> RemotingCommand | None:
    """:func:`decode_common_json_header` in the interpreter: the reference for the C parser.

    The shape: a UTF-8 JSON object with nothing around it, an ``extFields`` object of string
    values, ``code`` and any of ``version``/``opaque``/``flag`` plain ints in the int range,
    a known ``language`` name, ``remark`` absent, null or a string. A request's fast path:
    it skips the whitespace handling, the stringification of non-string values and the
    per-field error checks that such a header does not need.

    >>> cmd = decode_common_json_header(b'{"code":10,"extFields":{"b":"T"},"language":"CPP","opaque":3}')
    >>> (cmd.code, cmd.opaque, cmd.language.name, cmd.ext_fields)
    (10, 3, 'CPP', {'b': 'T'})
    >>> decode_common_json_header(b'{"code":10,"extFields":{"queueId":2}}') is None
    True
    """
    try:
        text = data.decode("utf-8")
        header, end = _scan_object(text, 0)
    except (ValueError, RecursionError, StopIteration):
        return None
    if end != len(text) or header.__class__ is not dict:
        return None
    get = header.get
    ext = get("extFields")
    if ext.__class__ is not dict:
        return None
    for value in ext.values():
        if value.__class__ is not str:
            return None
    code = get("code")
    language = get("language")
    language = _LANGUAGE_BY_NAME.get(language) if language.__class__ is str else None
    version = get("version", 0)
    opaque = get("opaque", 0)
    flag = get("flag", 0)
    remark = get("remark")
    if (
        language is None
        or code.__class__ is not int
        or version.__class__ is not int
        or opaque.__class__ is not int
        or flag.__class__ is not int
        or not _INT32_MIN <= code <= _INT32_MAX
        or not _INT32_MIN <= version <= _INT32_MAX
        or not _INT32_MIN <= opaque <= _INT32_MAX
        or not _INT32_MIN <= flag <= _INT32_MAX
        or (remark is not None and remark.__class__ is not str)
    ):
        return None
    return RemotingCommand(
        code=code,
        language=language,
        version=version,
        opaque=opaque,
        flag=flag,
        remark=remark,
        ext_fields=ext,
        body=None,
        serialize_type=SerializeType.JSON,
    )


_c_encode: Callable[[int, dict[str, str] | None, int, str, int, str | None, int], bytes | None] | None
_c_decode_common: Callable[[bytes], RemotingCommand | None] | None
try:
    from rmqcore.remoting import _json_header

    _json_header.setup(RemotingCommand, _LANGUAGE_BY_NAME, SerializeType.JSON)
    _c_encode = _json_header.encode
    _c_decode_common = _json_header.decode_common
except ImportError:  # a source tree without the built extension
    _c_encode = _c_decode_common = None
