"""The ROCKETMQ binary header (reference section 1, serialize type 1,
``RocketMQSerializable.rocketMQProtocolEncode/Decode``).

Layout: ``short code | byte language | short version | int opaque | int flag |
int remarkLen, remark | int extLen, {short keyLen, key, int valLen, val}*``.
A zero-length string decodes as null, so an empty ext value disappears on the
way through, as in Java. Code and version are written as Java ``(short)`` casts.
"""

from __future__ import annotations

import struct

from rmqcore.remoting.codes import LanguageCode, SerializeType
from rmqcore.remoting.command import RemotingCommand
from rmqcore.remoting.errors import FrameError

_FIXED = struct.Struct(">HBHII")  # code, language, version, opaque, flag (unsigned on the way out)
_FIXED_IN = struct.Struct(">hBhii")
_INT = struct.Struct(">i")
_SHORT = struct.Struct(">H")
_SHORT_IN = struct.Struct(">h")
FIXED_SIZE = 21  # 13 bytes of fixed fields + remark length int + extFields length int
_LANGUAGE_BY_VALUE = {int(lang): lang for lang in LanguageCode}


def encode_binary_header(cmd: RemotingCommand) -> bytes:
    """The binary header of ``cmd``.

    >>> encode_binary_header(RemotingCommand(code=105, opaque=1, ext_fields={"topic": "TopicTest"})).hex()
    '00690001df000000010000000000000000000000140005746f70696300000009546f70696354657374'
    """
    parts = [
        _FIXED.pack(
            cmd.code & 0xFFFF, int(cmd.language) & 0xFF, cmd.version & 0xFFFF, cmd.opaque & 0xFFFFFFFF, cmd.flag & 0xFFFFFFFF
        )
    ]
    remark = cmd.remark.encode("utf-8") if cmd.remark else b""
    parts.append(_INT.pack(len(remark)))
    parts.append(remark)
    ext_parts: list[bytes] = []
    for key, value in cmd.ext_fields.items():
        if key is None or value is None:
            continue
        k = key.encode("utf-8")
        v = value.encode("utf-8")
        ext_parts.append(_SHORT.pack(len(k)))
        ext_parts.append(k)
        ext_parts.append(_INT.pack(len(v)))
        ext_parts.append(v)
    ext_bytes = b"".join(ext_parts)
    parts.append(_INT.pack(len(ext_bytes)))
    parts.append(ext_bytes)
    return b"".join(parts)


def _read_str(data: bytes, pos: int, length: int, end: int, what: str) -> tuple[str | None, int]:
    if length < 0 or pos + length > end:
        raise FrameError(f"binary header {what} length {length} runs past the header")
    if length == 0:
        return None, pos
    try:
        return data[pos : pos + length].decode("utf-8"), pos + length
    except UnicodeDecodeError as exc:
        raise FrameError(f"binary header {what} is not UTF-8: {exc}") from None


def decode_binary_header(data: bytes | bytearray | memoryview) -> RemotingCommand:
    """Parse a binary header into a command without body; any defect raises ``FrameError``.

    >>> h = bytes.fromhex('006900 01df 00000001 00000000 00000000 00000014 0005 746f706963 00000009 546f70696354657374'.replace(' ', ''))
    >>> cmd = decode_binary_header(h)
    >>> (cmd.code, cmd.language.name, cmd.version, cmd.opaque, cmd.ext_fields)
    (105, 'JAVA', 479, 1, {'topic': 'TopicTest'})
    """
    if data.__class__ is not bytes:
        data = bytes(data)
    end = len(data)
    if end < FIXED_SIZE:
        raise FrameError(f"binary header of {end} bytes is shorter than its fixed part")
    code, language, version, opaque, flag = _FIXED_IN.unpack_from(data, 0)
    pos = 13
    (remark_len,) = _INT.unpack_from(data, pos)
    remark, pos = _read_str(data, pos + 4, remark_len, end, "remark")
    if pos + 4 > end:
        raise FrameError("binary header ends before its extFields length")
    (ext_len,) = _INT.unpack_from(data, pos)
    pos += 4
    if ext_len < 0 or pos + ext_len > end:
        raise FrameError(f"binary header extFields length {ext_len} runs past the header")
    ext_end = pos + ext_len
    ext: dict[str, str] = {}
    unpack_int = _INT.unpack_from
    try:
        while pos < ext_end:
            if pos + 2 > ext_end:
                raise FrameError("binary header extFields entry is truncated")
            key_len = (data[pos] << 8) | data[pos + 1]
            key_start = pos + 2
            key_end = key_start + key_len
            # Java reads a signed short: lengths >= 0x8000 are negative there, hence invalid.
            if key_len >= 0x8000 or key_end + 4 > ext_end:
                raise FrameError(f"binary header ext key length {key_len} runs past the header")
            (val_len,) = unpack_int(data, key_end)
            val_start = key_end + 4
            pos = val_start + val_len
            if val_len < 0 or pos > ext_end:
                raise FrameError(f"binary header ext value length {val_len} runs past the header")
            if key_len and val_len:  # zero length decodes as null in Java: no entry
                ext[data[key_start:key_end].decode("utf-8")] = data[val_start:pos].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"binary header ext entry is not UTF-8: {exc}") from None
    return RemotingCommand(
        code=code,
        language=_LANGUAGE_BY_VALUE.get(language, LanguageCode.OTHER),
        version=version,
        opaque=opaque,
        flag=flag,
        remark=remark,
        ext_fields=ext,
        body=None,
        serialize_type=SerializeType.ROCKETMQ,
    )
