"""The property-string codec (reference section 4, "Properties string").

Each pair is ``key \\x01 value \\x02``; on decode, entries with an empty key or
an empty value are dropped, as ``MessageDecoder.string2messageProperties`` does.
"""

from __future__ import annotations

from collections.abc import Mapping

NAME_VALUE_SEPARATOR = "\x01"
PROPERTY_SEPARATOR = "\x02"


def encode_properties(properties: Mapping[str, str]) -> str:
    """Encode ``properties`` to RocketMQ's property string.

    >>> encode_properties({"TAGS": "TagA", "KEYS": "k1"})
    'TAGS\\x01TagA\\x02KEYS\\x01k1\\x02'
    """
    if not properties:
        return ""
    return "".join([f"{k}\x01{v}\x02" for k, v in properties.items() if v is not None])


def decode_properties(text: str) -> dict[str, str]:
    """Decode a property string; pairs with an empty key or value are dropped.

    >>> decode_properties('TAGS\\x01TagA\\x02EMPTY\\x01\\x02')
    {'TAGS': 'TagA'}
    """
    result: dict[str, str] = {}
    if not text:
        return result
    for item in text.split("\x02"):
        key, sep, value = item.partition("\x01")
        if sep and key and value:
            result[key] = value
    return result


def encode_properties_bytes(properties: Mapping[str, str]) -> bytes:
    return encode_properties(properties).encode("utf-8")


def decode_properties_bytes(data: bytes) -> dict[str, str]:
    return decode_properties(data.decode("utf-8", errors="replace"))
