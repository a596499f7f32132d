"""The services the broker runs on top of its store: delayed delivery and transactions.

``DelayService`` (``rmqcore.timer``) takes DELAY-level and TIMER_* messages (reference
section 7); ``TransactionalMessageService`` and ``TransactionChecker``
(``rmqcore.transaction``) keep half messages and ask producers about stale ones
(section 8). Their progress files live beside the broker's own, in ``config/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from rmqcore.clock import Clock
from rmqcore.message import MessageExt
from rmqcore.server.config import BrokerConfig

log = structlog.get_logger(__name__)


def open_delay_service(config: BrokerConfig, clock: Clock, store: Any) -> Any:
    from rmqcore.timer.delay_levels import DelayLevelTable
    from rmqcore.timer.delay_service import DelayService

    config.config_dir.mkdir(parents=True, exist_ok=True)
    return DelayService(
        store,
        clock,
        DelayLevelTable.parse(config.message_delay_level),
        progress_dir=config.config_dir,
        timer_precision_ms=config.timer_precision_ms,
        timer_max_delay_sec=config.timer_max_delay_sec,
        timer_enabled=config.timer_wheel_enable,
    )


def open_transaction_services(
    config: BrokerConfig,
    clock: Clock,
    store: Any,
    check_back: Callable[[MessageExt], None],
    delay_service: Any = None,
) -> tuple[Any, Any]:
    """(TransactionalMessageService, TransactionChecker); progress files in ``config/``."""
    from rmqcore.transaction import TransactionalMessageService, TransactionChecker

    def final_put(msg: MessageExt, queue_id: int) -> Any:
        # A committed message with DELAY goes through the schedule topic (section 7 applies the
        # delay hook to commit messages); None lets the service store it plainly.
        return delay_service.maybe_put(msg, queue_id) if delay_service is not None else None

    service = TransactionalMessageService(store, clock, final_put=final_put)
    checker = TransactionChecker(
        service,
        clock,
        check_back,
        transaction_timeout_ms=config.transaction_time_out,
        transaction_check_max=config.transaction_check_max,
        check_interval_ms=config.transaction_check_interval,
        file_reserved_time_hours=config.file_reserved_time,
        progress_dir=config.config_dir,
    )
    return service, checker
