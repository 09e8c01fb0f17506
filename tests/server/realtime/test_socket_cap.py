"""At most ``DERMLINE_MAX_SOCKETS_PER_SESSION`` sockets per session on one node: the next
connect is refused with the stable code ``too_many_sockets``; a closed socket frees its
place; another session of the same user has its own allowance."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import socketio

from server.app import REALTIME
from tests.server.harness import ORIGIN, live_server, make_world

CAP = 3


async def _connect(url: str, cookie: str) -> tuple[socketio.AsyncClient, Any]:
    """A plain python-socketio client on ``cookie``; returns it and what a refusal said
    (None when connected)."""
    sio = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False)
    refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @sio.on("connect_error")
    async def connect_error(data: Any) -> None:
        if not refused.done():
            refused.set_result(data)

    try:
        await sio.connect(
            url,
            headers={"Cookie": cookie, "Origin": ORIGIN},
            transports=["websocket"],
            socketio_path="socket.io",
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError:
        return sio, await asyncio.wait_for(refused, 10)
    return sio, None


async def test_sockets_per_session_are_capped(tmp_path: Path) -> None:
    async with live_server(tmp_path, max_sockets_per_session=CAP) as live:
        w = await make_world(live)
        cookie = w.gp.client.api.cookie_header()
        sockets = []
        for _ in range(CAP):
            sio, refusal = await _connect(live.url, cookie)
            assert refusal is None
            sockets.append(sio)
        sio, refusal = await _connect(live.url, cookie)
        assert refusal == {"message": "too_many_sockets"}
        assert not sio.connected
        # A refusal takes no place, and a closed socket frees one.
        await sockets.pop().disconnect()
        for _ in range(200):  # the server's side of the close (bounded)
            if len(list(live.app[REALTIME].sio.manager.get_participants("/", None))) < CAP:
                break
            await asyncio.sleep(0.02)
        sio, refusal = await _connect(live.url, cookie)
        assert refusal is None
        sockets.append(sio)
        # Another session of the same user (another device) has its own allowance.
        other = await live.relogin(w.gp)
        sio, refusal = await _connect(live.url, other.api.cookie_header())
        assert refusal is None
        sockets.append(sio)
        for s in sockets:
            await s.disconnect()


async def test_the_default_cap_is_twenty(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        assert live.settings.max_sockets_per_session == 20
        w = await make_world(live)
        cookie = w.gp.client.api.cookie_header()
        sockets = [await _connect(live.url, cookie) for _ in range(21)]
        assert [refusal for _s, refusal in sockets] == [None] * 20 + [
            {"message": "too_many_sockets"}
        ]
        for s, _r in sockets:
            await s.disconnect()


async def test_zero_means_no_cap(tmp_path: Path) -> None:
    async with live_server(tmp_path, max_sockets_per_session=0) as live:
        w = await make_world(live)
        cookie = w.gp.client.api.cookie_header()
        sockets = [await _connect(live.url, cookie) for _ in range(25)]
        assert [refusal for _s, refusal in sockets] == [None] * 25
        for s, _r in sockets:
            await s.disconnect()
