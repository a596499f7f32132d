"""Broadcasting consumer: every consumer of the group gets every message; offsets are kept in a
local file (tutorial: broadcast PushConsumer)."""

import argparse
import os

import anyio

from rmqcore.client import ConsumeConcurrentlyStatus, PushConsumer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    consumer = PushConsumer(
        args.group,
        namesrv_addr=args.namesrv,
        instance_name=args.instance_name,
        message_model="BROADCASTING",
        consume_from_where="CONSUME_FROM_FIRST_OFFSET",
        offset_store_dir=args.offset_dir,
    )
    consumer.subscribe(args.topic, "TagA || TagC || TagD")
    received = 0
    enough = anyio.Event()

    async def listener(msgs, context):
        nonlocal received
        for msg in msgs:
            print(f"Receive New Messages: {msg.body.decode()} tags={msg.tags}")
        received += len(msgs)
        if args.count and received >= args.count:
            enough.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer.register_message_listener(listener)
    async with consumer:
        print("Broadcast Consumer Started.")
        with anyio.move_on_after(args.timeout):
            await enough.wait()


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="please_rename_unique_group_name_1")
    parser.add_argument("--instance-name", default=None, help="distinct per consumer when several run on one host")
    parser.add_argument("--offset-dir", default=None, help="local offset store directory (default ~/.rocketmq_offsets)")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
