"""The Socket.IO server's transport edge: what arrives before any event handler runs.

python-socketio and python-engineio trust the bytes a client sends to be packets. A frame
that is none (``zzzz``, an empty frame) made Engine.IO's WebSocket loop raise out of the
aiohttp handler after the upgrade, so the error mapper logged ``http.internal_error`` and
wrote a 500 into the WebSocket stream, and the Engine.IO socket was never closed; a
malformed Socket.IO packet (``42`` before the handshake, truncated JSON, a stray binary
frame) raised inside Engine.IO's message task, which printed a traceback to stderr. Here:

* :class:`_CheckedWebSocket` refuses a text frame that is no Engine.IO packet; Engine.IO
  then ends its read loop as for a closed connection and closes the socket the usual way;
* :meth:`SocketServer._handle_eio_message` turns any failure to decode or dispatch a
  Socket.IO packet into a disconnect that closes the WebSocket too
  (:meth:`SocketServer.close_transport`);
* an event over the size cap that asks for an acknowledgement is answered
  ``payload_too_large`` and dropped, the socket stays open; a frame too large to read at
  all closes the WebSocket (code 1009) (``_CheckedWebSocket``, ``docs/api.md``);
* all of these log ``realtime.bad_packet`` or ``realtime.oversized`` at INFO (the client's
  fault, not the server's), and the libraries' own log lines go through
  :func:`server.logs.event` without their text (which can quote what the client sent) and
  never with a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any

import aiohttp
import socketio
from aiohttp import web
from engineio import packet
from engineio.async_drivers.aiohttp import WebSocket

from server.errors import ErrorCode
from server.logs import event

__all__ = ["READABLE_FACTOR", "SessionSockets", "SocketServer"]

#: Engine.IO packet types a client may send as text: OPEN .. NOOP (engineio.packet).
_EIO_TYPES = frozenset("0123456")
_LIBRARY_LOGGER = "dermline.realtime.library"
#: aiohttp reads WebSocket frames up to this many times Engine.IO's packet cap: an event
#: between the two is answered ``payload_too_large``; a bigger frame closes the connection.
READABLE_FACTOR = 4
#: An Engine.IO message (4) holding a Socket.IO event (2) with an acknowledgement id:
#: ``42`` [``/namespace,``] ``id`` ``[`` ... (socketio.packet.Packet.encode).
_ACK_ID = re.compile(r"42(/[^,\[]{0,200},)?([0-9]{1,15})\[")
_HEAD = 256


def _engineio_packet(data: str | bytes) -> bool:
    """Whether Engine.IO can decode ``data`` (engineio.packet.Packet.decode) without raising.

    A binary frame is always a binary message; its content is checked by Socket.IO."""
    if isinstance(data, bytes):
        return True
    if not data:
        return False
    if data[0] == "b":
        try:
            base64.b64decode(data[1:], validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    return data[0] in _EIO_TYPES


class _CheckedWebSocket(WebSocket):  # type: ignore[misc]
    """Engine.IO's aiohttp WebSocket wrapper: refuses frames that are no packet, and answers
    events over the size cap instead of dropping the connection.

    Engine.IO reads every frame through ``wait``; an ``OSError`` there is how it learns that
    the connection is gone, after which it stops its writer and closes the WebSocket. The
    Engine.IO socket is closed here first, so it is gone even if aiohttp cancels the handler
    (a test server does when the client hangs up) before Engine.IO's own cleanup runs.

    Sizes: Engine.IO's cap (``max_http_buffer_size``, ``DERMLINE_MAX_BODY_BYTES``) applies to
    a packet; aiohttp reads frames up to :data:`READABLE_FACTOR` times that, so a packet
    over the cap but within what is read can still be answered (``_oversized``). A bigger
    frame is refused by aiohttp while reading: it closes the WebSocket with code 1009."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        # engineio.async_drivers.aiohttp.WebSocket.__call__, with the larger frame limit.
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size * READABLE_FACTOR
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock

    async def wait(self) -> str | bytes:
        while True:
            msg = await self._sock.receive()
            if msg.type is aiohttp.WSMsgType.ERROR and getattr(msg.data, "code", None) == (
                aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            ):
                event("realtime.oversized", level=logging.INFO, reason="transport")
            if not isinstance(msg.data, str | bytes):
                raise OSError("the WebSocket is closed")  # what Engine.IO expects
            data: str | bytes = msg.data
            if len(data) > self.server.max_http_buffer_size:
                await self._oversized(data)
                continue  # dropped; read on
            if not _engineio_packet(data):
                event("realtime.bad_packet", level=logging.INFO, reason="engineio")
                await self._close_socket()
                raise OSError("not an Engine.IO packet")
            return data

    async def _oversized(self, data: str | bytes) -> None:
        """Answer an event over the cap that asks for an acknowledgement with
        ``payload_too_large`` (through Engine.IO's send queue, like any answer); drop it."""
        sock = getattr(self.handler, "__self__", None)  # the AsyncSocket it reads for
        ack = _ACK_ID.match(data[:_HEAD]) if isinstance(data, str) else None
        if ack is None or sock is None:
            event("realtime.oversized", level=logging.INFO, reason="no_ack")
            return
        event("realtime.oversized", level=logging.INFO, reason="ack")
        namespace, ack_id = ack.group(1) or "", ack.group(2)
        answer = {
            "ok": False,
            "error": {
                "code": ErrorCode.PAYLOAD_TOO_LARGE.value,
                "message": "the event is larger than the limit",
            },
        }
        body = "3" + namespace + ack_id + json.dumps([answer], separators=(",", ":"))
        await sock.send(packet.Packet(packet.MESSAGE, data=body))

    async def _close_socket(self) -> None:
        sock = getattr(self.handler, "__self__", None)  # the AsyncSocket it reads for
        if sock is not None:
            await sock.close(wait=False, abort=True)
            self.server.sockets.pop(sock.sid, None)


class _LibraryLog(logging.Handler):
    """python-socketio and python-engineio log lines, as allow-listed events: the level and
    the exception type only (``docs/architecture.md``, "Logging")."""

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[0] if record.exc_info else None
        if exc is None:
            event("realtime.library", level=record.levelno)
        else:
            event("realtime.library", level=record.levelno, error_type=exc.__name__)


def _library_logger() -> logging.Logger:
    logger = logging.getLogger(_LIBRARY_LOGGER)
    logger.setLevel(logging.WARNING)  # their INFO and DEBUG lines quote event payloads
    logger.propagate = False
    if not any(isinstance(h, _LibraryLog) for h in logger.handlers):
        logger.addHandler(_LibraryLog())
    return logger


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """``socketio.AsyncServer`` with the transport checks above."""

    def __init__(self, **kwargs: Any) -> None:
        logger = _library_logger()
        super().__init__(logger=logger, engineio_logger=logger, **kwargs)
        # The driver table is shared by every Engine.IO server of the process (it is the
        # driver module's own dict): give this server a copy with the checked WebSocket.
        self.eio._async = {**self.eio._async, "websocket": _CheckedWebSocket}

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        """Dispatch one Engine.IO message; a packet Socket.IO cannot decode or dispatch
        (its parser and dispatcher raise ValueError, TypeError, IndexError, ...) closes the
        socket. Event handlers run in their own tasks and answer their own errors."""
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            event(
                "realtime.bad_packet",
                level=logging.INFO,
                reason="socketio",
                error_type=type(exc).__name__,
            )
            self._binary_packet.pop(eio_sid, None)
            await self.close_transport(eio_sid)

    async def close_transport(self, eio_sid: str) -> None:
        """Close a client's Engine.IO socket *and* its WebSocket now.

        ``eio.disconnect`` only queues a CLOSE packet and leaves the WebSocket to the client
        (a client that ignores it keeps the connection until the ping timeout, 40 s). After
        the CLOSE packet, the ``None`` wakes Engine.IO's writer, which then sends what is
        queued and closes the WebSocket; its reader stops and the socket is cleaned up."""
        try:
            sock = self.eio._get_socket(eio_sid)
        except KeyError:
            return  # gone already
        await sock.close(wait=False, abort=False)
        self.eio.sockets.pop(eio_sid, None)
        sock.queue.put_nowait(None)


class SessionSockets:
    """How many sockets each session holds on this node, against a cap (0: none).

    Per node on purpose: counting across nodes would need shared state (Redis) on every
    connect and disconnect, and a node that died would leave its counts behind. With N
    nodes a session can hold up to N times the cap; a load balancer spreads one client's
    connections, so the cap still bounds what one stolen or buggy session can hold."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._by_session: dict[bytes, set[str]] = {}
        self._session_of: dict[str, bytes] = {}

    def claim(self, session_key: bytes, sid: str) -> bool:
        """Count ``sid`` for the session, unless it holds the cap already (False)."""
        held = self._by_session.get(session_key, set())
        if self._cap and len(held) >= self._cap:
            return False
        held.add(sid)
        self._by_session[session_key] = held
        self._session_of[sid] = session_key
        return True

    def release(self, sid: str) -> None:
        key = self._session_of.pop(sid, None)
        if key is None:
            return
        held = self._by_session.get(key, set())
        held.discard(sid)
        if not held:
            self._by_session.pop(key, None)
