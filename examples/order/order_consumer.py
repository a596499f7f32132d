"""Orderly consumer: one queue is consumed by one worker at a time, in offset order, while this
client holds the queue's lock on the broker (tutorial: ordered message consumer)."""

import argparse
import os

import anyio

from rmqcore.client import ConsumeOrderlyStatus, PushConsumer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    consumer = PushConsumer(args.group, namesrv_addr=args.namesrv, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(args.topic, "TagA || TagC || TagD")
    received = 0
    enough = anyio.Event()

    async def listener(msgs, context):
        nonlocal received
        context.auto_commit = True
        for msg in msgs:
            print(f"queue={msg.queue_id} offset={msg.queue_offset} tags={msg.tags} body={msg.body.decode()}")
        received += len(msgs)
        if args.count and received >= args.count:
            enough.set()
        return ConsumeOrderlyStatus.SUCCESS

    consumer.register_message_listener(listener, orderly=True)
    async with consumer:
        print("Consumer Started.")
        with anyio.move_on_after(args.timeout):
            await enough.wait()


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="please_rename_unique_group_name_3")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
