"""The C body CRC (table and carry-less-multiply paths) equals zlib's CRC32 (reference section 4)."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from rmqcore.store._native import lib


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=5000), seed=st.integers(0, 2**32 - 1))
def test_crc32_matches_zlib(data: bytes, seed: int) -> None:
    assert lib.rmq_crc32(seed, data, len(data)) == zlib.crc32(data, seed)


def test_crc32_lengths_around_the_folding_thresholds() -> None:
    data = bytes(range(256)) * 8
    for n in range(0, 300):
        assert lib.rmq_crc32(0, data[:n], n) == zlib.crc32(data[:n]), n
