"""Lite pull consumer, assign mode: take the first half of the queues, start at offset 10 of the
first one, commit by hand (tutorial: LitePullConsumerAssign)."""

import argparse
import os

import anyio

from rmqcore.client import LitePullConsumer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with LitePullConsumer(args.group, namesrv_addr=args.namesrv, auto_commit=False) as consumer:
        queues = await consumer.fetch_message_queues(args.topic)
        assigned = queues[: len(queues) // 2]
        consumer.assign(assigned)
        await consumer.seek(assigned[0], 10)
        received = 0
        with anyio.move_on_after(args.timeout):
            while not args.count or received < args.count:
                msgs = await consumer.poll(timeout=1.0)
                for msg in msgs:
                    print(f"polled {msg.body.decode()} queue={msg.queue_id} offset={msg.queue_offset}")
                received += len(msgs)
                await consumer.commit()
        print(f"assigned {[mq.queue_id for mq in assigned]}; polled {received} messages")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TopicTest")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
