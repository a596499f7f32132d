"""Request processors: one module per concern, each a thin decode → call → encode step.

Every processor takes the :class:`~rmqcore.server.broker.controller.BrokerController`
(the context holding the store and managers) and exposes ``handlers()``: request
code → ``handler(channel, cmd)``, merged by the controller into its dispatch table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Union

from rmqcore.remoting import RemotingCommand

HandlerResult = Union[RemotingCommand, None, Awaitable[Union[RemotingCommand, None]]]
Handler = Callable[[Any, RemotingCommand], HandlerResult]
