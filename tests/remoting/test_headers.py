"""Typed custom headers: round-trips of every class, leniency, and typed errors."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.remoting import (
    HeaderError,
    RemotingCommand,
    RequestCode,
    ResponseCode,
    SerializeType,
    decode_frame,
    encode_command,
    make_error_response,
    make_request,
    make_response,
)
from rmqcore.remoting.headers import (
    REQUEST_HEADER_CLASSES,
    REQUEST_HEADERS,
    RESPONSE_HEADER_CLASSES,
    CreateTopicRequestHeader,
    ExtHeader,
    PullMessageRequestHeader,
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
    UnregisterClientRequestHeader,
    decode_send_request_header,
    encode_send_request_ext,
)

ALL_HEADERS = REQUEST_HEADER_CLASSES + RESPONSE_HEADER_CLASSES
_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
_long = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_int = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def _strategy_for(annotation: typing.Any, optional: bool, bits: int | None = None) -> st.SearchStrategy[typing.Any]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if args else annotation
    inner = {str: _text, int: _int if bits == 32 else _long, bool: st.booleans()}[base]
    return st.one_of(st.none(), inner) if optional and type(None) in typing.get_args(annotation) else inner


def headers_of(cls: type[ExtHeader]) -> st.SearchStrategy[ExtHeader]:
    hints = typing.get_type_hints(cls)
    widths = cls.int_widths()
    kwargs = {f.name: _strategy_for(hints[f.name], True, widths.get(f.name)) for f in dataclasses.fields(cls)}
    return st.builds(cls, **kwargs)


@pytest.mark.parametrize("cls", ALL_HEADERS, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_header_round_trips_through_ext_and_both_serializations(cls: type[ExtHeader], data: st.DataObject) -> None:
    header = data.draw(headers_of(cls))
    ext = header.to_ext()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in ext.items())
    assert cls.from_ext(ext) == header
    for stype in SerializeType:
        cmd = make_request(1, header, serialize_type=stype)
        assert cls.from_ext(decode_frame(encode_command(cmd)).ext_fields) == header


@pytest.mark.parametrize("cls", ALL_HEADERS, ids=lambda c: c.__name__)
def test_every_required_key_is_checked(cls: type[ExtHeader]) -> None:
    hints = typing.get_type_hints(cls)
    sample = {}
    for f in dataclasses.fields(cls):
        kind = [a for a in typing.get_args(hints[f.name]) if a is not type(None)] or [hints[f.name]]
        sample[f.name] = {str: "s", int: 1, bool: True}[kind[0]]
    ext = cls(**sample).to_ext()
    for key in cls.required_keys():
        partial = {k: v for k, v in ext.items() if k != key}
        with pytest.raises(HeaderError) as info:
            cls.from_ext(partial)
        assert info.value.key == key
        assert key in info.value.remark
        assert info.value.response_code == ResponseCode.SYSTEM_ERROR


def test_request_code_table_covers_the_brief() -> None:
    wanted = [10, 310, 320, 11, 361, 12, 33, 14, 15, 17, 29, 30, 31, 32, 35, 36, 37, 38, 39, 40, 100, 101, 102,
              103, 104, 105, 224, 307, 309, 322, 904]  # fmt: skip
    assert sorted(wanted) == sorted(c for c in wanted if c in REQUEST_HEADERS)


@settings(max_examples=200, deadline=None)
@given(headers_of(SendMessageRequestHeader))
def test_send_v1_v2_conversion(header: SendMessageRequestHeader) -> None:
    v2 = header.to_v2()
    assert isinstance(v2, SendMessageRequestHeaderV2)
    assert v2.to_v1() == header
    assert SendMessageRequestHeaderV2.from_v1(header) == v2
    assert decode_send_request_header(RequestCode.SEND_MESSAGE_V2, v2.to_ext()) == header
    assert decode_send_request_header(RequestCode.SEND_BATCH_MESSAGE, encode_send_request_ext(header)) == header
    assert decode_send_request_header(RequestCode.SEND_MESSAGE, encode_send_request_ext(header, v2=False)) == header


def test_v2_keys_are_single_letters() -> None:
    header = SendMessageRequestHeaderV2("PG", "T", "TBW102", 4, 1, 0, 1700000000000, 0, "P", 0, False, 16, True, "b")
    assert header.to_ext() == {
        "a": "PG", "b": "T", "c": "TBW102", "d": "4", "e": "1", "f": "0", "g": "1700000000000", "h": "0",
        "i": "P", "j": "0", "k": "false", "l": "16", "m": "true", "n": "b",
    }  # fmt: skip


def test_json_numbers_and_booleans_accepted_everywhere() -> None:
    ext = {"a": "PG", "b": "T", "c": "TBW102", "d": 4, "e": -1, "f": 0, "g": 1700000000000, "h": 0, "k": True, "m": "TRUE"}
    header = decode_send_request_header(310, ext)
    assert (header.default_topic_queue_nums, header.queue_id, header.unit_mode, header.batch) == (4, -1, True, True)
    assert header.properties is None


def test_base_keys_and_unknown_keys_are_ignored() -> None:
    ext = PullMessageRequestHeader("CG", "T", 1, 2, 32, 0, 0, 0, 0).to_ext()
    ext.update({"ns": "x", "nsd": "true", "oway": "false", "lo": "true", "AccessKey": "", "Signature": "sig"})
    assert PullMessageRequestHeader.from_ext(ext).topic == "T"


def test_unparsable_number_names_the_field() -> None:
    ext = PullMessageRequestHeader("CG", "T", 1, 2, 32, 0, 0, 0, 0).to_ext()
    ext["queueOffset"] = "12x"
    with pytest.raises(HeaderError) as info:
        PullMessageRequestHeader.from_ext(ext)
    assert info.value.key == "queueOffset"
    assert "queueOffset" in info.value.remark
    response = make_error_response(RemotingCommand(code=11, opaque=77), info.value)
    assert (response.code, response.opaque, response.is_response) == (ResponseCode.SYSTEM_ERROR, 77, True)
    assert "queueOffset" in (response.remark or "")


def test_java_boolean_parsing() -> None:
    base = CreateTopicRequestHeader("T", "TBW102", 8, 8, 6, "SINGLE_TAG").to_ext()
    for raw, expected in [("true", True), ("TRUE", True), ("false", False), ("yes", False), ("1", False), (1, True)]:
        assert CreateTopicRequestHeader.from_ext({**base, "order": raw}).order is expected


def test_unregister_client_uses_java_key_spelling() -> None:
    assert UnregisterClientRequestHeader("cid").to_ext() == {"clientID": "cid"}


def test_response_header_attaches_to_response() -> None:
    request = make_request(310, {"a": "PG"}, opaque=9)
    response = make_response(request, ResponseCode.SUCCESS, ext=SendMessageResponseHeader("ID", 1, 10, "UK"))
    assert response.ext_fields == {"msgId": "ID", "queueId": "1", "queueOffset": "10", "transactionId": "UK"}
    back = SendMessageResponseHeader.from_ext(decode_frame(encode_command(response)).ext_fields)
    assert back == SendMessageResponseHeader("ID", 1, 10, "UK")


def test_not_a_send_code() -> None:
    with pytest.raises(HeaderError):
        decode_send_request_header(11, {})
