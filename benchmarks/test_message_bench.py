"""Decoding a pull body into MessageExt: the C decoder against the interpreter's, one run.

The body is what a consumer receives for one pull of 32: records of one producer (128-byte
bodies, TAGS, a UNIQ_KEY each, WAIT). ``decode_stored_messages`` takes the C path
(``rmqcore.message._stored_decode``); ``decode_stored_messages_py`` is the pure-Python
reference. Every round's result is checked against the other's.
"""

from __future__ import annotations

from typing import Any

import pytest

from rmqcore.message import MessageExt, codec, decode_stored_messages, encode_stored_message
from rmqcore.message.codec import decode_stored_messages_py

RECORDS = 32


def pull_body() -> bytes:
    return b"".join(
        encode_stored_message(
            MessageExt("PullT", b"x" * 128, properties={"TAGS": "TagA", "UNIQ_KEY": "%032X" % i, "WAIT": "true", "CLUSTER": "DefaultCluster"},
                       queue_id=1, queue_offset=i, commitlog_offset=309 * i, born_host=("127.0.0.1", 5555),
                       store_host=("127.0.0.1", 10911))  # fmt: skip
        )
        for i in range(RECORDS)
    )


@pytest.mark.parametrize("decoder", ["c", "python"])
def test_decode_pull_body(benchmark: Any, decoder: str) -> None:
    if decoder == "c" and codec._decode_into is None:
        pytest.skip("rmqcore.message._stored_decode is not built")
    body = pull_body()
    decode = decode_stored_messages if decoder == "c" else decode_stored_messages_py
    benchmark.extra_info.update(messages=RECORDS, bytes=len(body))
    if decoder == "c":
        benchmark.extra_info["targets"] = [["test_decode_pull_body[python]", None, "msgs/s"]]
    msgs = benchmark(decode, body)
    other = (decode_stored_messages_py if decoder == "c" else decode_stored_messages)(body)
    assert [(m.queue_offset, m.body, m.properties, m.store_host, m.msg_id) for m in msgs] == [
        (m.queue_offset, m.body, m.properties, m.store_host, m.msg_id) for m in other
    ]
