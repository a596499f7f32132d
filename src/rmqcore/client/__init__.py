"""Producers and consumers for rmqcore's broker and for Apache RocketMQ 4.x/5.x clusters.

The client composes the pieces: ``rmqcore.remoting`` (wire codec), ``rmqcore.transport``
(connections), ``rmqcore.message`` (model and codecs), ``rmqcore.rebalance`` (queue
allocation), ``rmqcore.filter`` (tag expressions) and ``rmqcore.clock``. It never imports
``rmqcore.server``.

Async first (anyio); every client is an async context manager::

    async with Producer("pg", namesrv_addr="127.0.0.1:9876") as producer:
        result = await producer.send(Message("TopicTest", b"hello", tags="TagA"))

    consumer = PushConsumer("cg", namesrv_addr="127.0.0.1:9876")
    consumer.subscribe("TopicTest", "TagA || TagC")      # or MessageSelector.by_sql("...")
    consumer.register_message_listener(listener)          # orderly=True for ordered queues
    async with consumer:
        ...

* :class:`Producer`: ``send`` (one message, a list = one batch, ``selector=``/``arg=`` or ``mq=``
  for ordered sends), ``send_async`` (callbacks and an awaitable handle), ``send_oneway``;
  :func:`split_batch` keeps batches under the size limit.
  ``request`` sends a request and returns its reply; a consumer answers with
  :func:`create_reply_message` (request-reply, ``rmqcore.client.request_reply``).
* :class:`TransactionProducer`: ``send_in_transaction`` with a :class:`TransactionListener`.
* :class:`PushConsumer`, :class:`LitePullConsumer` (``poll``, ``assign``, ``seek``, ``commit``),
  :class:`PullConsumer` (raw ``pull``), :class:`Admin`.
* ``rmqcore.client.sync``: the same clients for synchronous scripts (``with sync.Producer(...) as p:``).
* Errors: :class:`MQBrokerError` (``code``, ``remark``), :class:`RemotingTimeoutError`,
  :class:`RemotingConnectError`, all :class:`MQClientError`.
"""

from rmqcore.client.admin import Admin
from rmqcore.client.batch import DEFAULT_BATCH_SIZE_LIMIT, message_size, split_batch
from rmqcore.client.config import ClientConfig
from rmqcore.client.errors import (
    ClientStateError,
    MQBrokerError,
    MQClientError,
    NoRouteError,
    RemotingConnectError,
    RemotingError,
    RemotingTimeoutError,
    RequestTimeoutError,
)
from rmqcore.client.listener import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    ConsumeOrderlyContext,
    ConsumeOrderlyStatus,
)
from rmqcore.client.lite_pull_consumer import LitePullConsumer
from rmqcore.client.producer import Producer, SendHandle
from rmqcore.client.pull_consumer import PullConsumer
from rmqcore.client.pull_result import PullResult, PullStatus
from rmqcore.client.push_consumer import PushConsumer
from rmqcore.client.remoting_client import RemotingClient
from rmqcore.client.request_reply import create_reply_message
from rmqcore.client.selectors import MessageQueueSelector, select_by_hash, select_by_random
from rmqcore.client.send_result import SendResult, SendStatus
from rmqcore.client.subscription import MessageSelector
from rmqcore.client.transaction import (
    LocalTransactionState,
    TransactionListener,
    TransactionProducer,
    TransactionSendResult,
)
from rmqcore.message import Message, MessageExt, MessageQueue
from rmqcore.remoting.bodies.heartbeat import ConsumeFromWhere, MessageModel

__all__ = [
    "DEFAULT_BATCH_SIZE_LIMIT",
    "Admin",
    "ClientConfig",
    "ClientStateError",
    "ConsumeConcurrentlyContext",
    "ConsumeConcurrentlyStatus",
    "ConsumeFromWhere",
    "ConsumeOrderlyContext",
    "ConsumeOrderlyStatus",
    "LitePullConsumer",
    "LocalTransactionState",
    "MQBrokerError",
    "MQClientError",
    "Message",
    "MessageExt",
    "MessageModel",
    "MessageQueue",
    "MessageQueueSelector",
    "MessageSelector",
    "NoRouteError",
    "Producer",
    "PullConsumer",
    "PullResult",
    "PullStatus",
    "PushConsumer",
    "RemotingClient",
    "RemotingConnectError",
    "RemotingError",
    "RemotingTimeoutError",
    "RequestTimeoutError",
    "SendHandle",
    "SendResult",
    "SendStatus",
    "TransactionListener",
    "TransactionProducer",
    "TransactionSendResult",
    "create_reply_message",
    "message_size",
    "select_by_hash",
    "select_by_random",
    "split_batch",
]
