"""Frame generators and a raw-socket driver for fuzzing live servers.

A *case* is a byte string written on a fresh connection plus what the server owes it:

* ``ANSWER``: well-formed requests; every one must be answered (matched by opaque)
  with a RocketMQ response code before a timeout, and the connection stays open.
* ``CLOSE``: a broken stream (FrameError in the decoder); the server must close the
  connection by itself, answering at most the complete frames before the bad one.
* ``ANY``: random or mutated bytes; whatever comes back must be well-formed responses
  with known codes, and once we half-close, the server must close too.

Nothing here sleeps: every wait is on a socket read under ``anyio.fail_after``.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from rmqcore.remoting import (
    LanguageCode,
    RemotingCommand,
    RequestCode,
    ResponseCode,
    SerializeType,
    encode_command,
    make_request,
)
from rmqcore.remoting import FrameDecoder, FrameError

MAX_FRAME = 16 * 1024 * 1024
#: Codes a RocketMQ server may put on the wire (the negative ones are client-local).
WIRE_RESPONSE_CODES = frozenset(int(c) for c in ResponseCode if int(c) >= 0)

ANSWER, CLOSE, ANY = "answer", "close", "any"


@dataclass
class Case:
    kind: str
    data: bytes
    expect: str
    opaques: list[int] = field(default_factory=list)  # requests that must be answered (ANSWER)
    frames: int = 1
    note: str = ""
    # opaque -> codes the answer must not have / must be one of (semantic cases)
    must_not: dict[int, frozenset[int]] = field(default_factory=dict)
    must_be: dict[int, frozenset[int]] = field(default_factory=dict)
    port: int = 0

    def describe(self) -> str:
        head = self.data[:200]
        return f"{self.kind} ({self.note}) {len(self.data)} bytes: {head!r}{'...' if len(self.data) > 200 else ''}"


@dataclass
class Outcome:
    responses: list[RemotingCommand]
    closed_by_server: bool


class Opaques:
    """Distinct opaques for fuzz requests (the good clients use the Channel's own counter)."""

    def __init__(self, start: int = 1_000_000) -> None:
        self._next = start

    def __call__(self) -> int:
        self._next += 1
        return self._next


# -- raw frame building ------------------------------------------------------------------------------
def raw_frame(header: bytes, body: bytes = b"", stype: int = 0, *, length: int | None = None, header_len: int | None = None) -> bytes:
    """A frame with every field under the caller's control (lengths may lie)."""
    hl = len(header) if header_len is None else header_len
    total = 4 + len(header) + len(body) if length is None else length
    return struct.pack(">iI", total, ((stype & 0xFF) << 24) | (hl & 0xFFFFFF)) + header + body


def json_header(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def request_frame(code: int, ext: dict[str, str] | None, body: bytes | None, opaque: int, *, stype: int = 0,
                  language: LanguageCode = LanguageCode.JAVA, version: int = 479, flag: int = 0) -> bytes:
    cmd = make_request(code, ext or {}, body, opaque=opaque, language=language, version=version,
                       serialize_type=SerializeType(stype))
    cmd.flag = flag
    return encode_command(cmd)


# -- value pools ---------------------------------------------------------------------------------------
BAD_NUMBERS = ["-1", "-2147483648", "2147483647", "2147483648", "-9223372036854775808", "9223372036854775807",
               "99999999999999999999999", "0x10", "1e3", " 1", "1.5", "", "abc", "NaN", "-0", "+5", "٣", "00001"]
BAD_STRINGS = ["", " ", "%RETRY%", "TBW102", "RMQ_SYS_TRANS_HALF_TOPIC", "SCHEDULE_TOPIC_XXXX", "a" * 300,
               "topic with spaces", "t\x00nul", "ü€𝄞", "../../etc/passwd", "*", "||", "DefaultCluster", "true", "null"]
HEADER_KEYS = ["topic", "queueId", "queueOffset", "maxMsgNums", "sysFlag", "commitOffset", "suspendTimeoutMillis",
               "subVersion", "subscription", "expressionType", "consumerGroup", "producerGroup", "offset", "key",
               "maxNum", "beginTimestamp", "endTimestamp", "namespace", "value", "brokerName", "brokerAddr",
               "clusterName", "brokerId", "bodyCrc32", "compressed", "timestamp", "group", "clientID", "cluster",
               "readQueueNums", "writeQueueNums", "perm", "topicFilterType", "tranStateTableOffset",
               "commitLogOffset", "commitOrRollback", "msgId", "delayLevel", "originTopic", "bname",
               *"abcdefghijklmn"]


def random_value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(BAD_NUMBERS)
    if roll < 0.6:
        return rng.choice(BAD_STRINGS)
    if roll < 0.8:
        return str(rng.randint(-5, 40))
    return "".join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(0, 24)))


def random_ext(rng: random.Random, keys: list[str] | None = None) -> dict[str, str]:
    pool = keys or HEADER_KEYS
    return {rng.choice(pool): random_value(rng) for _ in range(rng.randint(0, 12))}


def random_body(rng: random.Random) -> bytes | None:
    roll = rng.random()
    if roll < 0.4:
        return None
    if roll < 0.6:
        return rng.randbytes(rng.randint(1, 512))
    if roll < 0.8:
        return json.dumps({rng.choice(HEADER_KEYS): random_value(rng) for _ in range(rng.randint(0, 5))}).encode()
    return rng.choice([b"{", b"[]", b"null", b"{\"mqSet\":7}", b"\xff\xfe", b"{\"clientID\":null}", b"x" * 4096])


def sanitize_for_answer(code: int, ext: dict[str, str]) -> dict[str, str]:
    """A pull may legitimately be held for its suspend timeout: never ask for a long hold."""
    if code in (RequestCode.PULL_MESSAGE, RequestCode.LITE_PULL_MESSAGE, RequestCode.POP_MESSAGE):
        ext["suspendTimeoutMillis"] = "0"
        try:
            ext["sysFlag"] = str(int(ext.get("sysFlag", "0")) & ~0x2)
        except ValueError:
            pass
        for key in ("pollTime", "invisibleTime"):
            ext.pop(key, None)
    return ext


# -- case generators --------------------------------------------------------------------------------------
def gen_random_bytes(rng: random.Random, opaque: Opaques) -> Case:
    n = rng.choice([0, 1, 3, 4, 7, 8, 13, rng.randint(9, 600)])
    data = rng.randbytes(n)
    if rng.random() < 0.3 and n >= 4:  # a small length prefix so the decoder reads into the garbage
        data = struct.pack(">i", rng.randint(4, n + 8)) + data[4:]
    return Case("random_bytes", data, ANY, frames=1)


def gen_truncated(rng: random.Random, opaque: Opaques, template: bytes) -> Case:
    cut = rng.randint(1, len(template) - 1)
    return Case("truncated", template[:cut], ANY, note=f"cut at {cut} of {len(template)}")


def gen_header_past_end(rng: random.Random, opaque: Opaques) -> Case:
    header = json_header({"code": 105, "opaque": opaque(), "flag": 0, "extFields": {"topic": "T"}})
    extra = rng.choice([1, 2, 100, 0xFFFFFF - len(header)])
    stype = rng.choice([0, 1])
    data = raw_frame(header, b"", stype, header_len=len(header) + extra)
    return Case("header_len_past_end", data, CLOSE, note=f"header_len +{extra}")


def gen_oversize(rng: random.Random, opaque: Opaques) -> Case:
    length = rng.choice([MAX_FRAME - 3, MAX_FRAME, MAX_FRAME + 1, 100 * 1024 * 1024, 2**31 - 1,
                         rng.randint(MAX_FRAME - 3, 2**31 - 1), -1, -(2**31), 0, 3])
    tail = rng.randbytes(rng.randint(0, 64))
    return Case("oversize_or_bad_length", struct.pack(">i", length) + tail, CLOSE, note=f"length {length}")


def gen_unknown_serialize_type(rng: random.Random, opaque: Opaques) -> Case:
    header = json_header({"code": 105, "opaque": opaque(), "flag": 0, "extFields": {"topic": "T"}})
    stype = rng.randint(2, 255)
    return Case("unknown_serialize_type", raw_frame(header, b"", stype), CLOSE, note=f"type {stype}")


GARBAGE_HEADERS: list[bytes] = [
    b"", b"{", b"}", b"[]", b"null", b"42", b"\"code\"", b"{\"code\":}", b"{'code':105}",
    b"{\"opaque\":1}",  # no code
    b"{\"code\":\"abc\",\"opaque\":1}", b"{\"code\":1.5}", b"{\"code\":true}", b"{\"code\":null}",
    b"{\"code\":99999999999}", b"{\"code\":105,\"opaque\":4294967296}", b"{\"code\":105,\"flag\":\"x\"}",
    b"{\"code\":105,\"extFields\":[1,2]}", b"{\"code\":105,\"extFields\":\"topic\"}",
    b"{\"code\":105,\"language\":[1]}", b"{\"code\":105}{\"code\":106}", b"{\"code\":105} trailing",
    b"\xff\xfe{\"code\":105}", b"{\"code\":105,\"remark\":\"\xc3\x28\"}", b"[" * 5000 + b"]" * 5000,
    b"{\"a\":" * 3000 + b"1" + b"}" * 3000, b"\x00" * 16,
]


def gen_garbage_json(rng: random.Random, opaque: Opaques, index: int | None = None) -> Case:
    header = GARBAGE_HEADERS[index if index is not None else rng.randrange(len(GARBAGE_HEADERS))]
    body = rng.choice([b"", b"body"])
    return Case("garbage_json_header", raw_frame(header, body, 0), CLOSE, note=header[:60].decode("latin-1"))


def gen_garbage_binary(rng: random.Random, opaque: Opaques) -> Case:
    """Serialize type 1 with a random or truncated binary header: usually unparsable."""
    header = rng.randbytes(rng.randint(0, 40))
    return Case("garbage_binary_header", raw_frame(header, b"", 1), ANY)


def gen_random_requests(rng: random.Random, opaque: Opaques, codes: list[int], count: int) -> Case:
    """Pipelined well-formed frames with random codes, random extFields and bodies: each must be answered."""
    parts, ops = [], []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.7:
            code = rng.choice(codes)
        elif roll < 0.9:
            code = rng.randint(0, 400)
        else:
            code = rng.choice([-1, -(2**31), 2**31 - 1, 65535, 200050, 200051, rng.randint(-(2**31), 2**31 - 1)])
        ext = sanitize_for_answer(code, random_ext(rng))
        op = opaque()
        ops.append(op)
        parts.append(request_frame(code, ext, random_body(rng), op, stype=rng.choice([0, 0, 1]),
                                   language=rng.choice(list(LanguageCode)), version=rng.choice([0, 121, 317, 479, -1, 99999])))
    return Case("random_code_request", b"".join(parts), ANSWER, ops, frames=count)


def gen_big_field(rng: random.Random, opaque: Opaques, codes: list[int]) -> Case:
    """One multi-megabyte extFields value in a binary header (raw bytes there, but six bytes per
    control character once a JSON response echoes it): must still be answered."""
    code = rng.choice(codes)
    key = rng.choice(["topic", "key", "namespace", "consumerGroup", "b", "brokerName"])
    value = rng.choice(["\x01", "\"", "\\", "a", "\u2028"]) * rng.randint(1_000_000, 2_900_000)
    op = opaque()
    ext = sanitize_for_answer(code, {key: value})
    return Case("big_field_request", request_frame(code, ext, None, op, stype=1), ANSWER, [op], note=f"{key} x{len(value)}")


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf)) if buf else 0
        if op == 0 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[pos] = rng.choice([0x00, 0xFF, 0x7F, 0x80, ord("{"), ord('"'), ord(":")])
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 3 and buf:
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 4:
            buf += data[: rng.randint(0, len(data))]
        elif op == 5 and len(buf) > 8:
            # Lie in the length prefix or the header length, keeping the rest.
            if rng.random() < 0.5:
                struct.pack_into(">i", buf, 0, rng.randint(4, len(buf) + 16))
            else:
                struct.pack_into(">I", buf, 4, (rng.choice([0, 1]) << 24) | rng.randint(0, len(buf)))
    return bytes(buf)


def gen_mutated(rng: random.Random, opaque: Opaques, templates: list[bytes]) -> Case:
    return Case("mutated_frame", mutate(rng, rng.choice(templates)), ANY)


def gen_mutated_ext(rng: random.Random, opaque: Opaques, templates: list[tuple[int, dict[str, str], bytes | None]]) -> Case:
    """A valid request template whose extFields values are replaced, dropped or added: must be answered."""
    code, ext, body = rng.choice(templates)
    ext = dict(ext)
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.5 and ext:
            ext[rng.choice(list(ext))] = random_value(rng)
        elif roll < 0.75 and ext:
            ext.pop(rng.choice(list(ext)))
        else:
            ext[rng.choice(HEADER_KEYS)] = random_value(rng)
    if rng.random() < 0.2:
        body = mutate(rng, body or b"") or None
    ext = sanitize_for_answer(code, ext)
    op = opaque()
    return Case("mutated_ext_request", request_frame(code, ext, body, op, stype=rng.choice([0, 1])), ANSWER, [op])


# -- driving one case on a fresh connection --------------------------------------------------------------
async def _read_until(stream: anyio.abc.SocketStream, decoder: FrameDecoder, responses: list[RemotingCommand],
                      done: Any) -> bool:
    """Read until ``done()`` or EOF; returns True if the server closed the connection."""
    while not done():
        try:
            data = await stream.receive(65536)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
            return True
        responses.extend(decoder.feed(data))
    return False


#: Requests a broker may send to a client connection (after HEART_BEAT or a transactional send).
SERVER_TO_CLIENT_CODES = frozenset(
    {RequestCode.CHECK_TRANSACTION_STATE, RequestCode.NOTIFY_CONSUMER_IDS_CHANGED,
     RequestCode.GET_CONSUMER_RUNNING_INFO, RequestCode.CONSUME_MESSAGE_DIRECTLY}
)


def check_response(cmd: RemotingCommand, case: Case) -> None:
    if not cmd.is_response and cmd.code in SERVER_TO_CLIENT_CODES:
        return
    assert cmd.is_response, f"server sent a non-response {cmd} for {case.describe()}"
    assert cmd.code in WIRE_RESPONSE_CODES, f"response code {cmd.code} is not a RocketMQ code: {cmd} for {case.describe()}"


async def run_case(port: int, case: Case, timeout: float = 10.0) -> Outcome:
    stream = await anyio.connect_tcp("127.0.0.1", port)
    decoder = FrameDecoder()
    responses: list[RemotingCommand] = []
    closed = False
    try:
        try:
            await stream.send(case.data)
        except (anyio.BrokenResourceError, ConnectionError):
            closed = True  # the server already rejected an earlier part
        if case.expect == ANSWER:
            wanted = set(case.opaques)
            got: set[int] = set()

            def all_answered() -> bool:
                got.update(r.opaque for r in responses)
                return wanted <= got

            try:
                with anyio.fail_after(timeout):
                    closed = await _read_until(stream, decoder, responses, all_answered)
            except TimeoutError:
                missing = sorted(wanted - {r.opaque for r in responses})
                raise AssertionError(f"no answer within {timeout}s to opaques {missing[:10]} of {case.describe()}") from None
            assert not closed or wanted <= {r.opaque for r in responses}, (
                f"server closed the connection without answering well-formed requests: {case.describe()}"
            )
            assert not closed, f"server closed a connection after well-formed requests: {case.describe()}"
        elif case.expect == CLOSE:
            try:
                with anyio.fail_after(timeout):
                    closed = await _read_until(stream, decoder, responses, lambda: False)
            except TimeoutError:
                raise AssertionError(f"server kept a broken stream open for {timeout}s: {case.describe()}") from None
            # Complete frames before the broken one are still answered (then the connection closes).
            unanswered = set(case.opaques) - {r.opaque for r in responses if r.is_response}
            assert not unanswered, f"frames before the broken one were not answered ({sorted(unanswered)}): {case.describe()}"
        else:
            try:
                await stream.send_eof()
            except (anyio.BrokenResourceError, ConnectionError, OSError):
                pass
            try:
                with anyio.fail_after(timeout):
                    closed = await _read_until(stream, decoder, responses, lambda: False)
            except TimeoutError:
                raise AssertionError(f"server did not close after our EOF within {timeout}s: {case.describe()}") from None
    except FrameError as exc:
        raise AssertionError(f"server sent undecodable bytes ({exc}) for {case.describe()}") from None
    finally:
        await stream.aclose()
    for r in responses:
        check_response(r, case)
        if case.expect == ANSWER and r.is_response:
            assert r.opaque in case.opaques, f"response with an opaque nobody sent ({r.opaque}): {r} for {case.describe()}"
        if r.opaque in case.must_not:
            assert r.code not in case.must_not[r.opaque], f"answered {r.code} ({r.remark}) to {case.describe()}"
        if r.opaque in case.must_be:
            assert r.code in case.must_be[r.opaque], f"answered {r.code} ({r.remark}) to {case.describe()}"
    return Outcome(responses, closed)


@dataclass
class Tally:
    frames: Counter[str] = field(default_factory=Counter)
    connections: Counter[str] = field(default_factory=Counter)
    answers: Counter[int] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    server_requests: Counter[int] = field(default_factory=Counter)

    def add(self, case: Case, outcome: Outcome) -> None:
        self.frames[case.kind] += case.frames
        self.connections[case.kind] += 1
        for r in outcome.responses:
            if r.is_response:
                self.answers[r.code] += 1
            else:
                self.server_requests[r.code] += 1
        if outcome.closed_by_server:
            self.closed[case.kind] += 1

    def summary(self, name: str) -> str:
        total = sum(self.frames.values())
        lines = [f"[{name}] {total} frames on {sum(self.connections.values())} connections"]
        for kind in sorted(self.frames):
            lines.append(f"  {kind}: {self.frames[kind]} frames, {self.connections[kind]} conns, closed by server {self.closed[kind]}")
        lines.append("  answer codes: " + ", ".join(f"{ResponseCode(c).name}={n}" for c, n in sorted(self.answers.items())))
        if self.server_requests:
            lines.append("  requests from the server: " + ", ".join(
                f"{RequestCode(c).name}={n}" for c, n in sorted(self.server_requests.items())))
        return "\n".join(lines)


def crc(body: bytes) -> int:
    return zlib.crc32(body) & 0x7FFFFFFF
