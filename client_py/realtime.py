"""Real-time side of the Python client: at-least-once sends, exactly-once delivery.

DESIGN section 6, the client's half:

* every send carries a client message id; an unacknowledged send is retried (after a
  timeout or a reconnect) until the server acknowledges it with a sequence number. The
  server de-duplicates by id, so a retry never makes a second message.
* received messages are de-duplicated and ordered by per-case ``seq``: a message is
  delivered only when it is the next one; a gap triggers a ``sync`` for that case.
* on every (re)connect the client sends its last ``seq`` per case (``sync``); the server
  joins the rooms first and then replays, so nothing committed is missed.
* the server's ``resync`` event (it lost live events: its Redis link broke and came back)
  triggers the same ``sync`` without a reconnect; the acknowledgement of a send carries
  the message (the server does not echo it to the sending socket).
* an event larger than the server accepts (``max_packet_bytes``: the server's
  ``DERMLINE_MAX_BODY_BYTES``, 256 KiB by default) is refused here with
  ``payload_too_large`` before it is sent: a frame far over the server's cap makes the
  server close the connection (docs/api.md), and retrying it would loop for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import socketio

__all__ = ["DEFAULT_MAX_PACKET_BYTES", "RealtimeClient", "RealtimeError"]

#: The server's default cap on one Socket.IO packet (DERMLINE_MAX_BODY_BYTES).
DEFAULT_MAX_PACKET_BYTES = 256 * 1024
#: "42", an acknowledgement id and room to spare: what Socket.IO adds around the JSON.
_PACKET_OVERHEAD = 24


class RealtimeError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RealtimeClient:
    def __init__(
        self,
        base_url: str,
        cookie_header: Callable[[], str],
        *,
        origin: str | None = None,
        ack_timeout: float = 5.0,
        ssl: Any = None,
        max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES,
    ) -> None:
        """``ssl``: what the HTTP API uses (``HttpApi(ssl=)``, for example a context that
        trusts a private CA); the WebSocket connects with the same, or with the default
        verification when it is None. ``max_packet_bytes``: the server's
        ``DERMLINE_MAX_BODY_BYTES``, when it is not the default."""
        self.base_url = base_url.rstrip("/")
        self._max_packet_bytes = max_packet_bytes
        self._cookie_header = cookie_header
        self._origin = origin
        self._ack_timeout = ack_timeout
        self.sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_attempts=0,  # forever
            reconnection_delay=0.2,
            reconnection_delay_max=2.0,
            randomization_factor=0.3,
            logger=False,
            engineio_logger=False,
            websocket_extra_options={} if ssl is None else {"ssl": ssl},
        )
        self.last_seq: dict[str, int] = {}
        self._buffer: dict[str, dict[int, dict[str, Any]]] = {}
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.case_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queue_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.typing_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.receipt_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.patient_photo_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.synced = asyncio.Event()
        self.connect_count = 0
        #: how often the server asked for a replay without a reconnect (``resync``)
        self.resync_count = 0
        self._sync_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._register()

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        def headers() -> dict[str, str]:
            # A callable, so every reconnect builds a fresh dict: the Engine.IO client moves
            # the Cookie header into its own jar and deletes it from the dict it was given.
            out = {"Cookie": self._cookie_header()}
            if self._origin:
                out["Origin"] = self._origin
            return out

        try:
            await self.sio.connect(
                self.base_url,
                headers=headers,
                transports=["websocket"],
                socketio_path="socket.io",
                wait_timeout=10,
            )
            await asyncio.wait_for(self.synced.wait(), timeout=30)
        except BaseException:
            # A refused connection leaves the Engine.IO client's aiohttp session open.
            await self.disconnect()
            raise

    async def disconnect(self) -> None:
        """Idempotent; afterwards no task of this client runs and no HTTP session is open.

        ``sio.disconnect()`` alone is not enough while the connection is down: the Socket.IO
        client's reconnection task goes on trying, and each attempt opens an aiohttp session
        that nothing closes. ``shutdown()`` stops that task (waiting for an attempt in flight,
        which may succeed); the ``disconnect()`` after it closes the connection and the
        Engine.IO client's session in every case."""
        for task in list(self._tasks):
            task.cancel()
        await self.sio.shutdown()
        await self.sio.disconnect()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _register(self) -> None:
        sio = self.sio

        async def connect() -> None:
            self.connect_count += 1
            self.disconnected.clear()
            self.connected.set()
            # Not awaited here: a call() inside the connect handler would deadlock.
            self._spawn(self._sync_all())

        async def disconnect(*_args: Any) -> None:
            self.connected.clear()
            self.disconnected.set()
            self.synced.clear()

        async def message(data: dict[str, Any]) -> None:
            self._deliver(data)

        async def case(data: dict[str, Any]) -> None:
            case_id = data["case_id"]
            new = case_id not in self.last_seq
            self.last_seq.setdefault(case_id, 0)
            await self.case_events.put(data)
            if new or data.get("last_seq", 0) > self.last_seq[case_id]:
                # A case we have not joined yet (or missed messages of): sync joins the
                # room first and then replays.
                self._spawn(self.sync_case(case_id))

        async def queue(data: dict[str, Any]) -> None:
            await self.queue_events.put(data)

        async def typing(data: dict[str, Any]) -> None:
            await self.typing_events.put(data)

        async def receipt(data: dict[str, Any]) -> None:
            await self.receipt_events.put(data)

        async def patient_photos(data: dict[str, Any]) -> None:
            await self.patient_photo_events.put(data)

        async def resync(_data: Any = None) -> None:
            # The server lost live events (its Redis link broke and came back): replay from
            # the database, as after a reconnect (docs/api.md, "Socket.IO").
            self.resync_count += 1
            self._spawn(self._sync_all())

        sio.on("connect", connect)
        sio.on("disconnect", disconnect)
        sio.on("message", message)
        sio.on("case", case)
        sio.on("queue", queue)
        sio.on("typing", typing)
        sio.on("receipt", receipt)
        sio.on("patient_photos", patient_photos)
        sio.on("resync", resync)

    # ------------------------------------------------------------------ delivery

    def _deliver(self, m: dict[str, Any]) -> None:
        """Exactly-once, in-order delivery per case (de-duplicated by seq)."""
        case_id, seq = m["case_id"], int(m["seq"])
        last = self.last_seq.get(case_id, 0)
        if seq <= last:
            return  # a duplicate (room + replay, or a retry's echo)
        buffer = self._buffer.setdefault(case_id, {})
        buffer[seq] = m
        while last + 1 in buffer:
            last += 1
            self.messages.put_nowait(buffer.pop(last))
        self.last_seq[case_id] = last
        if buffer:
            # A gap: something was published while we were not in the room. Replay.
            self._spawn(self.sync_case(case_id))

    async def _sync(self, cases: dict[str, int]) -> None:
        async with self._sync_lock:
            more = True
            while more:
                answer = await self.sio.call(
                    "sync", {"cases": cases}, timeout=self._ack_timeout * 4
                )
                if not answer.get("ok"):
                    err = answer.get("error", {})
                    raise RealtimeError(err.get("code", "unknown"), err.get("message", ""))
                more = False
                cases = {}
                for case_id, entry in answer["cases"].items():
                    if "error" in entry:
                        continue
                    self.last_seq.setdefault(case_id, 0)
                    for m in entry["messages"]:
                        self._deliver(m)
                    if entry.get("more"):
                        more = True
                        cases[case_id] = self.last_seq[case_id]

    async def _sync_all(self) -> None:
        with contextlib.suppress(Exception):
            await self._sync(dict(self.last_seq))
            self.synced.set()

    async def sync_case(self, case_id: str) -> None:
        with contextlib.suppress(Exception):
            await self._sync({case_id: self.last_seq.get(case_id, 0)})

    # ------------------------------------------------------------------ sending

    def _check_size(self, event: str, data: Any) -> None:
        """RealtimeError ``payload_too_large`` for an event the server would not take.

        Measured as python-socketio encodes it (JSON, ASCII-escaped, compact)."""
        try:
            size = len(json.dumps([event, data], separators=(",", ":"))) + _PACKET_OVERHEAD
        except (TypeError, ValueError):
            return  # not JSON: python-socketio sends it as binary; the server decides
        if size > self._max_packet_bytes:
            raise RealtimeError(
                "payload_too_large",
                f"the event is {size} bytes; the server accepts {self._max_packet_bytes}",
            )

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """One request with an acknowledgement; RealtimeError for a refusal (also for an
        event too large to send, without sending it)."""
        self._check_size(event, data)
        answer = await self.sio.call(event, data, timeout=self._ack_timeout)
        if not answer.get("ok"):
            err = answer.get("error", {})
            raise RealtimeError(err.get("code", "unknown"), err.get("message", ""))
        return dict(answer)

    async def send(
        self, case_id: str, client_msg_id: str, envelope_b64: str, *, deadline: float = 120.0
    ) -> int:
        """Send until acknowledged (retries are safe: same id); returns the server's seq.

        A refusal other than a passing failure (``internal``, ``unavailable``) is raised at
        once, ``payload_too_large`` included (also found before sending: never retried)."""
        payload = {"case_id": case_id, "client_msg_id": client_msg_id, "envelope": envelope_b64}
        self._check_size("send", payload)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline
        while True:
            try:
                await asyncio.wait_for(
                    self.connected.wait(), timeout=max(0.1, give_up - loop.time())
                )
                answer = await self.sio.call("send", payload, timeout=self._ack_timeout)
            except (socketio.exceptions.SocketIOError, TimeoutError):
                if loop.time() >= give_up:
                    raise
                await asyncio.sleep(0.1)
                continue
            if answer.get("ok"):
                # The server does not echo the message to this socket: the acknowledgement
                # carries it (the thread shows it like any other, de-duplicated by seq).
                if isinstance(answer.get("message"), dict):
                    self._deliver(answer["message"])
                return int(answer["seq"])
            err = answer.get("error", {})
            if err.get("code") in ("internal", "unavailable") and loop.time() < give_up:
                await asyncio.sleep(0.2)
                continue
            raise RealtimeError(err.get("code", "unknown"), err.get("message", ""))
