"""Random and mutated input: only the typed errors escape, never another exception or a hang."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmqcore.remoting import (
    BodyError,
    FrameDecoder,
    FrameError,
    HeaderError,
    RemotingCommand,
    SerializeType,
    encode_command,
)
from rmqcore.remoting.bodies import HeartbeatData, RegisterBrokerBody, TopicRouteData
from rmqcore.remoting.headers import REQUEST_HEADERS, decode_send_request_header

_SEEDS = [
    encode_command(RemotingCommand(code=105, opaque=1, ext_fields={"topic": "TopicTest"}), stype)
    for stype in SerializeType
] + [
    encode_command(
        RemotingCommand(
            code=310, opaque=7, ext_fields={"a": "PG", "b": "T", "c": "TBW102", "d": "4", "e": "1", "f": "0", "g": "1", "h": "0"},
            body=b"x" * 40, serialize_type=stype,
        )
    )
    for stype in SerializeType
]  # fmt: skip


def _consume(decoder: FrameDecoder, data: bytes, chunk: int) -> list[RemotingCommand]:
    """Feed ``data`` in chunks; FrameError is the only allowed failure. Also exercise typed headers
    and bodies on whatever decoded, where only HeaderError/BodyError may escape."""
    out: list[RemotingCommand] = []
    try:
        for pos in range(0, len(data), chunk):
            out.extend(decoder.feed(data[pos : pos + chunk]))
    except FrameError as exc:
        assert str(exc)
        out.extend(getattr(exc, "decoded_before", []))
    for cmd in out:
        assert isinstance(cmd.ext_fields, dict)
        assert all(type(k) is str and type(v) is str for k, v in cmd.ext_fields.items())
        header_cls = REQUEST_HEADERS.get(cmd.code)
        try:
            if cmd.code in (10, 310, 320):
                decode_send_request_header(cmd.code, cmd.ext_fields)
            elif header_cls is not None:
                header_cls.from_ext(cmd.ext_fields)
        except HeaderError as exc:
            assert exc.key and exc.remark
        for body_cls in (TopicRouteData, HeartbeatData, RegisterBrokerBody):
            try:
                body_cls.decode(cmd.body)
            except BodyError as exc:
                assert exc.remark
    return out


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=64))
def test_random_bytes(data: bytes, chunk: int) -> None:
    _consume(FrameDecoder(max_frame_size=4096), data, chunk)


@settings(max_examples=600, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SEEDS),
    st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255)), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=50),
    st.booleans(),
)
def test_mutated_frames(seed: bytes, mutations: list[tuple[int, int]], chunk: int, truncate: bool) -> None:
    frame = bytearray(seed)
    for pos, value in mutations:
        frame[pos % len(frame)] = value
    data = bytes(frame[: len(frame) // 2] if truncate else frame) + seed
    _consume(FrameDecoder(max_frame_size=4096), data, chunk)


def test_many_random_mutations_of_headers_only() -> None:
    rng = random.Random(2024)
    decoded = 0
    for _ in range(3000):
        seed = bytearray(rng.choice(_SEEDS))
        # keep the length prefix sane so the mutation reaches the header parser
        for _ in range(rng.randint(1, 4)):
            seed[rng.randrange(8, len(seed))] = rng.randrange(256)
        decoded += len(_consume(FrameDecoder(), bytes(seed), len(seed)))
    assert decoded > 0  # some mutations leave a valid frame (e.g. inside a string value)
