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
* both log ``realtime.bad_packet`` at INFO (the client's fault, not the server's), and the
  libraries' own log lines go through :func:`server.logs.event` without their text (which can
  quote what the client sent) and never with a traceback.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

import socketio
from engineio.async_drivers.aiohttp import WebSocket

from server.logs import event

__all__ = ["SessionSockets", "SocketServer"]

#: Engine.IO packet types a client may send as text: OPEN .. NOOP (engineio.packet).
_EIO_TYPES = frozenset("0123456")
_LIBRARY_LOGGER = "dermline.realtime.library"


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
    """Engine.IO's aiohttp WebSocket wrapper, refusing frames that are no packet.

    Engine.IO reads every frame through ``wait``; an ``OSError`` there is how it learns that
    the connection is gone, after which it stops its writer and closes the WebSocket. The
    Engine.IO socket is closed here first, so it is gone even if aiohttp cancels the handler
    (a test server does when the client hangs up) before Engine.IO's own cleanup runs."""

    async def wait(self) -> str | bytes:
        data: str | bytes = await super().wait()
        if not _engineio_packet(data):
            event("realtime.bad_packet", level=logging.INFO, reason="engineio")
            sock = getattr(self.handler, "__self__", None)  # the AsyncSocket it reads for
            if sock is not None:
                await sock.close(wait=False, abort=True)
                self.server.sockets.pop(sock.sid, None)
            raise OSError("not an Engine.IO packet")
        return data


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
