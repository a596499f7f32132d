"""The broker's view of ``rmqcore.store``: opening it from a BrokerConfig, and put outcomes as responses.

Put outcomes map to response codes as ``SendMessageProcessor.handlePutMessageResult``
does (reference section 2): MESSAGE_ILLEGAL and PROPERTIES_SIZE_EXCEEDED → 13;
SERVICE_NOT_AVAILABLE and a full disk → 14 (RocketMQ marks a full disk as not
writeable, which answers SERVICE_NOT_AVAILABLE); CREATE_MAPPED_FILE_FAILED,
OS_PAGE_CACHE_BUSY and anything unknown → SYSTEM_ERROR. FLUSH_DISK_TIMEOUT,
FLUSH_SLAVE_TIMEOUT and SLAVE_NOT_AVAILABLE are successful puts answered with their
own codes (the message is stored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from rmqcore.clock import Clock
from rmqcore.remoting import RemotingCommand, ResponseCode, make_response
from rmqcore.server.config import BrokerConfig

log = structlog.get_logger(__name__)

DispatchListener = Callable[[str, int, int], None]

_STORED_STATUSES = frozenset({"PUT_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT", "SLAVE_NOT_AVAILABLE"})
SERVICE_NOT_AVAILABLE_REMARK = (
    "service not available now. It may be caused by one of the following reasons: "
    "the broker's disk is full [{detail}], messages are put to the slave, message store has been shut down, etc."
)


def store_config_for(config: BrokerConfig, store_host: tuple[str, int]) -> Any:
    from rmqcore.store import StoreConfig

    return StoreConfig(
        flush_disk_type=config.flush_disk_type,
        mapped_file_size_commit_log=config.mapped_file_size_commit_log,
        mapped_file_size_consume_queue=config.mapped_file_size_consume_queue,
        max_message_size=config.max_message_size,
        file_reserved_time=config.file_reserved_time,
        delete_when=config.delete_when,
        disk_max_used_space_ratio=config.disk_max_used_space_ratio,
        max_hash_slot_num=config.max_hash_slot_num,
        max_index_num=config.max_index_num,
        flush_interval_commit_log=config.flush_interval_commit_log,
        flush_commit_log_least_pages=config.flush_commit_log_least_pages,
        message_delay_level=config.message_delay_level,
        store_host=store_host,
    )


def open_store(
    config: BrokerConfig,
    clock: Clock,
    store_host: tuple[str, int],
    listener: DispatchListener,
    *,
    disk_usage_probe: Callable[[str], float] | None = None,
) -> Any:
    """Open the MessageStore under ``storePathRootDir``; ``listener(topic, queue_id, queue_offset)``
    is called after every dispatched put (to wake parked pulls)."""
    from rmqcore.store import MessageStore

    store = MessageStore.open(
        str(config.store_root),
        store_config_for(config, store_host),
        clock=clock,
        disk_usage_probe=disk_usage_probe,
    )
    store.add_dispatch_listener(listener)
    return store


class ServiceStoreView:
    """The store as the delay and transaction services call it.

    ``rmqcore.timer``'s store protocol names the ConsumeQueue tag-code override
    ``tags_code=`` while ``MessageStore.put`` names it ``tag_code=``; this view maps one
    to the other and passes every other call through unchanged.
    """

    __slots__ = ("_store",)

    def __init__(self, store: Any) -> None:
        self._store = store

    def put(self, msg: Any, queue_id: int, *, tags_code: int | None = None, **options: Any) -> Any:
        if tags_code is not None and options.get("tag_code") is None:
            options["tag_code"] = tags_code
        return self._store.put(msg, queue_id, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _status_name(result: Any) -> str | None:
    status = getattr(result, "status", None)
    if status is None:
        return None
    return getattr(status, "name", str(status))


def put_error_response(cmd: RemotingCommand, outcome: Any) -> RemotingCommand | None:
    """The error response for a failed put (a result or a store exception), or None if it stored."""
    if isinstance(outcome, BaseException):
        name = getattr(outcome, "put_status", None)
        if name is None:
            return None
        detail = str(outcome)
    else:
        name = _status_name(outcome)
        if name is None or name in _STORED_STATUSES:
            return None
        detail = getattr(outcome, "error", None) or name
    if name in ("MESSAGE_ILLEGAL", "PROPERTIES_SIZE_EXCEEDED"):
        return make_response(
            cmd,
            ResponseCode.MESSAGE_ILLEGAL,
            f"the message is illegal, maybe msg body or properties length not matched: {detail}",
        )
    if name in ("SERVICE_NOT_AVAILABLE", "DISK_FULL"):
        log.warning("store_put_refused", status=name, detail=detail)
        return make_response(cmd, ResponseCode.SERVICE_NOT_AVAILABLE, SERVICE_NOT_AVAILABLE_REMARK.format(detail=detail))
    if name == "CREATE_MAPPED_FILE_FAILED":
        return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"create mapped file failed, server is busy or broken. {detail}")
    if name == "OS_PAGE_CACHE_BUSY":
        return make_response(cmd, ResponseCode.SYSTEM_ERROR, "[PC_SYNCHRONIZED]broker busy, start flow control for a while")
    log.error("store_put_failed", status=name, detail=detail)
    return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"{name}: {detail}")
