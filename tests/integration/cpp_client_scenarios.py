"""Scenarios driven with the real C++ RocketMQ client (PyPI ``rocketmq-python-cvs``, librocketmq 2.1.0).

Run as ``python cpp_client_scenarios.py SCENARIO NAMESRV [args]``; each prints one JSON
object per line and ends with ``os._exit`` (the library's push-consumer shutdown is
known to crash the process at exit, so the parent judges only what was printed).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def producer(namesrv: str, group: str):
    from rocketmq.client import Producer

    p = Producer(group)
    p.set_namesrv_addr(namesrv)
    p.start()
    return p


def message(topic: str, body: str, tags: str | None = None, keys: str | None = None, props: dict | None = None, delay: int = 0):
    from rocketmq.client import Message

    m = Message(topic)
    m.set_body(body)
    if tags:
        m.set_tags(tags)
    if keys:
        m.set_keys(keys)
    for k, v in (props or {}).items():
        m.set_property(k, v)
    if delay:
        m.set_delay_time_level(delay)
    return m


def consume(namesrv: str, group: str, topic: str, expression: str, expected: int, timeout: float, orderly: bool = False, fail_first: bool = False) -> None:
    from rocketmq.client import PushConsumer, RecvMessage
    from rocketmq.ffi import _CConsumeStatus, dll

    done = threading.Event()
    seen: set[str] = set()
    failed_once: set[str] = set()
    lock = threading.Lock()

    def on_message(msg):
        body = msg.body.decode()
        with lock:
            if fail_first and body not in failed_once:
                failed_once.add(body)
                emit(event="reconsume_later", body=body, reconsume_times=msg.reconsume_times)
                return _CConsumeStatus.RECONSUME_LATER.value
            emit(
                event="received",
                body=body,
                tags=msg.tags.decode() if isinstance(msg.tags, bytes) else msg.tags,
                queue_id=msg.queue_id,
                queue_offset=msg.queue_offset,
                reconsume_times=msg.reconsume_times,
                born_ms=msg.born_timestamp,
                store_ms=msg.store_timestamp,
                thread=threading.get_ident(),
            )
            seen.add(body)
            if len(seen) >= expected:
                done.set()
        return _CConsumeStatus.CONSUME_SUCCESS.value

    c = PushConsumer(group, orderly=orderly)
    c.set_namesrv_addr(namesrv)
    # The wrapper's subscribe() cannot return RECONSUME_LATER; register the C callback directly.
    dll.Subscribe(c._handle, topic.encode(), expression.encode())
    c._register_callback(lambda consumer, raw: on_message(RecvMessage(raw)))
    c.start()
    emit(event="consumer_started")
    done.wait(timeout)
    emit(event="consumer_done", received=len(seen))


def main() -> None:
    scenario, namesrv = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    os.environ.setdefault("ROCKETMQ_CLIENT_LOG_DIR", "/tmp")
    if scenario == "produce":
        topic, count, prefix = args[0], int(args[1]), args[2]
        tags = args[3].split(",") if len(args) > 3 else [""]
        p = producer(namesrv, f"PG_{prefix}")
        for i in range(count):
            tag = tags[i % len(tags)]
            result = p.send_sync(message(topic, f"{prefix}-{i}", tags=tag or None, keys=f"key-{prefix}-{i}", props={"baiLi": str(i)}))
            emit(event="sent", i=i, status=int(result.status), msg_id=result.msg_id, offset=result.offset, tags=tag)
    elif scenario == "produce_orderly":
        topic, count, prefix = args[0], int(args[1]), args[2]
        p = producer(namesrv, f"PG_{prefix}")
        for i in range(count):
            result = p.send_orderly(message(topic, f"{prefix}-{i}", tags="TagA"), 0, queue_selector=lambda size, msg, arg: 0)
            emit(event="sent", i=i, status=int(result.status), offset=result.offset)
    elif scenario == "produce_delayed":
        topic, prefix, level = args[0], args[1], int(args[2])
        p = producer(namesrv, f"PG_{prefix}")
        result = p.send_sync(message(topic, f"{prefix}-0", tags="TagA", delay=level))
        emit(event="sent", i=0, status=int(result.status), sent_ms=int(time.time() * 1000))
    elif scenario == "consume":
        topic, group, expression, expected, timeout = args[0], args[1], args[2], int(args[3]), float(args[4])
        orderly = len(args) > 5 and args[5] == "orderly"
        fail_first = len(args) > 5 and args[5] == "fail_first"
        consume(namesrv, group, topic, expression, expected, timeout, orderly=orderly, fail_first=fail_first)
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
