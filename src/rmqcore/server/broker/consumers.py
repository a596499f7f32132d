"""Live consumers by group (RocketMQ's ``ConsumerManager``/``ConsumerGroupInfo``).

Heartbeats register a client's channel and subscriptions in each of its groups. When a
group's membership (or subscription set) changes, ``on_ids_changed(group, channels)`` is
called with every channel still in the group, so the broker can send each one
NOTIFY_CONSUMER_IDS_CHANGED and the clients rebalance at once. A channel that closes, or
sends no heartbeat for 120 s (:meth:`ConsumerManager.scan_not_active`, driven by the
clock), leaves every group it was in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

CHANNEL_EXPIRED_TIMEOUT_MS = 120_000  # ClientHousekeepingService: 120 s without heartbeat


class Subscription(Protocol):
    topic: str
    sub_version: int


@dataclass
class ClientChannelInfo:
    """One client connection in a group: its channel, clientID and last heartbeat time."""

    channel: Hashable
    client_id: str
    language: str = "JAVA"
    version: int = 0
    last_update_ms: int = 0


@dataclass
class ConsumerGroupInfo:
    group_name: str
    consume_type: str = "CONSUME_PASSIVELY"
    message_model: str = "CLUSTERING"
    consume_from_where: str = "CONSUME_FROM_LAST_OFFSET"
    channels: dict[Hashable, ClientChannelInfo] = field(default_factory=dict)
    subscriptions: dict[str, Any] = field(default_factory=dict)
    last_update_ms: int = 0

    def client_ids(self) -> list[str]:
        return [info.client_id for info in self.channels.values()]

    def all_channels(self) -> list[Hashable]:
        return list(self.channels)

    def update_channel(
        self, info: ClientChannelInfo, consume_type: str, message_model: str, consume_from_where: str
    ) -> bool:
        """``updateChannel``: True when the channel is new to the group."""
        self.consume_type = consume_type
        self.message_model = message_model
        self.consume_from_where = consume_from_where
        old = self.channels.get(info.channel)
        self.last_update_ms = info.last_update_ms
        if old is None:
            self.channels[info.channel] = info
            return True
        if old.client_id != info.client_id:
            log.warning("consumer_channel_client_id_changed", group=self.group_name, old=old.client_id, new=info.client_id)
            self.channels[info.channel] = info
            return True
        old.last_update_ms = info.last_update_ms
        return False

    def update_subscriptions(self, subscriptions: Iterable[Any]) -> bool:
        """``updateSubscription``: add new topics, replace newer versions, drop topics no longer sent."""
        updated = False
        seen: set[str] = set()
        for sub in subscriptions:
            seen.add(sub.topic)
            old = self.subscriptions.get(sub.topic)
            if old is None:
                self.subscriptions[sub.topic] = sub
                updated = True
            elif sub.sub_version > old.sub_version:
                self.subscriptions[sub.topic] = sub
        for topic in list(self.subscriptions):
            if topic not in seen:
                del self.subscriptions[topic]
                updated = True
        return updated


IdsChangedListener = Callable[[str, list[Hashable]], None]


class ConsumerManager:
    """Groups → members; thread-safe; listeners are called outside the lock."""

    def __init__(self, *, channel_expired_timeout_ms: int = CHANNEL_EXPIRED_TIMEOUT_MS) -> None:
        self._groups: dict[str, ConsumerGroupInfo] = {}
        self._lock = threading.Lock()
        self._expiry_ms = channel_expired_timeout_ms
        self.on_ids_changed: IdsChangedListener | None = None

    def group(self, group: str) -> ConsumerGroupInfo | None:
        return self._groups.get(group)

    def groups(self) -> list[str]:
        return list(self._groups)

    def find_subscription(self, group: str, topic: str) -> Any | None:
        info = self._groups.get(group)
        return None if info is None else info.subscriptions.get(topic)

    def consumer_ids(self, group: str) -> list[str] | None:
        info = self._groups.get(group)
        return None if info is None else info.client_ids()

    def register(
        self,
        group: str,
        client: ClientChannelInfo,
        *,
        consume_type: str,
        message_model: str,
        consume_from_where: str,
        subscriptions: Iterable[Any],
        notify: bool = True,
    ) -> bool:
        """``registerConsumer``: True when membership or subscriptions changed."""
        with self._lock:
            info = self._groups.get(group)
            if info is None:
                info = self._groups[group] = ConsumerGroupInfo(group)
            joined = info.update_channel(client, consume_type, message_model, consume_from_where)
            resubscribed = info.update_subscriptions(subscriptions)
            channels = info.all_channels()
        if joined:
            log.info("consumer_registered", group=group, client_id=client.client_id, members=len(channels))
        if (joined or resubscribed) and notify:
            self._notify(group, channels)
        return joined or resubscribed

    def unregister(self, group: str, channel: Hashable, *, notify: bool = True) -> bool:
        """``unregisterConsumer`` (UNREGISTER_CLIENT); True when the channel was a member."""
        with self._lock:
            info = self._groups.get(group)
            if info is None or info.channels.pop(channel, None) is None:
                return False
            channels = info.all_channels()
            if not channels:
                del self._groups[group]
        log.info("consumer_unregistered", group=group, members=len(channels))
        if notify and channels:
            self._notify(group, channels)
        return True

    def channel_closed(self, channel: Hashable) -> list[str]:
        """Remove ``channel`` from every group (``doChannelCloseEvent``); returns the groups it left."""
        left: list[tuple[str, list[Hashable]]] = []
        with self._lock:
            for name, info in list(self._groups.items()):
                if info.channels.pop(channel, None) is not None:
                    remaining = info.all_channels()
                    if not remaining:
                        del self._groups[name]
                    left.append((name, remaining))
        for name, remaining in left:
            log.info("consumer_channel_closed", group=name, members=len(remaining))
            if remaining:
                self._notify(name, remaining)
        return [name for name, _ in left]

    def scan_not_active(self, now_ms: int) -> list[Hashable]:
        """Drop channels silent for longer than the expiry; returns them (the caller closes them)."""
        expired: list[Hashable] = []
        with self._lock:
            for info in self._groups.values():
                for channel, client in info.channels.items():
                    if now_ms - client.last_update_ms > self._expiry_ms:
                        expired.append(channel)
        for channel in dict.fromkeys(expired):
            log.warning("consumer_channel_expired", channel=repr(channel), timeout_ms=self._expiry_ms)
            self.channel_closed(channel)
        return list(dict.fromkeys(expired))

    def _notify(self, group: str, channels: list[Hashable]) -> None:
        if self.on_ids_changed is None:
            return
        try:
            self.on_ids_changed(group, channels)
        except Exception:
            log.exception("consumer_ids_changed_listener_failed", group=group)
