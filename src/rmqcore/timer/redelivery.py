"""The re-put of a due message to its real topic, shared by the schedule and timer services.

A store failure must not stop the delivery loop: a refusal that no retry can fix (the store
raises a ``ValueError`` such as MessageIllegalError, or answers MESSAGE_ILLEGAL /
PROPERTIES_SIZE_EXCEEDED) drops the message with an error log; any other failure leaves it
to be retried by a later tick (section 7: 10 000 ms after an error).
"""

from __future__ import annotations

import enum
from typing import Any

import structlog

from rmqcore.message import MessageExt

from rmqcore.timer.store_protocol import DelayStore, put_is_illegal, put_succeeded

log = structlog.get_logger(__name__)


class Redelivery(enum.Enum):
    DELIVERED = "delivered"
    DROPPED = "dropped"  # can never be stored (or has nowhere to go): progress moves past it
    RETRY = "retry"  # try again later: progress stays before it


def redeliver(store: DelayStore, real: MessageExt, queue_id: int, event: str, **context: Any) -> Redelivery:
    """Put ``real`` to ``queue_id`` of its topic; log ``event`` with ``context`` on failure."""
    try:
        result = store.put(real, queue_id)
    except ValueError as exc:
        log.error(event, **context, topic=real.topic, error=repr(exc), action="dropped: it can never be stored")
        return Redelivery.DROPPED
    except Exception as exc:
        log.error(event, **context, topic=real.topic, error=repr(exc), action="retried later")
        return Redelivery.RETRY
    if put_succeeded(result):
        return Redelivery.DELIVERED
    if put_is_illegal(result):
        log.error(event, **context, topic=real.topic, result=repr(result), action="dropped: it can never be stored")
        return Redelivery.DROPPED
    log.error(event, **context, topic=real.topic, result=repr(result), action="retried later")
    return Redelivery.RETRY
