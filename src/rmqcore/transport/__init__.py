"""Remoting over TCP on anyio: the one place (with server and client) that touches sockets.

A :class:`Channel` carries RemotingCommands both ways on one TCP connection:
it matches responses to requests by ``opaque``, hands requests from the peer
to a handler, and fails in-flight requests at once when the connection drops.
``rmqcore.server`` and ``rmqcore.client`` both build on it; the codec itself is
the sans-IO ``rmqcore.remoting``.
"""

from rmqcore.transport.channel import Channel, ChannelClosed, RequestTimeout
from rmqcore.transport.server import RemotingServer

__all__ = ["Channel", "ChannelClosed", "RemotingServer", "RequestTimeout"]
