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


# Messages of one producer usually differ only in their UNIQ_KEY value (the same TAGS,
# KEYS, WAIT, CLUSTER ...), so a pull's worth of property strings has a handful of shapes:
# the string with that value cut out. Decoding the pairs costs ~0.9 us a message on these
# machines; copying the decoded dict of a known shape and setting UNIQ_KEY, about a third.
_UNIQ_PAIR = "UNIQ_KEY\x01"
_UNIQ_VALUE_AT = len(_UNIQ_PAIR)
_SHAPES_MAX = 512
_shapes: dict[str, dict[str, str]] = {}


def decode_properties_cached(text: str) -> dict[str, str]:
    """:func:`decode_properties`, with a bounded cache of decoded shapes (the string with the
    UNIQ_KEY value cut out); the result is a new dict, in the same order, with the same
    pairs. Strings without exactly one well-formed UNIQ_KEY pair are decoded directly.

    >>> a = decode_properties_cached('TAGS\x01A\x02UNIQ_KEY\x0101\x02WAIT\x01true\x02')
    >>> b = decode_properties_cached('TAGS\x01A\x02UNIQ_KEY\x0102\x02WAIT\x01true\x02')
    >>> b, b == decode_properties('TAGS\x01A\x02UNIQ_KEY\x0102\x02WAIT\x01true\x02')
    ({'TAGS': 'A', 'UNIQ_KEY': '02', 'WAIT': 'true'}, True)
    """
    i = text.find(_UNIQ_PAIR)
    # The pair must start an item (a key ending in "UNIQ_KEY" is another key), have a value,
    # and be the only one: with a second UNIQ_KEY pair the last would win.
    if i < 0 or (i and text[i - 1] != "\x02"):
        return decode_properties(text)
    v = i + _UNIQ_VALUE_AT
    j = text.find("\x02", v)
    if j < 0:
        j = len(text)
    if j == v or text.find(_UNIQ_PAIR, j) >= 0:
        return decode_properties(text)
    # The cut leaves an empty item where the pair was; empty items decode to nothing, so
    # every string of this shape decodes to the same pairs in the same order, UNIQ_KEY's
    # value aside.
    shape = text[:i] + text[j:]
    known = _shapes.get(shape)
    if known is None:
        result = decode_properties(text)
        if len(_shapes) >= _SHAPES_MAX:
            _shapes.clear()
        _shapes[shape] = result.copy()
        return result
    result = known.copy()
    result["UNIQ_KEY"] = text[v:j]
    return result


def encode_properties_bytes(properties: Mapping[str, str]) -> bytes:
    return encode_properties(properties).encode("utf-8")


def decode_properties_bytes(data: bytes) -> dict[str, str]:
    return decode_properties(data.decode("utf-8", errors="replace"))
