"""Reading Java ``.properties`` files, the format of RocketMQ's ``broker.conf``.

Supports ``key=value``, ``key: value`` and ``key value``; ``#`` and ``!`` comments;
backslash line continuation; ``\\t \\n \\r \\f \\uXXXX`` escapes, as
``java.util.Properties.load`` does.
"""

from __future__ import annotations

import re

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_UNICODE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(text: str) -> str:
    text = _UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text)
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip() if not pending else raw.lstrip()
        if not pending:
            start = number
            if not line or line[0] in "#!":
                continue
        # An odd number of trailing backslashes continues the line.
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending += line[:-1]
            continue
        lines.append((start, pending + line))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines


def parse_properties(text: str) -> dict[str, tuple[str, int]]:
    """Parse properties text into ``{key: (value, line_number)}``.

    >>> parse_properties("# broker\\nbrokerName = broker-a\\nlistenPort:10911\\nflag true\\n")
    {'brokerName': ('broker-a', 2), 'listenPort': ('10911', 3), 'flag': ('true', 4)}
    """
    result: dict[str, tuple[str, int]] = {}
    for number, line in _logical_lines(text):
        key_chars = []
        i = 0
        while i < len(line):
            ch = line[i]
            if ch == "\\" and i + 1 < len(line):
                key_chars.append(line[i : i + 2])
                i += 2
                continue
            if ch in "=: \t\f":
                break
            key_chars.append(ch)
            i += 1
        rest = line[i:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        key = _unescape("".join(key_chars))
        if key:
            result[key] = (_unescape(rest).rstrip(), number)
    return result
