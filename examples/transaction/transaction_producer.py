"""Transactional messages with the tutorial's five-tag listener (TransactionProducer +
TransactionListenerImpl): TagA commits at once, TagB rolls back at once, TagC commits when the
broker checks, TagD rolls back when checked, TagE stays unknown forever. Only TagA and TagC
messages ever reach consumers."""

import argparse
import os
import threading

import anyio

from rmqcore.client import LocalTransactionState, Message, TransactionProducer
from rmqcore.logs import configure_logging

TAGS = ["TagA", "TagB", "TagC", "TagD", "TagE"]


class TransactionListenerImpl:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local_trans: dict[str, str] = {}

    def execute_local_transaction(self, msg, arg):
        with self.lock:
            self.local_trans[msg.transaction_id] = msg.tags
        if msg.tags == "TagA":
            return LocalTransactionState.COMMIT_MESSAGE
        if msg.tags == "TagB":
            return LocalTransactionState.ROLLBACK_MESSAGE
        return LocalTransactionState.UNKNOW

    def check_local_transaction(self, msg):
        with self.lock:
            tag = self.local_trans.get(msg.transaction_id)
        state = {"TagC": LocalTransactionState.COMMIT_MESSAGE, "TagD": LocalTransactionState.ROLLBACK_MESSAGE}.get(
            tag, LocalTransactionState.UNKNOW
        )
        print(f"check {tag} -> {state.value}", flush=True)
        return state


async def main(args: argparse.Namespace) -> None:
    listener = TransactionListenerImpl()
    async with TransactionProducer(args.group, listener, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            tag = TAGS[i % len(TAGS)]
            msg = Message(args.topic, f"Hello RocketMQ {i}".encode(), tags=tag, keys=f"KEY{i}")
            result = await producer.send_in_transaction(msg, None)
            print(f"{result.status.value} {result.msg_id} tags={tag} local={result.local_transaction_state.value}", flush=True)
        # Stay up to answer the broker's checks for TagC / TagD / TagE.
        await anyio.sleep(args.linger)


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest1234")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--linger", type=float, default=100.0, help="seconds to keep answering transaction checks")
    anyio.run(main, parser.parse_args())
