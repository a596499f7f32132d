"""Start-time checks of client settings, as the Java clients' ``checkConfig`` and
``Validators.checkGroup`` make them: a client with a bad group name or a setting out of
its range refuses to start with an :class:`MQClientError` naming the setting, instead of
failing later in a way that hides the cause.

>>> check_group("please_rename_unique_group_name")
>>> check_range("pullBatchSize", 0, 1, 1024)
Traceback (most recent call last):
...
rmqcore.client.errors.MQClientError: pullBatchSize Out of range [1, 1024]
"""

from __future__ import annotations

import re

from rmqcore.client.errors import MQClientError
from rmqcore.message import constants as C

# TopicValidator.VALID_PATTERN_STR and Validators.CHARACTER_MAX_LENGTH
_VALID_NAME = re.compile(C.VALID_NAME_PATTERN)
GROUP_MAX_LENGTH = 255
DEFAULT_PRODUCER_GROUP = "DEFAULT_PRODUCER"
DEFAULT_CONSUMER_GROUP = "DEFAULT_CONSUMER"


def check_group(group: str) -> None:
    """``Validators.checkGroup``: not blank, at most 255 characters, only ``[%|a-zA-Z0-9_-]``."""
    if not group or not group.strip():
        raise MQClientError("the specified group is blank")
    if len(group) > GROUP_MAX_LENGTH:
        raise MQClientError(f"the specified group is longer than group max length {GROUP_MAX_LENGTH}.")
    if not _VALID_NAME.match(group):
        raise MQClientError(f"the specified group[{group}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")


def check_topic(topic: str) -> None:
    """``Validators.checkTopic`` and ``isNotAllowedSendTopic``: a topic a producer may send to.

    >>> check_topic("SCHEDULE_TOPIC_XXXX")
    Traceback (most recent call last):
    ...
    rmqcore.client.errors.MQClientError: Sending message to topic[SCHEDULE_TOPIC_XXXX] is forbidden.
    """
    if not topic or not topic.strip():
        raise MQClientError("the specified topic is blank")
    if len(topic) > C.MAX_TOPIC_LENGTH:
        raise MQClientError(f"the specified topic is longer than topic max length {C.MAX_TOPIC_LENGTH}")
    if not _VALID_NAME.match(topic):
        raise MQClientError(f"the specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")
    if topic in C.NOT_ALLOWED_SEND_TOPICS:
        raise MQClientError(f"Sending message to topic[{topic}] is forbidden.")


def check_producer_group(group: str) -> None:
    """:func:`check_group`, and not the reserved ``DEFAULT_PRODUCER``."""
    _check_role_group(group, DEFAULT_PRODUCER_GROUP, "producerGroup")


def check_consumer_group(group: str) -> None:
    """:func:`check_group`, and not the reserved ``DEFAULT_CONSUMER``."""
    _check_role_group(group, DEFAULT_CONSUMER_GROUP, "consumerGroup")


def _check_role_group(group: str, default: str, role: str) -> None:
    check_group(group)
    if group == default:
        raise MQClientError(f"{role} can not equal {default}, please specify another one.")


def check_range(name: str, value: float, low: float, high: float) -> None:
    """``name`` (the Java setting's name) must lie in ``[low, high]``."""
    if not low <= value <= high:
        raise MQClientError(f"{name} Out of range [{_num(low)}, {_num(high)}]")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
