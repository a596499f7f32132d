"""Response consumer: answers each request message with a reply (RocketMQ example: rpc/ResponseConsumer).

The reply is made with create_reply_message (it goes to <cluster>_REPLY_TOPIC with the
request's correlation id) and sent with an ordinary producer; the broker pushes it to
the client that sent the request.
"""

import argparse
import os

import anyio

from rmqcore.client import ConsumeConcurrentlyStatus, Producer, PushConsumer, create_reply_message
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    answered = 0
    enough = anyio.Event()
    async with Producer(args.reply_group, namesrv_addr=args.namesrv) as replier:
        consumer = PushConsumer(args.group, namesrv_addr=args.namesrv, consume_from_where="CONSUME_FROM_LAST_OFFSET")
        consumer.subscribe(args.topic, "*")

        async def listener(msgs, context):
            nonlocal answered
            for msg in msgs:
                reply = create_reply_message(msg, b"reply to " + msg.body)
                result = await replier.send(reply, timeout=3)
                print(f"Answered {msg.body.decode()!r}: {result.status.name}", flush=True)
                answered += 1
            if args.count and answered >= args.count:
                enough.set()
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

        consumer.register_message_listener(listener)
        async with consumer:
            print("Consumer Started.", flush=True)
            with anyio.move_on_after(args.timeout):
                await enough.wait()


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="RequestTopic")
    parser.add_argument("--group", default="please_rename_unique_group_name")
    parser.add_argument("--reply-group", default="please_rename_unique_reply_group_name")
    parser.add_argument("--count", type=int, default=0, help="stop after answering this many requests (0: run until --timeout)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    anyio.run(main, parser.parse_args())
