"""The C JSON header codec (csrc/json_header.c) against the Python one.

``encode_json_header``, ``decode_common_json_header`` and ``decode_json_header`` use the C
extension when it is built; the ``_py`` functions are the interpreter's references. Encoding must give the same bytes (or the same error); decoding must give the
same command, and the C parser may only decline (None), never disagree, on any input:
headers as fastjson, the C++ clients and json.dumps write them, reordered, spaced, escaped,
with repeated or unknown fields, odd numbers, invalid UTF-8, cut short or damaged.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmqcore.remoting import LanguageCode, RemotingCommand, RequestCode, json_header
from rmqcore.remoting.json_header import (
    decode_common_json_header,
    decode_common_json_header_py,
    decode_json_header,
    decode_json_header_py,
    encode_json_header,
    encode_json_header_py,
)

pytestmark = pytest.mark.skipif(json_header._c_encode is None, reason="the C header codec is not built")

# Text that stresses the escapes: quotes, backslashes, control characters (the property
# separators \x01 and \x02 among them), non-ASCII and characters outside the BMP.
text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('"\\/\x00\x01\x02\x1f\x7f\b\f\n\r\t é中😀')), st.characters(blacklist_categories=("Cs",))
    ),
    max_size=20,
)
int32 = st.integers(-(2**31), 2**31 - 1)
any_int = st.one_of(int32, st.integers(-(2**70), 2**70))


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the same error type is what must match
        return "raised", type(exc)


commands = st.builds(
    RemotingCommand,
    code=st.one_of(any_int, st.sampled_from(list(RequestCode))),
    language=st.one_of(st.sampled_from(list(LanguageCode)), st.integers(-3, 20)),
    version=any_int,
    opaque=any_int,
    flag=st.one_of(int32, st.booleans()),
    remark=st.one_of(st.none(), text),
    ext_fields=st.one_of(st.dictionaries(text, text, max_size=8), st.just({})),
)


@settings(max_examples=800, deadline=None)
@given(commands)
def test_encode_writes_the_same_bytes(cmd: RemotingCommand) -> None:
    assert outcome(encode_json_header, cmd) == outcome(encode_json_header_py, cmd)


@pytest.mark.parametrize(
    "cmd",
    [
        RemotingCommand(code=10, ext_fields={"a": 1}),  # type: ignore[dict-item]  # a non-str value
        RemotingCommand(code=10, ext_fields={"a": "\ud800"}),  # a lone surrogate
        RemotingCommand(code=10, remark="\udfff"),
        RemotingCommand(code=1.0, opaque=3),  # type: ignore[arg-type]
        RemotingCommand(code=10, ext_fields=None),  # type: ignore[arg-type]
        RemotingCommand(code=10, ext_fields={"k": "v" * 5000 for _ in range(1)} | {f"k{i}": str(i) for i in range(100)}),
    ],
)
def test_encode_declines_to_python_for_other_fields(cmd: RemotingCommand) -> None:
    assert outcome(encode_json_header, cmd) == outcome(encode_json_header_py, cmd)


# --- decoding ----------------------------------------------------------------------------------

field_values = st.fixed_dictionaries(
    {"code": st.one_of(int32, st.integers(2**31, 2**40), st.just(1.5), st.just(True), st.just("10"), st.none())},
    optional={
        "extFields": st.one_of(st.dictionaries(text, text, max_size=6), st.dictionaries(text, st.integers(), max_size=2), st.none()),
        "flag": st.one_of(int32, st.just(-0), st.just(2.0)),
        "language": st.one_of(st.sampled_from([lang.name for lang in LanguageCode]), st.just("NEW"), st.just(3)),
        "opaque": int32,
        "remark": st.one_of(st.none(), text, st.just(5)),
        "serializeTypeCurrentRPC": st.sampled_from(["JSON", "ROCKETMQ", 0]),
        "version": st.one_of(int32, st.none()),
        "other": st.one_of(st.just(1), st.just([1, {"a": None}])),
    },
)


common_values = st.fixed_dictionaries(
    {"code": int32, "extFields": st.dictionaries(text, text, max_size=8), "language": st.sampled_from([lang.name for lang in LanguageCode])},
    optional={
        "flag": int32, "opaque": int32, "version": int32, "remark": st.one_of(st.none(), text),
        "serializeTypeCurrentRPC": st.just("JSON"),
    },
)  # fmt: skip


@st.composite
def headers(draw: Any) -> bytes:
    # Mostly the common shape, which the C parser takes; the rest mixes in every oddity.
    fields = draw(st.one_of(common_values, common_values, field_values))
    if draw(st.booleans()):  # fastjson's order and separators, as clients and the broker send
        fields.setdefault("extFields", {})
        fields.setdefault("language", "JAVA")
        keys = sorted(fields)
    else:
        keys = draw(st.permutations(sorted(fields)))
    ordered = {k: fields[k] for k in keys}
    style = draw(st.sampled_from(["compact", "compact", "ascii", "spaced", "newline"]))
    if style == "spaced":
        out = json.dumps(ordered, ensure_ascii=False)
    else:
        out = json.dumps(ordered, ensure_ascii=style == "ascii", separators=(",", ":"))
        if style == "newline":
            out += "\n"  # the C++ 1.x client's trailing newline
    if draw(st.integers(0, 9)) == 0 and len(keys) > 1:  # a repeated field
        first = keys[0]
        out = out[:-1] + "," + json.dumps(first) + ":" + json.dumps(fields[first]) + "}"
    return out.encode("utf-8", "surrogatepass")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers(), st.data())
def test_decode_gives_the_same_command_or_declines(data: bytes, more: st.DataObject) -> None:
    check_decode(data)
    cut = more.draw(st.integers(0, len(data)))
    check_decode(data[:cut])
    damaged = bytearray(data)
    damaged[more.draw(st.integers(0, len(data) - 1))] = more.draw(st.integers(0, 255))
    check_decode(bytes(damaged))


def check_decode(data: bytes) -> None:
    reference = outcome(decode_common_json_header_py, data)
    c_result = json_header._c_decode_common(data)  # type: ignore[misc]
    if c_result is not None:
        assert ("ok", c_result) == reference
        assert type(c_result.language) is LanguageCode and type(c_result.ext_fields) is dict
    assert outcome(decode_common_json_header, data) == reference
    general = outcome(decode_json_header_py, data)  # every shape; FrameError for a defect
    assert outcome(decode_json_header, data) == general
    if c_result is not None:
        assert general == ("ok", c_result)


def test_decode_takes_what_clients_send() -> None:
    """The headers the C parser exists for: no fallback to Python on these."""
    send = encode_json_header_py(
        RemotingCommand(
            code=RequestCode.SEND_MESSAGE_V2, opaque=9,
            ext_fields={"a": "PG", "b": "T", "i": "TAGS\x01A\x02UNIQ_KEY\x01C0A8\x02", "p": "标签😀"},
        )  # fmt: skip
    )
    response = encode_json_header_py(RemotingCommand(code=0, flag=1, opaque=9, remark=None, ext_fields={"msgId": "X"}))
    cpp = b'{"code":310,"extFields":{"b":"T"},"flag":0,"language":"CPP","opaque":4,"serializeTypeCurrentRPC":"JSON","version":333}'
    for data in (send, response, cpp):
        cmd = json_header._c_decode_common(data)  # type: ignore[misc]
        assert cmd is not None and cmd == decode_common_json_header_py(data)
    assert json_header._c_decode_common(send).ext_fields["i"] == "TAGS\x01A\x02UNIQ_KEY\x01C0A8\x02"  # type: ignore[misc]


def test_decode_surrogate_escapes() -> None:
    pair = b'{"code":1,"extFields":{"k":"\\ud83d\\ude00"},"language":"JAVA"}'
    lone = b'{"code":1,"extFields":{"k":"\\ud83d"},"language":"JAVA"}'
    assert json_header._c_decode_common(pair).ext_fields == {"k": "😀"}  # type: ignore[misc]
    assert json_header._c_decode_common(lone) is None  # type: ignore[misc]  # declined: Python keeps the lone surrogate
    for data in (pair, lone):
        check_decode(data)


def test_random_bytes_never_disagree() -> None:
    rnd = random.Random(11)
    seed = b'{"code":310,"extFields":{"a":"PG","i":"TAGS\\u0001A\\u0002"},"flag":0,"language":"JAVA","opaque":1,"version":479}'
    for _ in range(3000):
        data = bytearray(seed)
        for _ in range(rnd.randrange(1, 4)):
            data[rnd.randrange(len(data))] = rnd.choice(b'{}[]":,\\u0123456789-.eE \x00\xff\xc3a')
        check_decode(bytes(data))


@pytest.mark.usefixtures("collector_at_threshold_one")
def test_collections_during_parses_do_not_disturb_them() -> None:
    """Finalizers run by a garbage collection in the middle of a parse (allocations can start
    one) may parse other headers; each parse keeps its own working state."""
    import gc

    header = encode_json_header_py(RemotingCommand(code=10, ext_fields={f"k{i}": "\x01" * (40 + i) for i in range(30)}))
    other = encode_json_header_py(RemotingCommand(code=11, ext_fields={"z": "\x02" * 3000}))
    expected, expected_other = decode_common_json_header_py(header), decode_common_json_header_py(other)
    seen: list[Any] = []

    class Cycle:
        def __del__(self) -> None:
            seen.append(json_header._c_decode_common(other))  # type: ignore[misc]

    for _ in range(300):
        cycle = Cycle()
        cycle.me = cycle  # type: ignore[attr-defined]
        del cycle
        assert json_header._c_decode_common(header) == expected  # type: ignore[misc]
    gc.collect()
    assert seen and all(got == expected_other for got in seen)
