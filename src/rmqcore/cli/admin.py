"""``rmqcore admin <command>``: the mqadmin commands users know, over ``rmqcore.client.Admin``.

updateTopic, topicList, topicStatus, consumerProgress, queryMsgByKey, queryMsgById, clusterList;
options follow mqadmin's letters (-n name servers, -t topic, -g group, -c cluster, -b broker,
-r/-w queue counts, -k key, -i id; queryMsgById -g group -d clientId has that consumer
consume the message now, as mqadmin's does).
"""

from __future__ import annotations

import argparse
import datetime
import os

import anyio

from rmqcore.client import Admin, MQClientError, MessageExt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"), help="name server address(es), ';'-separated")
    sub = parser.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)
    p = sub.add_parser("updateTopic", help="create or update a topic")
    p.add_argument("-t", "--topic", required=True)
    p.add_argument("-c", "--cluster", default="DefaultCluster")
    p.add_argument("-b", "--broker-addr", default=None)
    p.add_argument("-r", "--read-queue-nums", type=int, default=8)
    p.add_argument("-w", "--write-queue-nums", type=int, default=8)
    p.add_argument("-p", "--perm", type=int, default=6)
    p.add_argument("-o", "--order", action="store_true")
    sub.add_parser("topicList", help="list all topics")
    p = sub.add_parser("topicStatus", help="min/max offset of every queue of a topic")
    p.add_argument("-t", "--topic", required=True)
    p = sub.add_parser("consumerProgress", help="committed offset and lag per queue for a group")
    p.add_argument("-g", "--group", required=True)
    p.add_argument("-t", "--topic", action="append", default=None)
    p = sub.add_parser("queryMsgByKey", help="messages of a topic by key")
    p.add_argument("-t", "--topic", required=True)
    p.add_argument("-k", "--key", required=True)
    p = sub.add_parser("queryMsgById", help="a message by offset message id (or by UNIQ_KEY with -t)")
    p.add_argument("-i", "--id", required=True)
    p.add_argument("-t", "--topic", default=None)
    p.add_argument("-g", "--group", default=None, help="with -d: have this group's consumer consume the message now")
    p.add_argument("-d", "--client-id", default=None, help="with -g: the consumer's client id")
    sub.add_parser("clusterList", help="clusters, their brokers and addresses")


def _ts(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]


def _print_message(msg: MessageExt) -> None:
    print(f"OffsetID:            {msg.offset_msg_id}")
    print(f"Topic:               {msg.topic}")
    print(f"Tags:                [{msg.tags or ''}]")
    print(f"Keys:                [{' '.join(msg.keys)}]")
    print(f"Queue ID:            {msg.queue_id}")
    print(f"Queue Offset:        {msg.queue_offset}")
    print(f"CommitLog Offset:    {msg.commitlog_offset}")
    print(f"Reconsume Times:     {msg.reconsume_times}")
    print(f"Born Timestamp:      {_ts(msg.born_timestamp)}")
    print(f"Store Timestamp:     {_ts(msg.store_timestamp)}")
    print(f"Born Host:           {msg.born_host[0]}:{msg.born_host[1]}")
    print(f"Store Host:          {msg.store_host[0]}:{msg.store_host[1]}")
    print(f"System Flag:         {msg.sys_flag}")
    print(f"Properties:          {msg.properties}")
    print(f"Message Body:        {msg.body.decode('utf-8', errors='replace')}")


async def _run(args: argparse.Namespace) -> int:
    cmd = args.admin_command
    async with Admin(args.namesrv) as admin:
        if cmd == "updateTopic":
            addrs = await admin.create_topic(
                args.topic, cluster=args.cluster, broker_addr=args.broker_addr, read_queue_nums=args.read_queue_nums,
                write_queue_nums=args.write_queue_nums, perm=args.perm, order=args.order,
            )
            for addr in addrs:
                print(f"create topic to {addr} success.")
            print(f"TopicConfig [topicName={args.topic}, readQueueNums={args.read_queue_nums}, "
                  f"writeQueueNums={args.write_queue_nums}, perm={args.perm}, order={str(args.order).lower()}]")
        elif cmd == "topicList":
            for topic in await admin.topic_list():
                print(topic)
        elif cmd == "topicStatus":
            print(f"{'#Broker Name':<32}  {'#QID':<4}  {'#Min Offset':<20}  {'#Max Offset':<20}")
            for row in await admin.topic_status(args.topic):
                mq = row.message_queue
                print(f"{mq.broker_name:<32}  {mq.queue_id:<4}  {row.min_offset:<20}  {row.max_offset:<20}")
        elif cmd == "consumerProgress":
            rows = await admin.consumer_progress(args.group, args.topic)
            print(f"{'#Topic':<32}  {'#Broker Name':<32}  {'#QID':<4}  {'#Broker Offset':<20}  {'#Consumer Offset':<20}  {'#Diff':<18}")
            total = 0
            for progress in rows:
                mq = progress.message_queue
                total += progress.lag
                print(f"{mq.topic:<32}  {mq.broker_name:<32}  {mq.queue_id:<4}  {progress.broker_offset:<20}  {progress.consumer_offset:<20}  {progress.lag:<18}")
            print()
            print(f"Diff Total: {total}")
        elif cmd == "queryMsgByKey":
            print(f"{'#Message ID':<40}  {'#QID':<4}  {'#Offset':<10}")
            for msg in await admin.query_msg_by_key(args.topic, args.key):
                print(f"{msg.msg_id or '':<40}  {msg.queue_id:<4}  {msg.queue_offset:<10}")
        elif cmd == "queryMsgById" and args.group and args.client_id:
            result = await admin.consume_message_directly(args.group, args.client_id, args.id, args.topic)
            print(
                f"ConsumeMessageDirectlyResult [order={str(result.order).lower()}, "
                f"autoCommit={str(result.auto_commit).lower()}, consumeResult={result.consume_result}, "
                f"remark={result.remark}, spentTimeMills={result.spent_time_mills}]"
            )
        elif cmd == "queryMsgById":
            _print_message(await admin.query_msg_by_id(args.id, args.topic))
        elif cmd == "clusterList":
            info = await admin.cluster_info()
            print(f"{'#Cluster Name':<22}  {'#Broker Name':<22}  {'#BID':<4}  {'#Addr':<22}")
            for cluster, names in sorted(info.cluster_addr_table.items()):
                for name in sorted(names):
                    bd = info.broker_addr_table.get(name)
                    for bid, addr in sorted((bd.broker_addrs if bd else {}).items()):
                        print(f"{cluster:<22}  {name:<22}  {bid:<4}  {addr:<22}")
    return 0


def run(args: argparse.Namespace) -> int:
    from rmqcore.logs import configure_logging

    configure_logging("warning")
    try:
        return anyio.run(_run, args)
    except MQClientError as exc:
        print(f"{args.admin_command} command failed: {exc}")
        return 1
