"""Socket.IO hardening found in the security review: payloads of any shape get an error
ack, spoofed reserved events do nothing, and sockets that only listen lose their
connection when the session ends (expiry, idle timeout, a revoke on another node)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import socketio

from server.app import REALTIME
from server.domain.accounts import hash_token
from server.realtime import server as rt_server
from tests.samples import HISTORY
from tests.server.harness import live_server, make_world

EVENTS = ["send", "join", "leave", "sync", "typing", "receipt", "no_such_event", "connect"]
PAYLOADS: list[Any] = [
    None,
    0,
    False,
    1,
    -1.5,
    True,
    "x",
    "",
    [],
    [1, 2],
    {},
    {"case_id": 5},
    {"case_id": None},
    {"case_id": "x" * 5000},
    {"case_id": {"nested": [1]}},
    {"cases": {"not an id!": 1}},
    {"cases": []},
    {"limit": "many"},
    {"kind": "read", "seq": "1", "case_id": "c"},
    {"kind": "read", "seq": 2**70, "case_id": "c"},
    {"kind": "read", "seq": -1, "case_id": "c"},
    {"cases": {"00000000-0000-4000-8000-000000000000": 2**70}},
]


async def test_any_payload_gets_an_error_ack(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        rt = await w.gp.client.connect_realtime()
        answers = []
        for name in EVENTS:
            for data in PAYLOADS:
                answers.append((name, data, await rt.sio.call(name, data, timeout=5)))
            # Several arguments at once (a tuple is sent as separate arguments).
            answers.append((name, "2 args", await rt.sio.call(name, (1, 2), timeout=5)))
            answers.append((name, "3 args", await rt.sio.call(name, ({}, [], "x"), timeout=5)))
        bad = []
        for name, data, answer in answers:
            ok = isinstance(answer, dict) and answer.get("ok") is False
            code = answer["error"]["code"] if ok else None
            if name == "sync" and data in (None, {}):
                continue  # an empty sync is valid
            if not ok or code not in ("validation_failed", "not_found"):
                bad.append((name, data, answer))
        assert not bad, bad[:5]
        # The connection survived all of it and still works.
        assert (await rt.call("sync", {}))["ok"]
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        assert (await rt.call("join", {"case_id": case_id}))["ok"]
        # A sequence number beyond 64 bits is the client's error, not a storage failure.
        for name, data in (
            ("sync", {"cases": {case_id: 2**70}}),
            ("receipt", {"case_id": case_id, "kind": "read", "seq": 2**70}),
        ):
            answer = await rt.sio.call(name, data, timeout=5)
            assert answer["error"]["code"] == "validation_failed", (name, answer)


@pytest.fixture
def fast_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rt_server, "AUTH_CACHE_SECONDS", 0.0)
    monkeypatch.setattr(rt_server, "SWEEP_INTERVAL", 0.05)


async def test_listening_socket_is_closed_when_its_session_expires(
    tmp_path: Path, fast_sweep: None
) -> None:
    async with live_server(tmp_path, session_idle_timeout=100_000) as live:
        w = await make_world(live)
        rt = await w.gp.client.connect_realtime()
        await asyncio.sleep(0.3)
        assert rt.connected.is_set()  # sweeps of a live session change nothing
        live.clock.advance(live.settings.session_ttl + 1)
        await asyncio.wait_for(rt.disconnected.wait(), timeout=5)
        await rt.disconnect()


async def test_listening_socket_is_closed_at_idle_timeout_and_sweep_is_not_use(
    tmp_path: Path, fast_sweep: None
) -> None:
    async with live_server(tmp_path, session_idle_timeout=600) as live:
        w = await make_world(live)
        rt = await w.gp.client.connect_realtime()
        token = w.gp.client.api.session_token
        assert token is not None
        before = await live.store.get_session(hash_token(token))
        assert before is not None
        for _ in range(5):  # 5 x 100 s of only listening: the sweep must not touch it
            live.clock.advance(100)
            await asyncio.sleep(0.15)
        after = await live.store.get_session(hash_token(token))
        assert after is not None and after.last_seen_at == before.last_seen_at
        assert rt.connected.is_set()
        live.clock.advance(101)  # now 601 s without use
        await asyncio.wait_for(rt.disconnected.wait(), timeout=5)
        await rt.disconnect()


async def test_revoke_on_another_node_reaches_a_listening_socket(
    tmp_path: Path, fast_sweep: None
) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        rt = await w.gp.client.connect_realtime()
        # A client-emitted "disconnect" event must not take the socket out of the sweep.
        await rt.sio.emit("disconnect", {})
        await asyncio.sleep(0.2)
        token = w.gp.client.api.session_token
        assert token is not None
        # What another node does: revoke in storage, without telling this node.
        await live.store.revoke_session(hash_token(token), live.clock.now())
        await asyncio.wait_for(rt.disconnected.wait(), timeout=5)
        assert await live.app[REALTIME].sweep_sessions() == 0
        await rt.sio.disconnect()


async def test_disconnect_stops_reconnecting_and_closes_the_http_session(
    tmp_path: Path,
) -> None:
    """A client whose connection dropped keeps reconnecting; each attempt needs an aiohttp
    session. ``disconnect()`` must end the attempts and close that session, or it is left
    for the garbage collector to find (a ``ResourceWarning`` in some later test)."""
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        rt = await w.gp.client.connect_realtime()
        token = w.gp.client.api.session_token
        assert token is not None
        # Revoked in storage only (as by another node): this socket stays up, and every
        # reconnection attempt after the drop below is refused, so the attempts go on.
        await live.store.revoke_session(hash_token(token), live.clock.now())
        assert rt.sio.eio.ws is not None
        await rt.sio.eio.ws.close()  # the connection drops (not a disconnect by either side)
        await asyncio.wait_for(rt.disconnected.wait(), timeout=5)
        for _ in range(500):  # up to 5 s for the reconnection task to start
            if rt.sio in socketio.base_client.reconnecting_clients:
                break
            await asyncio.sleep(0.01)
        assert rt.sio in socketio.base_client.reconnecting_clients
        await rt.disconnect()
        assert rt.sio not in socketio.base_client.reconnecting_clients
        assert rt.sio.eio.http is None
        assert not rt.connected.is_set()


async def test_stalled_client_is_disconnected_by_the_backlog_watchdog(tmp_path: Path) -> None:
    """A client that stops reading must not make the server queue without bound (DESIGN
    section 6): once its Engine.IO queue passes the limit, the socket is aborted."""
    import aiohttp

    async with live_server(tmp_path, client_backlog_limit=8) as live:
        w = await make_world(live)
        token = w.gp.client.api.session_token
        realtime = live.app[REALTIME]
        ws_url = live.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(ws_url, headers={"Cookie": f"dermline_session={token}"}) as ws,
        ):
            opened = await ws.receive_str()
            assert opened.startswith("0")
            await ws.send_str("40")
            assert (await ws.receive_str()).startswith("40")
            # Now the client reads nothing more; the server keeps sending 1 MiB events.
            big = "x" * (1 << 20)
            (sock,) = realtime.sio.eio.sockets.values()
            deadline = asyncio.get_running_loop().time() + 10
            while not sock.closed:
                await realtime.sio.emit("flood", big, room=f"user:{w.gp.user_id}")
                await asyncio.sleep(0)
                assert asyncio.get_running_loop().time() < deadline, "never disconnected"
            # Aborted, and the queued megabytes are released at once, not when Engine.IO's
            # reader gives up on the silent peer (up to 40 s later).
            assert sock.queue.qsize() <= 1
            await realtime.sio.emit("flood", big, room=f"user:{w.gp.user_id}")
            assert sock.queue.qsize() <= 1  # no longer in any room
