"""The reference broker: a thin layer that decodes requests, calls the pieces, encodes responses.

``BrokerController(config, clock)`` composes the message store (``rmqcore.store``),
filters (``rmqcore.filter``), delayed delivery (``rmqcore.timer``) and transactions
(``rmqcore.transaction``) behind the RocketMQ remoting protocol (``rmqcore.remoting``
over ``rmqcore.transport``). One module per concern: ``topics``, ``subscriptions``,
``offsets``, ``consumers``, ``producers``, ``locks``, ``long_poll``, ``filtering``,
``registration``, ``store_lock`` and ``processors/*`` (one per request family).
"""

from rmqcore.server.broker.controller import BrokerController
from rmqcore.server.broker.store_lock import StoreLockedError

__all__ = ["BrokerController", "StoreLockedError"]
