"""What a send returns, and how the broker's response code maps to it (reference section 2).

``processSendResponse``: 0 → SEND_OK, 10 → FLUSH_DISK_TIMEOUT, 12 → FLUSH_SLAVE_TIMEOUT,
11 → SLAVE_NOT_AVAILABLE (the message IS stored in all four cases); anything else is an error.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rmqcore.message import MessageQueue


class SendStatus(enum.Enum):
    SEND_OK = "SEND_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"


_STATUS_BY_CODE = {
    0: SendStatus.SEND_OK,
    10: SendStatus.FLUSH_DISK_TIMEOUT,
    12: SendStatus.FLUSH_SLAVE_TIMEOUT,
    11: SendStatus.SLAVE_NOT_AVAILABLE,
}


def send_status_for_code(code: int) -> SendStatus | None:
    """The status for a stored message, or None when ``code`` means the send failed.

    >>> send_status_for_code(10), send_status_for_code(17)
    (<SendStatus.FLUSH_DISK_TIMEOUT: 'FLUSH_DISK_TIMEOUT'>, None)
    """
    return _STATUS_BY_CODE.get(code)


@dataclass(frozen=True, slots=True)
class SendResult:
    """``msg_id`` is the client's UNIQ_KEY (comma-joined for a batch); ``offset_msg_id`` the broker's
    offset message id, from which END_TRANSACTION and view-by-id derive the commitlog offset."""

    status: SendStatus
    msg_id: str | None
    offset_msg_id: str | None
    message_queue: MessageQueue
    queue_offset: int
    transaction_id: str | None = None

    def __str__(self) -> str:
        return (
            f"SendResult [sendStatus={self.status.value}, msgId={self.msg_id}, offsetMsgId={self.offset_msg_id}, "
            f"messageQueue={self.message_queue}, queueOffset={self.queue_offset}]"
        )
