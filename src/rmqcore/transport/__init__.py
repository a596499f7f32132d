"""Remoting over TCP on anyio: the one place (with server and client) that touches sockets.

A :class:`Channel` carries RemotingCommands both ways on one TCP connection:
it matches responses to requests by ``opaque``, hands requests from the peer
to a handler, and fails in-flight requests at once when the connection drops.
On anyio's asyncio backend both the server and the client use
:class:`ProtocolChannel` instead, the same interface on an ``asyncio.Protocol``
(no reader task, send lock or cancel scope per request); :func:`connect_channel`
opens one. ``rmqcore.server`` and ``rmqcore.client`` both build on them; the codec
itself is the sans-IO ``rmqcore.remoting``.
"""

from rmqcore.transport.channel import Channel, ChannelClosed, RequestTimeout
from rmqcore.transport.protocol_channel import ProtocolChannel, connect_channel
from rmqcore.transport.server import RemotingServer

__all__ = ["Channel", "ChannelClosed", "ProtocolChannel", "RemotingServer", "RequestTimeout", "connect_channel"]
