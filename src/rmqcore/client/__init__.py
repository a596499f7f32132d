"""Producers and consumers for rmqcore's broker and for Apache RocketMQ 4.x/5.x clusters.

The client composes the pieces: ``rmqcore.remoting`` (wire codec), ``rmqcore.transport``
(connections), ``rmqcore.message`` (model and codecs), ``rmqcore.rebalance`` (queue
allocation) and ``rmqcore.clock``. It never imports ``rmqcore.server``.
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
    "SendHandle",
    "SendResult",
    "SendStatus",
    "TransactionListener",
    "TransactionProducer",
    "TransactionSendResult",
    "message_size",
    "select_by_hash",
    "select_by_random",
    "split_batch",
]
