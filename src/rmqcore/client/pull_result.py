"""Pull results: the status mapping and the client-side processing of a pull body.

Response code → status is ``MQClientAPIImpl.processPullResponse`` (reference section 2):
0 FOUND, 19 NO_NEW_MSG, 20 NO_MATCHED_MSG, 21 OFFSET_ILLEGAL, anything else an error.
``process_pull_result`` is ``PullAPIWrapper.processPullResult``: decode the stored records,
drop those whose tag the subscription does not name (the broker filters by tag *hash*, so
collisions get through), and stamp MIN_OFFSET / MAX_OFFSET on each message.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field

from rmqcore.message import MessageExt, MessageQueue, decode_stored_messages
from rmqcore.message import constants as C


class PullStatus(enum.Enum):
    FOUND = "FOUND"
    NO_NEW_MSG = "NO_NEW_MSG"
    NO_MATCHED_MSG = "NO_MATCHED_MSG"
    OFFSET_ILLEGAL = "OFFSET_ILLEGAL"


_STATUS_BY_CODE = {0: PullStatus.FOUND, 19: PullStatus.NO_NEW_MSG, 20: PullStatus.NO_MATCHED_MSG, 21: PullStatus.OFFSET_ILLEGAL}


def pull_status_for_code(code: int) -> PullStatus | None:
    """>>> pull_status_for_code(19), pull_status_for_code(1)
    (<PullStatus.NO_NEW_MSG: 'NO_NEW_MSG'>, None)
    """
    return _STATUS_BY_CODE.get(code)


@dataclass(slots=True)
class PullResult:
    status: PullStatus
    next_begin_offset: int
    min_offset: int
    max_offset: int
    msg_found_list: list[MessageExt] = field(default_factory=list)
    suggest_which_broker_id: int = 0
    body: bytes | None = None

    def __str__(self) -> str:
        return (
            f"PullResult [pullStatus={self.status.value}, nextBeginOffset={self.next_begin_offset}, "
            f"minOffset={self.min_offset}, maxOffset={self.max_offset}, msgFoundList={len(self.msg_found_list)}]"
        )


def process_pull_result(
    mq: MessageQueue, result: PullResult, tags_filter: Collection[str] | None = None
) -> PullResult:
    """Decode ``result.body`` into ``msg_found_list`` (FOUND only), re-filtering by exact tag.

    ``tags_filter`` is the subscription's tag set; None or empty means no tag filter
    (``*`` or an SQL92 subscription, which the broker evaluated exactly).
    """
    if result.status is PullStatus.FOUND and result.body:
        msgs = decode_stored_messages(result.body)
        if tags_filter:
            msgs = [m for m in msgs if m.properties.get(C.PROPERTY_TAGS) in tags_filter]
        min_s, max_s = str(result.min_offset), str(result.max_offset)
        broker = mq.broker_name
        for m in msgs:
            props = m.properties
            if props.get(C.PROPERTY_TRANSACTION_PREPARED) == "true":
                m.transaction_id = props.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            props[C.PROPERTY_MIN_OFFSET] = min_s
            props[C.PROPERTY_MAX_OFFSET] = max_s
            m.broker_name = broker
        result.msg_found_list = msgs
    result.body = None
    return result
