"""A small in-test remoting peer on loopback, shared by the transport and client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from rmqcore.remoting import RemotingCommand, make_request, make_response
from rmqcore.transport import RemotingServer
from rmqcore.transport.channel import Handler

# Request codes the peer understands, and the one it sends back to its client.
ECHO, SILENT, HANG_UP, CALL_BACK = 1, 2, 3, 4
CLIENT_SIDE_CODE = 77


def peer_handler(channel: Any, cmd: RemotingCommand) -> Any:
    """ECHO answers with ``x`` as remark; SILENT never answers; HANG_UP closes the connection;
    CALL_BACK asks the client CLIENT_SIDE_CODE first and answers with the client's remark."""
    if cmd.code == ECHO:
        return make_response(cmd, 0, remark=cmd.ext_fields.get("x"))
    if cmd.code == HANG_UP:
        async def hang_up() -> None:
            await channel.close()
        return hang_up()
    if cmd.code == CALL_BACK:
        async def call_back() -> RemotingCommand:
            answer = await channel.request(make_request(CLIENT_SIDE_CODE, {"q": "?"}), 5.0)
            return make_response(cmd, 0, remark=answer.remark)
        return call_back()
    return None


@asynccontextmanager
async def serving(handler: Handler = peer_handler) -> AsyncIterator[int]:
    """A RemotingServer on a free loopback port for the block's duration; yields the port."""
    server = RemotingServer(handler)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        try:
            yield port
        finally:
            await server.aclose()
            tg.cancel_scope.cancel()
