"""Socket.IO transport rules: WebSocket only, and sockets closed at once on shutdown."""

import asyncio
from pathlib import Path

import aiohttp

from tests.server.harness import ORIGIN, live_server, make_world


async def test_long_polling_is_refused(tmp_path: Path) -> None:
    # Long-polling pins a client to one node; both clients use WebSocket, so the server
    # refuses the polling handshake outright (no sticky sessions needed behind a balancer).
    async with (
        live_server(tmp_path) as live,
        aiohttp.ClientSession() as http,
        http.get(
            f"{live.url}/socket.io/",
            params={"EIO": "4", "transport": "polling"},
            headers={"Origin": ORIGIN},
        ) as resp,
    ):
        assert resp.status == 400


async def test_shutdown_closes_sockets_at_once(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        rt = await w.gp.client.connect_realtime()
        assert rt.connected.is_set() and not rt.disconnected.is_set()
        # SIGTERM runs the application's shutdown signal; the socket must not wait for the
        # server's shutdown timeout before the client learns it has to reconnect elsewhere.
        for handler in live.app.on_shutdown:
            if getattr(handler, "__name__", "") == "_close_sockets":
                await handler(live.app)
                break
        else:
            raise AssertionError("no socket-closing shutdown handler is registered")
        await asyncio.wait_for(rt.disconnected.wait(), 5.0)
        await rt.disconnect()
