"""Timer messages (5.x): delivered after a delay in milliseconds, or at a delivery time
(tutorial: timed/delay message producer). The first half of the messages uses a delay,
the second half an absolute delivery time the same distance ahead."""

import argparse
import os
import time

import anyio

from rmqcore.client import Message, Producer
from rmqcore.logs import configure_logging


async def main(args: argparse.Namespace) -> None:
    async with Producer(args.group, namesrv_addr=args.namesrv) as producer:
        for i in range(args.count):
            msg = Message(args.topic, f"Hello timer message {i}".encode())
            if i < args.count // 2 or args.count == 1:
                msg.delay_ms = args.delay_ms
                how = f"delayMs={args.delay_ms}"
            else:
                msg.deliver_time_ms = int(time.time() * 1000) + args.delay_ms
                how = f"deliverTimeMs={msg.deliver_time_ms}"
            result = await producer.send(msg)
            print(f"{result.status.value} {result.msg_id} {how}")


if __name__ == "__main__":
    configure_logging(os.environ.get("LOG_LEVEL", "warning"))  # logs go to stderr
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    parser.add_argument("--topic", default="TimerTopic")
    parser.add_argument("--group", default="TimerProducerGroup")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--delay-ms", type=int, default=10_000)
    anyio.run(main, parser.parse_args())
