"""``ClientAPI``: every request the client makes, built from typed headers, answers judged.

One method per request (``MQClientAPIImpl``): it builds the ``RemotingCommand`` with the
``rmqcore.remoting`` header class, invokes it through the :class:`RemotingClient`, and turns
the response into a value or a typed error (:class:`MQBrokerError` with the broker's code and
remark; transport failures pass through as ``RemotingTimeoutError``/``RemotingConnectError``).
Name-server requests try each configured name server in turn, starting with the last one
that answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from rmqcore.client.errors import MQBrokerError, MQClientError, RemotingError
from rmqcore.client.pull_result import PullResult, pull_status_for_code
from rmqcore.client.remoting_client import RemotingClient
from rmqcore.client.request_reply import is_reply_property_string
from rmqcore.client.send_result import SendResult, send_status_for_code
from rmqcore.message import MessageExt, MessageQueue, decode_stored_message, decode_stored_messages
from rmqcore.remoting import CURRENT_VERSION, LanguageCode, RemotingCommand, RequestCode, ResponseCode, make_request
from rmqcore.remoting import headers as H

log = structlog.get_logger(__name__)

LANGUAGE = LanguageCode.PYTHON
_SEND_V2 = int(RequestCode.SEND_MESSAGE_V2)
_SEND_BATCH = int(RequestCode.SEND_BATCH_MESSAGE)
_SEND_REPLY_V2 = int(RequestCode.SEND_REPLY_MESSAGE_V2)


def request(code: int, header: Any = None, body: bytes | None = None) -> RemotingCommand:
    return make_request(code, header, body, language=LANGUAGE)


def send_request(ext: dict[str, str], body: bytes, batch: bool) -> RemotingCommand:
    """SEND_MESSAGE_V2 (SEND_BATCH_MESSAGE for a batch) with its extFields already written;
    a reply (MSG_TYPE=reply in the properties, see request_reply.py) goes as SEND_REPLY_MESSAGE_V2."""
    if batch:
        code = _SEND_BATCH
    else:
        code = _SEND_REPLY_V2 if is_reply_property_string(ext.get("i") or "") else _SEND_V2
    return RemotingCommand(code, LANGUAGE, CURRENT_VERSION, 0, 0, None, ext, body)


def check(response: RemotingCommand, addr: str, *ok: int) -> RemotingCommand:
    """Raise :class:`MQBrokerError` unless ``response.code`` is SUCCESS or one of ``ok``."""
    if response.code == ResponseCode.SUCCESS or response.code in ok:
        return response
    raise MQBrokerError(response.code, response.remark, addr)


class ClientAPI:
    def __init__(self, remoting: RemotingClient, namesrv_addrs: Sequence[str], timeout: float = 3.0) -> None:
        self.remoting = remoting
        self.namesrv_addrs = list(namesrv_addrs)
        self.timeout = timeout
        self._namesrv_index = 0

    # -- name server ------------------------------------------------------------------------
    async def invoke_namesrv(self, cmd: RemotingCommand, timeout: float | None = None) -> tuple[str, RemotingCommand]:
        if not self.namesrv_addrs:
            raise MQClientError("no name server address configured (namesrv_addr / NAMESRV_ADDR)")
        last_error: RemotingError | None = None
        n = len(self.namesrv_addrs)
        for i in range(n):
            index = (self._namesrv_index + i) % n
            addr = self.namesrv_addrs[index]
            try:
                response = await self.remoting.invoke(addr, cmd, timeout or self.timeout)
            except RemotingError as exc:
                last_error = exc
                continue
            self._namesrv_index = index
            return addr, response
        assert last_error is not None
        raise last_error

    # -- send -------------------------------------------------------------------------------
    async def send_message(
        self,
        addr: str,
        mq: MessageQueue,
        header: H.SendMessageRequestHeader,
        body: bytes,
        *,
        uniq_id: str | None,
        timeout: float,
        batch: bool = False,
    ) -> SendResult:
        ext = H.encode_send_request_ext(header, v2=True)
        return await self.send_message_ext(addr, mq, ext, body, uniq_id=uniq_id, timeout=timeout, batch=batch)

    async def send_message_ext(
        self,
        addr: str,
        mq: MessageQueue,
        ext: dict[str, str],
        body: bytes,
        *,
        uniq_id: str | None,
        timeout: float,
        batch: bool = False,
    ) -> SendResult:
        """:meth:`send_message` with the V2 extFields already written (the producer's hot path)."""
        response = await self.remoting.invoke(addr, send_request(ext, body, batch), timeout)
        return self.process_send_response(addr, mq, response, uniq_id)

    async def send_message_oneway(self, addr: str, header: H.SendMessageRequestHeader, body: bytes, batch: bool = False) -> None:
        await self.send_message_oneway_ext(addr, H.encode_send_request_ext(header, v2=True), body, batch)

    async def send_message_oneway_ext(self, addr: str, ext: dict[str, str], body: bytes, batch: bool = False) -> None:
        await self.remoting.invoke_oneway(addr, send_request(ext, body, batch))

    @staticmethod
    def process_send_response(addr: str, mq: MessageQueue, response: RemotingCommand, uniq_id: str | None) -> SendResult:
        status = send_status_for_code(response.code)
        if status is None:
            raise MQBrokerError(response.code, response.remark, addr)
        rh = H.SendMessageResponseHeader.from_ext(response.ext_fields)
        # The broker answers with the queue it stored to: the one asked for, unless it picked.
        queue = mq if rh.queue_id == mq.queue_id else MessageQueue(mq.topic, mq.broker_name, rh.queue_id)
        return SendResult(status, uniq_id, rh.msg_id, queue, rh.queue_offset, rh.transaction_id)

    # -- pull -------------------------------------------------------------------------------
    async def pull_message(self, addr: str, header: H.PullMessageRequestHeader, timeout: float) -> PullResult:
        response = await self.remoting.invoke(addr, request(RequestCode.PULL_MESSAGE, header), timeout)
        return self.process_pull_response(addr, response)

    @staticmethod
    def process_pull_response(addr: str, response: RemotingCommand) -> PullResult:
        """A PULL_MESSAGE answer as a PullResult (body still encoded), or MQBrokerError."""
        status = pull_status_for_code(response.code)
        if status is None:
            raise MQBrokerError(response.code, response.remark, addr)
        rh = H.PullMessageResponseHeader.from_ext(response.ext_fields)
        return PullResult(
            status=status,
            next_begin_offset=rh.next_begin_offset,
            min_offset=rh.min_offset,
            max_offset=rh.max_offset,
            suggest_which_broker_id=rh.suggest_which_broker_id,
            body=response.body,
        )

    # -- offsets ----------------------------------------------------------------------------
    async def query_consumer_offset(self, addr: str, group: str, mq: MessageQueue) -> int:
        header = H.QueryConsumerOffsetRequestHeader(group, mq.topic, mq.queue_id)
        response = check(await self.remoting.invoke(addr, request(RequestCode.QUERY_CONSUMER_OFFSET, header), self.timeout), addr)
        return H.QueryConsumerOffsetResponseHeader.from_ext(response.ext_fields).offset

    async def update_consumer_offset(self, addr: str, group: str, mq: MessageQueue, offset: int) -> None:
        header = H.UpdateConsumerOffsetRequestHeader(group, mq.topic, mq.queue_id, offset)
        check(await self.remoting.invoke(addr, request(RequestCode.UPDATE_CONSUMER_OFFSET, header), self.timeout), addr)

    async def get_max_offset(self, addr: str, mq: MessageQueue) -> int:
        header = H.GetMaxOffsetRequestHeader(mq.topic, mq.queue_id)
        response = check(await self.remoting.invoke(addr, request(RequestCode.GET_MAX_OFFSET, header), self.timeout), addr)
        return H.GetMaxOffsetResponseHeader.from_ext(response.ext_fields).offset

    async def get_min_offset(self, addr: str, mq: MessageQueue) -> int:
        header = H.GetMinOffsetRequestHeader(mq.topic, mq.queue_id)
        response = check(await self.remoting.invoke(addr, request(RequestCode.GET_MIN_OFFSET, header), self.timeout), addr)
        return H.GetMinOffsetResponseHeader.from_ext(response.ext_fields).offset

    async def search_offset(self, addr: str, mq: MessageQueue, timestamp_ms: int) -> int:
        header = H.SearchOffsetRequestHeader(mq.topic, mq.queue_id, timestamp_ms)
        response = check(await self.remoting.invoke(addr, request(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, header), self.timeout), addr)
        return H.SearchOffsetResponseHeader.from_ext(response.ext_fields).offset

    # -- consumer ---------------------------------------------------------------------------
    async def consumer_send_msg_back(self, addr: str, header: H.ConsumerSendMsgBackRequestHeader, timeout: float) -> None:
        check(await self.remoting.invoke(addr, request(RequestCode.CONSUMER_SEND_MSG_BACK, header), timeout), addr)

    async def unregister_client(self, addr: str, client_id: str, producer_group: str | None, consumer_group: str | None) -> None:
        header = H.UnregisterClientRequestHeader(client_id, producer_group, consumer_group)
        check(await self.remoting.invoke(addr, request(RequestCode.UNREGISTER_CLIENT, header), self.timeout), addr)

    # -- transactions -----------------------------------------------------------------------
    async def end_transaction_oneway(self, addr: str, header: H.EndTransactionRequestHeader, remark: str | None) -> None:
        cmd = request(RequestCode.END_TRANSACTION, header)
        cmd.remark = remark
        await self.remoting.invoke_oneway(addr, cmd)

    # -- admin ------------------------------------------------------------------------------
    async def create_topic(self, addr: str, header: H.CreateTopicRequestHeader) -> None:
        check(await self.remoting.invoke(addr, request(RequestCode.UPDATE_AND_CREATE_TOPIC, header), self.timeout), addr)

    async def query_message(self, addr: str, topic: str, key: str, max_num: int, begin_ms: int, end_ms: int, unique: bool = False) -> list[MessageExt]:
        header = H.QueryMessageRequestHeader(topic, key, max_num, begin_ms, end_ms)
        ext = header.to_ext()
        if unique:
            ext[H.UNIQUE_KEY_QUERY] = "true"
        response = await self.remoting.invoke(addr, request(RequestCode.QUERY_MESSAGE, ext), self.timeout)
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return []
        check(response, addr)
        return decode_stored_messages(response.body or b"")

    async def view_message(self, addr: str, commitlog_offset: int) -> MessageExt:
        header = H.ViewMessageRequestHeader(commitlog_offset)
        response = check(await self.remoting.invoke(addr, request(RequestCode.VIEW_MESSAGE_BY_ID, header), self.timeout), addr)
        msg, _ = decode_stored_message(response.body or b"")
        return msg
