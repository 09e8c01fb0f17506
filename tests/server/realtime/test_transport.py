"""Socket.IO transport rules: WebSocket only, sockets closed at once on shutdown, and frames
that are no valid packet close the socket quietly."""

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest

from server.app import REALTIME
from tests.server.harness import ORIGIN, live_server, make_world
from tests.server.logcapture import captured_log


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


#: Frames no client of ours sends: each must close the socket cleanly (no error log, no
#: traceback, no 500 written into the WebSocket stream, no engine.io socket left behind).
BAD_FRAMES: list[str | bytes] = [
    "zzzz",  # not an Engine.IO packet
    "",  # an empty frame
    "9",  # an Engine.IO packet type that does not exist
    "bnot base64!",  # a base64 binary packet that is not base64
    "42",  # a Socket.IO event with no data, before the handshake
    '42["sync"',  # truncated JSON
    "4",  # an empty Socket.IO packet
    "49",  # a Socket.IO packet type that does not exist
    "44",  # CONNECT_ERROR from a client
    "40{",  # a CONNECT whose auth is not JSON
    b"\x00\x01",  # a binary frame that is no Socket.IO attachment
]


async def _frame_closes_socket(url: str, frame: str | bytes) -> bool:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            url + "/socket.io/?EIO=4&transport=websocket", headers={"Origin": ORIGIN}
        ) as ws,
    ):
        opened = await ws.receive(timeout=10)
        assert opened.type is aiohttp.WSMsgType.TEXT and str(opened.data).startswith("0{")
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
        else:
            await ws.send_str(frame)
        try:
            async with asyncio.timeout(10):
                while True:
                    msg = await ws.receive()
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        return True
                    # A 500 written into the stream after the upgrade arrives as garbage.
                    assert msg.type is not aiohttp.WSMsgType.ERROR, frame
        except TimeoutError:
            return False


@pytest.mark.parametrize("production_runner", [True, False], ids=["run_app", "cancelling"])
async def test_invalid_frames_close_the_socket_quietly(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], production_runner: bool
) -> None:
    """Under ``web.run_app`` and under a server that cancels a handler whose client hangs
    up (aiohttp's test server), which would skip Engine.IO's own cleanup."""
    with captured_log() as log:
        async with live_server(tmp_path, production_runner=production_runner) as live:
            realtime = live.app[REALTIME]
            still_open = [f for f in BAD_FRAMES if not await _frame_closes_socket(live.url, f)]
            for _ in range(500):  # the server's side of each close (bounded)
                if not realtime.sio.eio.sockets:
                    break
                await asyncio.sleep(0.02)
            assert still_open == []
            assert realtime.sio.eio.sockets == {}
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "error" not in (out + err).lower()
    assert log.events(logging.ERROR) == [] and log.events(logging.WARNING) == []
    assert "http.internal_error" not in log.events()
    assert len(log.fields("realtime.bad_packet")) == len(BAD_FRAMES)


def test_library_log_lines_keep_the_level_and_exception_type_only(tmp_path: Path) -> None:
    """python-socketio and python-engineio log through the allow-list: their text can quote
    what a client sent, and a traceback never reaches the output."""
    from server.realtime.transport import SocketServer

    server = SocketServer(async_mode="aiohttp", transports=["websocket"])
    with captured_log() as log:
        try:
            raise ValueError("CANARY from a client")
        except ValueError:
            server.logger.exception("message async handler error: %s", "CANARY payload")
        server.eio.logger.warning("CANARY %s", "warning text")
        server.logger.info("CANARY at info is dropped")
    lines = [(r.levelno, getattr(r, "fields", {})) for r in log.records]
    assert lines == [
        (logging.ERROR, {"error_type": "ValueError"}),
        (logging.WARNING, {}),
    ]
    assert all(r.getMessage() == "realtime.library" for r in log.records)
    assert "CANARY" not in repr([r.__dict__ for r in log.records])
