"""The C body CRC (table and carry-less-multiply paths) equals zlib's CRC32 (reference section 4)."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.store._native import ffi, lib


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=5000), seed=st.integers(0, 2**32 - 1))
def test_crc32_matches_zlib(data: bytes, seed: int) -> None:
    assert lib.rmq_crc32(seed, data, len(data)) == zlib.crc32(data, seed)


def test_crc32_lengths_around_the_folding_thresholds() -> None:
    data = bytes(range(256)) * 8
    for n in range(0, 300):
        assert lib.rmq_crc32(0, data[:n], n) == zlib.crc32(data[:n]), n


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=5000), offset=st.integers(0, 63))
def test_crc32_copy_copies_and_matches_zlib(data: bytes, offset: int) -> None:
    """The put path's one-pass copy and checksum: every length, destination alignment."""
    dst = ffi.new("uint8_t[]", len(data) + 128)
    assert lib.rmq_crc32_copy(dst + offset, data, len(data)) == zlib.crc32(data)
    assert bytes(ffi.buffer(dst, len(data) + 128)) == bytes(offset) + data + bytes(128 - offset)


def test_crc32_copy_lengths_around_the_folding_thresholds() -> None:
    data = bytes(range(256)) * 8
    for n in range(0, 1100, 7):
        dst = ffi.new("uint8_t[]", n + 1)
        assert lib.rmq_crc32_copy(dst, data[:n], n) == zlib.crc32(data[:n]), n
        assert bytes(ffi.buffer(dst, n)) == data[:n] and dst[n] == 0, n
