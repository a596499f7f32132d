"""Live producers by group (RocketMQ's ``ProducerManager``).

The broker needs them for two things: asking a producer of group PGROUP for the state
of a half transaction message (CHECK_TRANSACTION_STATE, reference section 8), and
pushing a reply to the client that sent the request (:meth:`ProducerManager.find_channel`
by client id, PUSH_REPLY_MESSAGE_TO_CLIENT). Channels leave on close or after 120 s
without a heartbeat (:meth:`ProducerManager.scan_not_active`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Hashable

import structlog

from rmqcore.server.broker.consumers import CHANNEL_EXPIRED_TIMEOUT_MS, ClientChannelInfo

log = structlog.get_logger(__name__)


class ProducerManager:
    """Group → channel → client info; thread-safe."""

    def __init__(self, *, channel_expired_timeout_ms: int = CHANNEL_EXPIRED_TIMEOUT_MS) -> None:
        self._groups: dict[str, dict[Hashable, ClientChannelInfo]] = {}
        self._lock = threading.Lock()
        self._expiry_ms = channel_expired_timeout_ms
        self._round_robin = itertools.count()

    def register(self, group: str, client: ClientChannelInfo) -> bool:
        """True when the channel is new to the group."""
        with self._lock:
            members = self._groups.setdefault(group, {})
            old = members.get(client.channel)
            if old is not None and old.client_id == client.client_id:
                old.last_update_ms = client.last_update_ms
                return False
            members[client.channel] = client
        log.info("producer_registered", group=group, client_id=client.client_id)
        return True

    def unregister(self, group: str, channel: Hashable) -> bool:
        with self._lock:
            members = self._groups.get(group)
            if not members or members.pop(channel, None) is None:
                return False
            if not members:
                del self._groups[group]
        log.info("producer_unregistered", group=group)
        return True

    def channel_closed(self, channel: Hashable) -> list[str]:
        left = []
        with self._lock:
            for group, members in list(self._groups.items()):
                if members.pop(channel, None) is not None:
                    left.append(group)
                    if not members:
                        del self._groups[group]
        return left

    def scan_not_active(self, now_ms: int) -> list[Hashable]:
        expired: list[Hashable] = []
        with self._lock:
            for members in self._groups.values():
                for channel, client in members.items():
                    if now_ms - client.last_update_ms > self._expiry_ms:
                        expired.append(channel)
        for channel in dict.fromkeys(expired):
            log.warning("producer_channel_expired", channel=repr(channel), timeout_ms=self._expiry_ms)
            self.channel_closed(channel)
        return list(dict.fromkeys(expired))

    def groups(self) -> dict[str, list[str]]:
        with self._lock:
            return {g: [c.client_id for c in members.values()] for g, members in self._groups.items()}

    def available_channel(self, group: str) -> Hashable | None:
        """A live channel of ``group`` (round-robin among open ones), or None (``getAvailableChannel``)."""
        with self._lock:
            members = list(self._groups.get(group, {}))
        open_members = [ch for ch in members if not getattr(ch, "closed", False)]
        if not open_members:
            return None
        return open_members[next(self._round_robin) % len(open_members)]

    def find_channel(self, client_id: str) -> Hashable | None:
        """An open channel of the client ``client_id`` in any group, or None (``findChannel``)."""
        with self._lock:
            found = [ch for members in self._groups.values() for ch, c in members.items() if c.client_id == client_id]
        for channel in found:
            if not getattr(channel, "closed", False):
                return channel
        return None
