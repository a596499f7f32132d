"""Java ``String.hashCode`` as RocketMQ uses it for tag codes and index keys.

Reference section 5: ``h = 31*h + c`` over UTF-16 code units with int32 wrap.
"""

from __future__ import annotations

from functools import lru_cache

_MASK = 0xFFFFFFFF


@lru_cache(maxsize=4096)
def java_string_hash(text: str) -> int:
    """Return the signed 32-bit Java ``String.hashCode`` of ``text``.

    >>> java_string_hash("TagA")
    2598919
    >>> java_string_hash("polygenelubricants")
    -2147483648
    """
    h = 0
    if text.isascii():
        for ch in text.encode("ascii"):
            h = (31 * h + ch) & _MASK
    else:
        data = text.encode("utf-16-be")
        for i in range(0, len(data), 2):
            h = (31 * h + ((data[i] << 8) | data[i + 1])) & _MASK
    return h - 0x100000000 if h & 0x80000000 else h


def tags_code(tags: str | None) -> int:
    """The ConsumeQueue tag-code slot for ``tags``: 0 when empty, else the Java hash."""
    if not tags:
        return 0
    return java_string_hash(tags)
