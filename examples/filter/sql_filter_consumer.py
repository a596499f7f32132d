"""Consume by SQL92 selector over tags and user properties (tutorial: SqlFilterConsumer).
The broker must run with enablePropertyFilter=true."""

import argparse
import os

import anyio

from rmqcore.client import ConsumeConcurrentlyStatus, MessageSelector, PushConsumer
from rmqcore.logs import configure_logging

SELECTOR = "(TAGS is not null and TAGS in ('TagA', 'TagC')) and (baiLi is not null and baiLi between 0 and 3)"


async def main(args: argparse.Namespace) -> None:
    consumer = PushConsumer(args.group, namesrv_addr=args.namesrv, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(args.topic, MessageSelector.by_sql(SELECTOR))
    received = 0
    enough = anyio.Event()

    async def listener(msgs, context):
        nonlocal received
        for msg in msgs:
            print(f"Receive New Messages: baiLi={msg.get_user_property('baiLi')} tags={msg.tags} body={msg.body.decode()}")
        received += len(msgs)
        if args.count and received >= args.count:
            enough.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer.register_message_listener(listener)
    async with consumer:
        print("Consumer Started.")
        with anyio.move_on_after(args.timeout):
            await enough.wait()


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="SqlFilterTest")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
