"""Typed errors of the rebalance strategies.

RocketMQ throws ``IllegalArgumentException`` from its allocate strategies; here that is
``AllocateArgumentError`` (a ``ValueError``) carrying the same message text, so logs and
tests read the same as the reference (section 9).
"""

from __future__ import annotations


class RebalanceError(ValueError):
    """Base class of every error raised by ``rmqcore.rebalance``."""


class AllocateArgumentError(RebalanceError):
    """The Java ``IllegalArgumentException`` of the allocate strategies, same text (section 9)."""


class UnknownStrategyError(RebalanceError, LookupError):
    """No strategy is registered under the given getName() value."""
