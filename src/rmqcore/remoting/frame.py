"""Frames on the TCP stream (reference section 1) and the incremental decoder.

``length(4) | serializeType(1) headerLen(3) | header | body``, big-endian, where
``length`` counts everything after itself. Like Netty's
``LengthFieldBasedFrameDecoder(16 MiB, 0, 4, 0, 4)``, the decoder rejects a
frame whose ``length + 4`` exceeds the limit as soon as the length prefix
arrives, before buffering it.
"""

from __future__ import annotations

import struct
from typing import Final, Union

import structlog

from rmqcore.remoting.binary_header import decode_binary_header, encode_binary_header
from rmqcore.remoting.codes import SerializeType
from rmqcore.remoting.command import RemotingCommand
from rmqcore.remoting.errors import EncodeError, FrameError
from rmqcore.remoting.json_header import decode_json_header, encode_json_header

log = structlog.get_logger(__name__)

#: Java's ``com.rocketmq.remoting.frameMaxLength`` default (counts the 4-byte length field too).
DEFAULT_MAX_FRAME_SIZE: Final = 16 * 1024 * 1024
_PREFIX = struct.Struct(">iI")
_LENGTH = struct.Struct(">i")
_HEADER_LEN_MASK = 0xFFFFFF

Buffer = Union[bytes, memoryview]


def encode_header(cmd: RemotingCommand, serialize_type: SerializeType | int | None = None) -> bytes:
    """Only the header bytes, JSON or binary (default: ``cmd.serialize_type``)."""
    stype = cmd.serialize_type if serialize_type is None else serialize_type
    if stype == SerializeType.JSON:
        return encode_json_header(cmd)
    if stype == SerializeType.ROCKETMQ:
        return encode_binary_header(cmd)
    raise EncodeError(f"unknown serialize type {stype!r}")


def encode_command_buffers(cmd: RemotingCommand, serialize_type: SerializeType | int | None = None) -> list[Buffer]:
    """The frame as buffers to write in order: prefix+header, then the body uncopied.

    >>> bufs = encode_command_buffers(RemotingCommand(code=10, body=b"x" * 1000))
    >>> (len(bufs), type(bufs[1]).__name__, len(bufs[1]))
    (2, 'memoryview', 1000)
    """
    stype = int(cmd.serialize_type if serialize_type is None else serialize_type)
    header = encode_header(cmd, stype)
    header_len = len(header)
    if header_len > _HEADER_LEN_MASK:
        raise EncodeError(f"header of {header_len} bytes does not fit the 24-bit header length")
    body = cmd.body
    body_len = len(body) if body else 0
    prefix = _PREFIX.pack(4 + header_len + body_len, (stype << 24) | header_len)
    if not body_len:
        return [prefix + header]
    return [prefix + header, memoryview(body)]  # type: ignore[arg-type]


def encode_command(cmd: RemotingCommand, serialize_type: SerializeType | int | None = None) -> bytes:
    """The whole frame as one ``bytes`` (section 1's golden route request):

    >>> frame = encode_command(RemotingCommand(code=105, opaque=1, ext_fields={"topic": "TopicTest"}))
    >>> frame[:8].hex(), len(frame)
    ('0000008700000083', 139)
    """
    stype = int(cmd.serialize_type if serialize_type is None else serialize_type)
    header = encode_header(cmd, stype)
    header_len = len(header)
    if header_len > _HEADER_LEN_MASK:
        raise EncodeError(f"header of {header_len} bytes does not fit the 24-bit header length")
    body = cmd.body
    if body:
        return _PREFIX.pack(4 + header_len + len(body), (stype << 24) | header_len) + header + body
    return _PREFIX.pack(4 + header_len, (stype << 24) | header_len) + header


def _decode_header(stype: int, header: bytes) -> RemotingCommand:
    if stype == 0:
        return decode_json_header(header)
    if stype == 1:
        return decode_binary_header(header)
    raise FrameError(f"unknown serialize type {stype}")


def decode_frame(frame: bytes | bytearray | memoryview, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> RemotingCommand:
    """Decode exactly one complete frame (length prefix included).

    >>> frame = encode_command(RemotingCommand(code=105, opaque=1, ext_fields={"topic": "T"}, body=b"b"))
    >>> cmd = decode_frame(frame)
    >>> (cmd.code, cmd.ext_fields, cmd.body)
    (105, {'topic': 'T'}, b'b')
    """
    decoder = FrameDecoder(max_frame_size=max_frame_size)
    commands = decoder.feed(frame)
    if len(commands) != 1 or decoder.buffered:
        raise FrameError(f"expected exactly one frame, got {len(commands)} and {decoder.buffered} spare bytes")
    return commands[0]


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get complete commands.

    ``feed(data)`` returns every command completed by ``data``; the h11-style pair
    ``receive_data(data)`` / ``next_command()`` (``None`` = need more bytes) does
    the same one command at a time. A ``FrameError`` leaves the decoder broken
    (every later call raises it again): the connection must be closed. When
    ``feed`` fails after some complete commands, they are on the error's
    ``decoded_before`` attribute.

    >>> data = encode_command(RemotingCommand(code=34, opaque=1)) * 2
    >>> d = FrameDecoder()
    >>> d.feed(data[:10]), [c.opaque for c in d.feed(data[10:])]
    ([], [1, 1])
    """

    __slots__ = ("_buffer", "_error", "max_frame_size")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._error: FrameError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a returned command."""
        return len(self._buffer)

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._buffer += data

    def next_command(self) -> RemotingCommand | None:
        if self._error is not None:
            raise self._error
        commands: list[RemotingCommand] = []
        consumed = self._parse(self._buffer, commands, limit=1)
        if consumed:
            del self._buffer[:consumed]
        return commands[0] if commands else None

    def feed(self, data: bytes | bytearray | memoryview) -> list[RemotingCommand]:
        if self._error is not None:
            raise self._error
        commands: list[RemotingCommand] = []
        buffer = self._buffer
        if not buffer:
            # Fast path: parse straight from the caller's bytes, buffer only the tail.
            source = data if isinstance(data, bytes) else bytes(data)
            consumed = self._parse(source, commands, limit=-1)
            if consumed < len(source):
                buffer += memoryview(source)[consumed:]
            return commands
        buffer += data
        consumed = self._parse(buffer, commands, limit=-1)
        if consumed:
            del buffer[:consumed]
        return commands

    def _fail(self, error: FrameError, commands: list[RemotingCommand]) -> FrameError:
        error.decoded_before = list(commands)  # type: ignore[attr-defined]
        self._error = error
        self._buffer = bytearray()  # a broken stream's bytes are worthless; free them
        log.debug("remoting_frame_error", error=str(error))
        return error

    def _parse(self, source: bytes | bytearray, commands: list[RemotingCommand], limit: int) -> int:
        """Append complete commands from ``source`` to ``commands``; return bytes consumed."""
        if source.__class__ is bytes:
            return self._parse_from(source, source, commands, limit)  # bytes slices copy once already
        with memoryview(source) as view:  # bytearray: slice a view so each body is copied once
            return self._parse_from(source, view, commands, limit)

    def _parse_from(
        self, source: bytes | bytearray, sliceable: bytes | memoryview, commands: list[RemotingCommand], limit: int
    ) -> int:
        total = len(source)
        pos = 0
        max_frame = self.max_frame_size
        while total - pos >= 4 and limit != 0:
            (length,) = _LENGTH.unpack_from(source, pos)
            if length < 4 or length + 4 > max_frame:
                raise self._fail(
                    FrameError(f"frame length {length} outside [4, {max_frame - 4}] (max frame {max_frame} bytes)"),
                    commands,
                )
            end = pos + 4 + length
            if end > total:
                break
            (_, type_and_len) = _PREFIX.unpack_from(source, pos)
            header_len = type_and_len & _HEADER_LEN_MASK
            if header_len > length - 4:
                raise self._fail(FrameError(f"header length {header_len} exceeds frame length {length}"), commands)
            body_start = pos + 8 + header_len
            try:
                cmd = _decode_header(type_and_len >> 24, bytes(sliceable[pos + 8 : body_start]))
            except FrameError as exc:
                raise self._fail(exc, commands) from None
            if body_start < end:
                cmd.body = bytes(sliceable[body_start:end])
            commands.append(cmd)
            pos = end
            limit -= 1
        return pos
