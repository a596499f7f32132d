"""Broker administration (reference section 3): UPDATE_AND_CREATE_TOPIC (17)."""

from __future__ import annotations

from typing import ClassVar

from rmqcore.remoting._records import record
from rmqcore.remoting.codes import RequestCode
from rmqcore.remoting.headers._base import ExtHeader, JavaInt


@record
class CreateTopicRequestHeader(ExtHeader):
    """``topic_filter_type`` is ``SINGLE_TAG`` or ``MULTI_TAG``; ``attributes`` is the 5.x
    attribute string (``+key=value,...``), passed through."""

    REQUEST_CODES: ClassVar[tuple[int, ...]] = (RequestCode.UPDATE_AND_CREATE_TOPIC,)

    topic: str
    default_topic: str
    read_queue_nums: JavaInt
    write_queue_nums: JavaInt
    perm: JavaInt
    topic_filter_type: str
    order: bool = False
    topic_sys_flag: JavaInt | None = None
    attributes: str | None = None
    force: bool = False
