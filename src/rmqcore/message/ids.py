"""Message ids: the offset message id and the client UNIQ_KEY (reference section 4).

The offset message id is ``hex(storeHost ip | port int | commitlog offset long)``,
uppercase; a client derives the commitlog offset from it (END_TRANSACTION, view
by id), so the layout must be exact.
"""

from __future__ import annotations

import calendar
import ipaddress
import itertools
import os
import random
import socket
import struct
import threading
import time
from functools import lru_cache

Host = tuple[str, int]

_PORT_OFFSET = struct.Struct(">iq")


class MessageIdError(ValueError):
    """A message id that is not 32 (IPv4) or 56 (IPv6) hex characters."""


@lru_cache(maxsize=256)
def pack_ip(ip: str) -> bytes:
    """4 bytes for IPv4, 16 for IPv6 (``localhost`` resolves to 127.0.0.1)."""
    try:
        return ipaddress.ip_address(ip).packed
    except ValueError:
        return socket.inet_aton(socket.gethostbyname(ip))


@lru_cache(maxsize=1024)
def _unpack_ip_cached(data: bytes) -> str:
    if len(data) == 4:
        return socket.inet_ntoa(data)
    return str(ipaddress.ip_address(data))


def unpack_ip(data: bytes | bytearray | memoryview) -> str:
    """Text form of a 4- or 16-byte address; cached, since a pull body repeats a few hosts."""
    return _unpack_ip_cached(bytes(data))


def create_offset_message_id(store_host: Host, commitlog_offset: int) -> str:
    """Offset message id for a record stored at ``commitlog_offset``.

    >>> create_offset_message_id(("127.0.0.1", 10911), 0)
    '7F00000100002A9F0000000000000000'
    """
    return (pack_ip(store_host[0]) + _PORT_OFFSET.pack(store_host[1], commitlog_offset)).hex().upper()


def decode_offset_message_id(msg_id: str) -> tuple[Host, int]:
    """Inverse of :func:`create_offset_message_id`: ``((ip, port), commitlog_offset)``.

    >>> decode_offset_message_id('7F00000100002A9F0000000000000100')
    (('127.0.0.1', 10911), 256)
    """
    if len(msg_id) not in (32, 56):
        raise MessageIdError(
            f"offset message id must be 32 (IPv4) or 56 (IPv6) hex characters, got {len(msg_id)}: {msg_id!r}"
        )
    try:
        raw = bytes.fromhex(msg_id)
    except ValueError as exc:
        raise MessageIdError(f"offset message id is not hex: {msg_id!r}") from exc
    ip_len = len(raw) - 12
    port, offset = _PORT_OFFSET.unpack_from(raw, ip_len)
    return (unpack_ip(raw[:ip_len]), port), offset


def _local_ip() -> bytes:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            # No packet is sent by connect() on a UDP socket; it only picks a route.
            s.connect(("10.255.255.255", 1))
            return socket.inet_aton(s.getsockname()[0])
    except OSError:
        return socket.inet_aton("127.0.0.1")


def _start_of_month_ms(now_ms: int) -> int:
    t = time.gmtime(now_ms / 1000)
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)) * 1000


class UniqKeyGenerator:
    """Generates UNIQ_KEY client message ids, as ``MessageClientIDSetter`` does.

    Layout: ``ip(4|16) | short pid | int instance hash | int ms since month start | short counter``.

    >>> gen = UniqKeyGenerator(ip=b"\\x7f\\x00\\x00\\x01", pid=1, instance_hash=2)
    >>> key = gen.next_id()
    >>> len(key), key[:16]
    (32, '7F00000100010000')
    """

    _TAIL = struct.Struct(">iH")

    def __init__(self, ip: bytes | None = None, pid: int | None = None, instance_hash: int | None = None) -> None:
        self._prefix = (
            (ip if ip is not None else _local_ip())
            + struct.pack(">H", (pid if pid is not None else os.getpid()) & 0xFFFF)
            + struct.pack(">i", instance_hash if instance_hash is not None else random.getrandbits(31))
        )
        self._prefix_hex = self._prefix.hex().upper()
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._month_start = 0
        self._next_month_start = 0

    def next_id(self) -> str:
        now = int(time.time() * 1000)
        if now >= self._next_month_start:
            with self._lock:
                self._month_start = _start_of_month_ms(now)
                self._next_month_start = _start_of_month_ms(self._month_start + 32 * 86_400_000)
        tail = self._TAIL.pack((now - self._month_start) & 0x7FFFFFFF, next(self._counter) & 0xFFFF)
        return self._prefix_hex + tail.hex().upper()


_default_generator: UniqKeyGenerator | None = None


def new_uniq_key() -> str:
    """A fresh UNIQ_KEY from a process-wide generator."""
    global _default_generator
    if _default_generator is None:
        _default_generator = UniqKeyGenerator()
    return _default_generator.next_id()
