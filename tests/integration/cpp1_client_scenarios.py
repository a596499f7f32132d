"""Scenarios driven with the real C++ RocketMQ client 1.x (PyPI ``rocketmq==0.4.4``, librocketmq 1.0.x).

That client sends SEND_MESSAGE (10) rather than V2, language CPP, version 63, a JSON header
ending in a newline, and extFields AccessKey/OnsChannel/Signature. Its package name
``rocketmq`` clashes with ``rocketmq-python-cvs`` (the 2.x client), so this script only
runs in a subprocess whose PYTHONPATH points at the separate install directory.

Run as ``python cpp1_client_scenarios.py SCENARIO NAMESRV [args]``; each prints one JSON
object per line and ends with ``os._exit`` (the native library may crash during shutdown,
so the parent judges only what was printed).

Scenarios:
  produce TOPIC COUNT PREFIX MODE [TAGS]
      MODE: sync | async | oneway | batch | orderly:ARG | oneway_orderly:ARG
      (ARG goes to the library's hashing queue selector: queue = ARG % queue count). The
      oneway modes end with one synchronous send on the same connection (body PREFIX-fence),
      so every oneway request has been written before the process exits.
  pull TOPIC GROUP EXPRESSION EXPECTED TIMEOUT
  consume TOPIC GROUP EXPRESSION EXPECTED TIMEOUT [orderly]
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def message(topic: str, body: str, tags: str | None, keys: str):
    from rocketmq.client import Message

    m = Message(topic)
    m.set_body(body)
    if tags:
        m.set_tags(tags)
    m.set_keys(keys)
    m.set_property("seq", body.rsplit("-", 1)[1])
    return m


def fence(p, topic: str, prefix: str, arg: int | None = None, selector=None) -> None:
    """A synchronous send after oneway ones: its answer means the earlier requests were written."""
    m = message(topic, f"{prefix}-fence", "Fence", f"key-{prefix}-fence")
    result = p.send_sync(m) if arg is None else p.send_orderly(m, arg, queue_selector=selector)
    emit(event="fence", status=int(result.status), msg_id=result.msg_id, offset=result.offset)


def produce(namesrv: str, topic: str, count: int, prefix: str, mode: str, tags: list[str]) -> None:
    from rocketmq.client import Producer, hashing_queue_selector

    p = Producer(f"PG1_{prefix}")
    p.set_namesrv_addr(namesrv)
    p.start()
    emit(event="producer_started")

    def msg(i: int):
        tag = tags[i % len(tags)]
        return tag, message(topic, f"{prefix}-{i}", tag or None, f"key-{prefix}-{i}")

    if mode == "sync":
        for i in range(count):
            tag, m = msg(i)
            result = p.send_sync(m)
            emit(event="sent", i=i, status=int(result.status), msg_id=result.msg_id, offset=result.offset, tags=tag)
    elif mode == "oneway":
        for i in range(count):
            tag, m = msg(i)
            p.send_oneway(m)
            emit(event="sent_oneway", i=i, tags=tag)
        fence(p, topic, prefix)
    elif mode == "async":
        done = threading.Event()
        lock = threading.Lock()
        finished = [0]
        pending = []  # keep the Message objects alive until their callbacks ran

        def finish(**fields: object) -> None:
            with lock:
                emit(**fields)
                finished[0] += 1
                if finished[0] == count:
                    done.set()

        for i in range(count):
            tag, m = msg(i)
            pending.append(m)
            p.send_async(
                m,
                lambda r, i=i, tag=tag: finish(event="sent", i=i, status=int(r.status), msg_id=r.msg_id, offset=r.offset, tags=tag),
                lambda exc, i=i: finish(event="send_failed", i=i, error=str(exc)),
            )
        if not done.wait(20):
            emit(event="async_timeout", finished=finished[0])
    elif mode == "batch":
        batch = [msg(i)[1] for i in range(count)]
        result = p.send_batch(batch)
        emit(event="sent_batch", status=int(result.status), msg_id=result.msg_id, offset=result.offset)
    elif mode.startswith(("orderly:", "oneway_orderly:")):
        arg = int(mode.split(":", 1)[1])

        def selector(mq_size: int, m, user_arg) -> int:
            queue = hashing_queue_selector(mq_size, m, user_arg)  # the library's default: arg % queue count
            emit(event="selected", mq_size=mq_size, queue_id=queue)
            return queue

        for i in range(count):
            tag, m = msg(i)
            if mode.startswith("oneway_orderly:"):
                p.send_oneway_orderly(m, arg, queue_selector=selector)
                emit(event="sent_oneway", i=i, tags=tag)
            else:
                result = p.send_orderly(m, arg, queue_selector=selector)
                emit(event="sent", i=i, status=int(result.status), msg_id=result.msg_id, offset=result.offset, tags=tag)
        if mode.startswith("oneway_orderly:"):
            fence(p, topic, prefix, arg, selector)
    else:
        raise SystemExit(f"unknown produce mode {mode}")
    emit(event="produce_done")


def pull(namesrv: str, topic: str, group: str, expression: str, expected: int, timeout: float) -> None:
    """PullConsumer over every queue of the topic, as ``PullConsumer.pull`` does, but bounded in time."""
    from rocketmq.client import PullConsumer, RecvMessage
    from rocketmq.exceptions import ffi_check
    from rocketmq.ffi import _CMessageQueue, _CPullStatus, dll

    c = PullConsumer(group)
    c.set_namesrv_addr(namesrv)
    c.start()
    emit(event="consumer_started")
    queues = ctypes.POINTER(_CMessageQueue)()
    size = ctypes.c_int()
    ffi_check(dll.FetchSubscriptionMessageQueues(c._handle, topic.encode(), ctypes.pointer(queues), ctypes.pointer(size)))
    mqs = [queues[i] for i in range(size.value)]
    emit(event="queues", queue_ids=sorted(mq.queueId for mq in mqs))
    offsets = {mq.queueId: 0 for mq in mqs}
    received = 0
    deadline = time.monotonic() + timeout
    while received < expected and time.monotonic() < deadline:
        for mq in mqs:
            while time.monotonic() < deadline:
                res = dll.Pull(c._handle, ctypes.pointer(mq), expression.encode(), ctypes.c_longlong(offsets[mq.queueId]), 32)
                status = _CPullStatus(res.pullStatus).name
                emit(event="pull_status", queue_id=mq.queueId, offset=offsets[mq.queueId], status=status,
                     next=res.nextBeginOffset, min=res.minOffset, max=res.maxOffset, size=res.size)
                if res.pullStatus != _CPullStatus.BROKER_TIMEOUT:
                    offsets[mq.queueId] = res.nextBeginOffset
                if res.pullStatus == _CPullStatus.FOUND:
                    for i in range(res.size):
                        m = RecvMessage(res.msgFoundList[i])
                        emit(event="received", body=text(m.body), tags=text(m.tags), keys=text(m.keys), seq=text(m.get_property("seq")),
                             msg_id=m.id, queue_id=m.queue_id, queue_offset=m.queue_offset)
                        received += 1
                stop = res.pullStatus in (_CPullStatus.NO_NEW_MSG, _CPullStatus.OFFSET_ILLEGAL, _CPullStatus.BROKER_TIMEOUT)
                dll.ReleasePullResult(res)
                if stop:
                    break
    ffi_check(dll.ReleaseSubscriptionMessageQueue(queues))
    emit(event="consumer_done", received=received)


def consume(namesrv: str, topic: str, group: str, expression: str, expected: int, timeout: float, orderly: bool) -> None:
    from rocketmq.client import PushConsumer

    done = threading.Event()
    lock = threading.Lock()
    seen: list[str] = []

    def on_message(m) -> None:
        # Returning normally is CONSUME_SUCCESS in the 0.4.4 wrapper.
        with lock:
            emit(event="received", body=text(m.body), tags=text(m.tags), keys=text(m.keys), queue_id=m.queue_id,
                 queue_offset=m.queue_offset, reconsume_times=m.reconsume_times, thread=threading.get_ident())
            seen.append(text(m.body))
            if len(seen) >= expected:
                done.set()

    c = PushConsumer(group, orderly=orderly)
    c.set_namesrv_addr(namesrv)
    c.subscribe(topic, on_message, expression)
    c.start()
    emit(event="consumer_started")
    done.wait(timeout)
    with lock:
        emit(event="consumer_done", received=len(seen))


def main() -> None:
    scenario, namesrv = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    import rocketmq
    from rocketmq.ffi import _DYLIB_PATH

    # Which client this is: PYTHONPATH must win over the 2.x package in site-packages.
    emit(event="library", package=rocketmq.__file__, dylib=_DYLIB_PATH)
    if scenario == "produce":
        topic, count, prefix, mode = args[0], int(args[1]), args[2], args[3]
        tags = args[4].split(",") if len(args) > 4 else [""]
        produce(namesrv, topic, count, prefix, mode, tags)
    elif scenario == "pull":
        pull(namesrv, args[0], args[1], args[2], int(args[3]), float(args[4]))
    elif scenario == "consume":
        consume(namesrv, args[0], args[1], args[2], int(args[3]), float(args[4]), orderly=args[5:] == ["orderly"])
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
