"""Real time over python-socketio on aiohttp.

Rules
-----
* ``connect`` authenticates from the session cookie (the same two-factor session as HTTP)
  and refuses any Origin outside ``Settings.origins()``, and a session's socket beyond
  ``max_sockets_per_session`` on this node (``too_many_sockets``). Engine.IO checks the Origin too
  (``cors_allowed_origins`` is an explicit, non-empty list: an empty list would switch the
  check off); we check again so the rule does not depend on a library default.
* Rooms: ``user:<id>`` (own notifications), ``queue:<service id>`` for the service's
  dermatologists, ``case:<id>`` for the case's parties. Joining a case room is authorised
  by the policy like every event.
* Delivery: ``send`` appends through the case service (client message id, per-case
  sequence number in the same transaction), acknowledges with ``seq`` and the stored
  message after the commit, and the service then publishes ``message`` to the case room,
  skipping the sending socket (the acknowledgement is its copy). Clients retry unacknowledged
  sends (idempotent) and de-duplicate by ``client_msg_id`` / ``seq``.
* Catch-up: after (re)connecting the client calls ``sync`` with its last ``seq`` per case.
  The server joins the rooms *first*, then reads from the database, so a message committed
  in between arrives twice (room and replay) rather than never; the client de-duplicates.
* Typing indicators are relayed, never stored; receipts are stored and relayed.
* A stalled client (its outgoing queue above ``client_backlog_limit`` packets) is
  disconnected by a watchdog; it reconnects and catches up from the database, so slow
  readers cost bounded memory.
* Every event re-checks the session (cached for a few seconds) and the case policy.
* Errors answer ``{"ok": false, "error": {"code", "message"}}`` with the stable codes of
  ``server.errors``; successes answer ``{"ok": true, ...}``.
* Events and answers carry the wire models of ``server.wire`` (the ones HTTP answers
  with), and every case operation is a call to the domain services: this layer never
  reads storage and never imports the HTTP layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

import pydantic
import socketio
from aiohttp import web

from server.domain.accounts import Authenticated
from server.domain.cases import CaseChange
from server.domain.clock import Clock
from server.domain.policy import CaseAction
from server.domain.records import Case, Message, PatientLink, Role, StorageUnavailable
from server.errors import AuthError, DomainError, ErrorCode, InvalidInput, Unavailable
from server.logs import event
from server.netaddr import client_address, joined_forwarded_for
from server.realtime.transport import SessionSockets, SocketServer
from server.settings import Settings
from server.wire import schemas as s
from server.wire.render import live_case_out, live_receipt_out, message_out

if TYPE_CHECKING:
    from server.services import Services

__all__ = ["Realtime"]

SESSION_COOKIE = "dermline_session"
# A socket's session is re-read at most this often (HTTP re-reads it on every request), so a
# revoked session loses its sockets within this many seconds; it keeps 1,000 busy
# connections from turning every event into two extra reads.
AUTH_CACHE_SECONDS = 30.0
WATCHDOG_INTERVAL = 0.5
# How often the sweep looks for sockets not re-checked for AUTH_CACHE_SECONDS. A socket that
# only listens sends no events, so without the sweep it would keep receiving case traffic
# after its session expired, idled out, or was revoked through another node.
SWEEP_INTERVAL = 10.0
# How long start-up waits for the Redis subscription (Realtime._start_manager).
REDIS_SUBSCRIBE_WAIT = 5.0
# After the Redis subscription breaks, the listener retries after this many seconds,
# doubling up to the maximum (python-socketio's own listener waits up to 60 s): clients
# are told to sync at most this long after Redis is back.
REDIS_RETRY_MIN = 0.1
REDIS_RETRY_MAX = 1.0

# The socket whose ``send`` is being served in this task: the message it appends is not
# echoed back to it (its acknowledgement carries the message; the sender's other devices
# still get the room's copy). Set by the ``send`` handler around the domain call.
_SENDER_SID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dermline_sender_sid", default=None
)


def _json(model: pydantic.BaseModel) -> dict[str, Any]:
    """A wire model as Socket.IO sends it (the JSON form HTTP sends too)."""
    return model.model_dump(mode="json")


def _error(exc: DomainError) -> dict[str, Any]:
    return {"ok": False, "error": {"code": exc.code.value, "message": exc.message, **exc.fields}}


class _RedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, with what an outage needs (docs/architecture.md,
    "Redis outages").

    * It makes a new Redis client on each (re)connect (the publisher and the listener may
      each make one) and never closes the replaced ones: keep them all so that shutdown
      closes every connection.
    * Pub/sub is lossy: what is published while a node's subscription is broken never
      reaches that node's sockets, and what a node fails to publish reaches no other node.
      So when the listener subscribes again after a break, this node's sockets are told to
      ``resync`` (each client then runs ``sync``, the database replay); and after a publish
      that failed, every node's sockets are told, once publishing works again
      (:meth:`resync`, retried by the Realtime watchdog until it succeeds).
    * The listener retries within ``REDIS_RETRY_MAX`` seconds (the library's waits grow to
      60 s), so the resync follows Redis's return closely.
    """

    #: the publisher's connection is up (set by python-socketio)
    connected: bool

    def __init__(self, url: str, channel: str) -> None:
        # A bounded connect: the publish happens before the sender's acknowledgement, so a
        # Redis that drops packets must not stall sends for the kernel's TCP timeout.
        super().__init__(url, channel=channel, redis_options={"socket_connect_timeout": 2.0})
        self.clients: list[Any] = []
        #: a publish failed since the last resync that reached every node
        self.lost_publish = False
        #: the listener is subscribed (python-socketio keeps no such flag)
        self.listening = False
        #: shut down (``Realtime._close_manager``): a publish now would open a new connection
        #: that nothing closes, so there is none
        self.closed = False

    def _redis_connect(self) -> None:
        super()._redis_connect()
        self.clients.append((self.redis, self.pubsub))

    async def _publish(self, data: Any) -> None:
        """The library's publish (two attempts), remembering a failure instead of only
        logging it."""
        if self.closed:
            return
        for attempt in range(2):
            try:
                if not self.connected:
                    self._redis_connect()
                await self.redis.publish(self.channel, self.json.dumps(data))
                return
            except Exception as exc:  # any failure of the connection or the command
                self.connected = False
                if attempt == 1:
                    self.lost_publish = True
                    event(
                        "realtime.redis_publish_failed",
                        level=logging.WARNING,
                        error_type=type(exc).__name__,
                    )

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        """The library's listener loop, with short retries and a resync after a break."""
        retry = REDIS_RETRY_MIN
        broken = False
        while True:
            try:
                if not self.listening:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    self.listening = True
                    retry = REDIS_RETRY_MIN
                    if broken:
                        broken = False
                        event("realtime.redis_resubscribed", level=logging.WARNING)
                        await self.resync(everywhere=self.lost_publish)
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:  # the connection broke (or never came up)
                if self.listening or not broken:
                    event(
                        "realtime.redis_listen_failed",
                        level=logging.WARNING,
                        error_type=type(exc).__name__,
                    )
                self.listening = False
                broken = True
                await asyncio.sleep(retry)
                retry = min(retry * 2, REDIS_RETRY_MAX)

    async def resync(self, *, everywhere: bool) -> None:
        """Tell sockets to run ``sync``: this node's only, or (``everywhere``) every node's
        through Redis. A failed publish leaves ``lost_publish`` set for the next try."""
        payload = {"reason": "redis"}
        if not everywhere:
            await self.emit("resync", payload, namespace="/", ignore_queue=True)
            return
        self.lost_publish = False
        await self.emit("resync", payload, namespace="/")  # here, then the other nodes


class Realtime:
    """The Socket.IO server and the case service's publisher."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._services: Services | None = None
        manager = None
        if settings.redis_url is not None:
            # Cross-node emits; Redis is lossy, the DB replay is not.
            manager = _RedisManager(settings.redis_url.reveal(), settings.redis_channel)
        origins = list(settings.origins())
        if not origins:  # an empty list would switch Engine.IO's Origin check off
            raise ValueError("allowed origins must not be empty")
        self.sio = SocketServer(
            async_mode="aiohttp",
            # WebSocket only: both clients use it, and it needs no sticky sessions behind a
            # load balancer (long-polling would pin a client to one node).
            transports=["websocket"],
            cors_allowed_origins=origins,
            client_manager=manager,
            max_http_buffer_size=settings.max_body_bytes,
            ping_interval=20,
            ping_timeout=20,
        )
        self._auth_cache: dict[str, tuple[float, Authenticated]] = {}
        # Sockets per session on this node, capped (DERMLINE_MAX_SOCKETS_PER_SESSION).
        self._session_sockets = SessionSockets(settings.max_sockets_per_session)
        # When the sweep last re-checked each socket (monotonic seconds).
        self._swept: dict[str, float] = {}
        #: told each event's name, outcome ("ok" or the error code) and seconds to the ack
        #: (server/metrics.py)
        self.on_event: Callable[[str, str, float], None] | None = None
        self._register()

    # ------------------------------------------------------------------ figures (metrics)

    def connections(self) -> int:
        """Engine.IO connections open on this node."""
        return len(self.sio.eio.sockets)

    def outgoing_backlog(self) -> int:
        """Packets queued to this node's clients, all sockets together."""
        return sum(sock.queue.qsize() for sock in list(self.sio.eio.sockets.values()))

    def redis_subscribed(self) -> bool | None:
        """Whether the Redis listener is subscribed (None: no Redis configured)."""
        manager = self.sio.manager
        if not isinstance(manager, _RedisManager):
            return None
        return bool(manager.listening and manager.pubsub is not None and manager.pubsub.subscribed)

    # ------------------------------------------------------------------ wiring

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path="socket.io")
        app.on_shutdown.append(self._close_sockets)

    async def _close_sockets(self, app: web.Application) -> None:
        """At shutdown (SIGTERM) close every socket now, so clients reconnect to another node
        at once instead of holding the process until aiohttp's shutdown timeout."""
        with contextlib.suppress(Exception):
            await self.sio.eio.disconnect()

    def bind(self, services: Services) -> None:
        self._services = services
        services.patient_links.on_patient_photos = self.patient_photos

    @property
    def services(self) -> Services:
        assert self._services is not None, "bind() is called at start-up"
        return self._services

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await self._start_manager()
        tasks = [asyncio.create_task(self._watchdog()), asyncio.create_task(self._sweeper())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._close_manager()

    async def _start_manager(self) -> None:
        """Subscribe to the Redis channel at start-up, before any client can connect.

        python-socketio starts a node's Redis listener only when the node's first socket
        connects, in the background: until it has subscribed, what other nodes publish (a new
        case in a queue, a message) is lost to that first client, and queue events are not
        replayed. Starting it here, and waiting (bounded) for the subscription, closes that
        window. If Redis is down, the listener keeps retrying and the node serves meanwhile.
        """
        if self.sio.manager_initialized:
            return
        self.sio.manager_initialized = True
        self.sio.manager.initialize()
        manager = self.sio.manager
        if not isinstance(manager, _RedisManager):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REDIS_SUBSCRIBE_WAIT):
                # python-socketio subscribes inside its listener task and tells nobody.
                while not manager.listening:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)

    async def _close_manager(self) -> None:
        """Stop the Redis listener and close its connections (python-socketio leaves them
        open at shutdown)."""
        manager = self.sio.manager
        if not isinstance(manager, _RedisManager):
            return
        manager.closed = True
        listener = getattr(manager, "thread", None)
        if isinstance(listener, asyncio.Future):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        for redis, pubsub in manager.clients:
            for conn in (pubsub, redis):
                with contextlib.suppress(Exception):
                    await conn.aclose()

    async def _watchdog(self) -> None:
        """Disconnect clients whose outgoing backlog exceeds the limit."""
        limit = self._settings.client_backlog_limit
        resync: asyncio.Task[None] | None = None
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL)
            manager = self.sio.manager
            if (
                isinstance(manager, _RedisManager)
                and manager.lost_publish
                and manager.listening
                and (resync is None or resync.done())
            ):
                # Something this node published was lost while Redis was away, and the
                # subscription is up again: tell every node's sockets (in its own task: a
                # publish can wait for Redis's connect timeout).
                resync = asyncio.create_task(manager.resync(everywhere=True))
            for sock in list(self.sio.eio.sockets.values()):
                if sock.queue.qsize() > limit and not sock.closed:
                    event("realtime.backlog_disconnect", level=logging.WARNING, count=limit)
                    # abort: do not queue a CLOSE behind the backlog; the client reconnects
                    # and catches up from the database.
                    with contextlib.suppress(Exception):
                        await sock.close(wait=False, abort=True)
                    # Engine.IO keeps the stalled TCP connection (and the queue) until
                    # its reader times out (ping interval + timeout, up to 40 s): drop the
                    # queued packets now so the memory bound holds, then wake the writer.
                    self._drop_queue(sock)

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.sweep_sessions()
            except Exception as exc:  # the sweep must outlive a storage hiccup
                event("realtime.sweep_failed", level=logging.WARNING, error_type=type(exc).__name__)

    async def sweep_sessions(self) -> int:
        """Disconnect sockets whose session has ended; returns how many were closed.

        Each socket is re-read at most once per AUTH_CACHE_SECONDS, without counting as use
        of the session (``authenticate(touch=False)``): listening is not activity, so an
        unattended screen loses its socket at the session's idle timeout, like its HTTP.
        """
        now = time.monotonic()
        closed = 0
        # Every socket of this node (room None holds them all), not the cache's keys: a
        # client can empty its cache entry (an emitted "disconnect" event) but not leave
        # the namespace without disconnecting.
        for sid in [sid for sid, _eio in self.sio.manager.get_participants("/", None)]:
            cached = self._auth_cache.get(sid)
            last = max(cached[0] if cached else 0.0, self._swept.get(sid, 0.0))
            if now - last < AUTH_CACHE_SECONDS:
                continue
            self._swept[sid] = now
            try:
                token = (await self.sio.get_session(sid))["token"]
                await self.services.sessions.authenticate(token, touch=False)
            except DomainError:
                self._auth_cache.pop(sid, None)
                await self.sio.disconnect(sid)
                closed += 1
            except KeyError:  # the socket went away meanwhile
                self._auth_cache.pop(sid, None)
                self._swept.pop(sid, None)
        if closed:
            event("realtime.sessions_ended", level=logging.INFO, count=closed)
        return closed

    @staticmethod
    def _drop_queue(sock: Any) -> None:
        dropped = 0
        while True:
            try:
                sock.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            sock.queue.task_done()
            dropped += 1
        with contextlib.suppress(Exception):
            sock.queue.put_nowait(None)  # the writer's "connection closed" signal
        event("realtime.backlog_dropped", level=logging.DEBUG, count=dropped)

    # ------------------------------------------------------------------ publisher

    async def message_appended(self, case: Case, message: Message) -> None:
        # No echo to the socket that sent it (its acknowledgement is its copy).
        await self.sio.emit(
            "message",
            _json(message_out(message)),
            room=f"case:{case.case_id}",
            skip_sid=_SENDER_SID.get(),
        )

    async def participants_removed(self, case_id: str, user_ids: Sequence[str]) -> None:
        """People taken off a case leave its room on this node at once, so they receive no
        later event of it; every later event is refused by the policy anyway (``join`` and
        ``sync`` authorise each case). On other nodes of a multi-node deployment their
        sockets stay in the room until they reconnect (events there are ciphertext of an
        epoch they hold no key for once a participant rotated; docs/architecture.md)."""
        for user_id in user_ids:
            for sid, _eio in list(self.sio.manager.get_participants("/", f"user:{user_id}")):
                await self.sio.leave_room(sid, f"case:{case_id}")

    async def patient_photos(self, case: Case, link: PatientLink) -> None:
        """A patient sent photos through a link: tell the case room, so open threads fetch
        them at once (the case state does not change; docs/api.md)."""
        await self.sio.emit(
            "patient_photos",
            _json(s.PatientPhotosOut(case_id=case.case_id, link_id=link.link_id)),
            room=f"case:{case.case_id}",
        )

    async def notice(self, user_id: str, kind: str, text: str) -> None:
        """An in-page notification for one person (``server/domain/notifications.py``): the
        kind and its fixed text, to the person's own room; the page counts it in its title,
        announces it and may play a sound."""
        payload = _json(s.NoticeOut(kind=kind, text=text))  # type: ignore[arg-type]
        await self.sio.emit("notice", payload, room=f"user:{user_id}")

    async def case_changed(self, change: CaseChange) -> None:
        """Tell the case room, each participant's own room (a new case has no room members
        yet: the client then calls ``sync`` to join it) and the service queue."""
        case = change.case
        payload = _json(live_case_out(case, change.outcome))
        rooms = [f"case:{case.case_id}", *(f"user:{uid}" for uid in change.participant_ids)]
        await self.sio.emit("case", payload, room=rooms)
        await self.sio.emit("queue", payload, room=f"queue:{case.service_id}")

    # ------------------------------------------------------------------ auth

    async def sessions_revoked(self, user_id: str) -> None:
        """Some of the user's sessions ended: re-check each of the user's sockets on this
        node now and disconnect those whose session is gone (other nodes notice at their
        next periodic re-check, within AUTH_CACHE_SECONDS)."""
        sids = [sid for sid, _eio in self.sio.manager.get_participants("/", f"user:{user_id}")]
        for sid in sids:
            self._auth_cache.pop(sid, None)
            try:
                await self._auth(sid)
            except DomainError:
                await self.sio.disconnect(sid)
            except KeyError:
                pass  # the socket went away meanwhile

    async def _auth(self, sid: str) -> tuple[Authenticated, str]:
        session = await self.sio.get_session(sid)
        token: str = session["token"]
        now = time.monotonic()
        cached = self._auth_cache.get(sid)
        if cached is not None and now - cached[0] < AUTH_CACHE_SECONDS:
            return cached[1], session["client"]
        try:
            auth = await self.services.sessions.authenticate(token)
        except DomainError:
            self._auth_cache.pop(sid, None)
            raise AuthError() from None
        self._auth_cache[sid] = (now, auth)
        return auth, session["client"]

    def _register(self) -> None:
        sio = self.sio

        async def connect(
            sid: str, environ: Any = None, auth: Any = None, *_extra: Any
        ) -> dict[str, Any] | None:
            request = environ.get("aiohttp.request") if isinstance(environ, dict) else None
            if not isinstance(request, web.Request):
                # A connected client can emit an *event* named "connect" (python-socketio
                # routes it here with a client-made "environ"); only a real handshake
                # carries the aiohttp request. Answer it like any bad event.
                return _error(InvalidInput("unknown event"))
            origin = environ.get("HTTP_ORIGIN")
            if origin is not None and origin.rstrip("/") not in self._settings.origins():
                raise socketio.exceptions.ConnectionRefusedError("origin_refused")
            forwarded = joined_forwarded_for(request.headers.getall("X-Forwarded-For", []))
            client = client_address(request.remote, forwarded, self._settings.trusted_proxies)
            token = None
            try:
                cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
                if SESSION_COOKIE in cookie:
                    token = cookie[SESSION_COOKIE].value
            except CookieError:
                token = None
            try:
                authed = await self.services.sessions.authenticate(token)
            except DomainError:
                event("realtime.refused", level=logging.INFO, client=client, code="auth")
                raise socketio.exceptions.ConnectionRefusedError("unauthenticated") from None
            if not self._session_sockets.claim(authed.session.session_id_hash, sid):
                event("realtime.refused", level=logging.INFO, client=client, code="sockets")
                raise socketio.exceptions.ConnectionRefusedError(ErrorCode.TOO_MANY_SOCKETS.value)
            try:
                await sio.save_session(sid, {"token": token, "client": client})
                self._auth_cache[sid] = (time.monotonic(), authed)
                await sio.enter_room(sid, f"user:{authed.user.user_id}")
                for org_id, roles in authed.actor.memberships.items():
                    if Role.DERMATOLOGIST in roles:
                        await sio.enter_room(sid, f"queue:{org_id}")
            except BaseException:
                self._session_sockets.release(sid)  # never connected: no disconnect follows
                raise
            event("realtime.connect", user_id=authed.user.user_id, client=client)
            return None

        async def disconnect(sid: str, reason: Any = None) -> None:
            self._auth_cache.pop(sid, None)
            self._swept.pop(sid, None)
            self._session_sockets.release(sid)

        sio.on("connect", connect)
        sio.on("disconnect", disconnect)

        def handler(
            fn: Callable[[str, Authenticated, str, Any], Awaitable[dict[str, Any]]],
        ) -> None:
            async def wrapped(sid: str, *args: Any) -> dict[str, Any]:
                start = time.perf_counter()
                answer = await answered(sid, *args)
                if self.on_event is not None:  # server/metrics.py
                    outcome = "ok" if answer.get("ok") else str(answer["error"]["code"])
                    self.on_event(fn.__name__, outcome, time.perf_counter() - start)
                return answer

            async def answered(sid: str, *args: Any) -> dict[str, Any]:
                # Any number of arguments of any type: python-socketio passes what the
                # client sent, and a TypeError here would leave the client without an ack.
                try:
                    auth, client = await self._auth(sid)
                    if len(args) > 1:
                        raise InvalidInput("send one argument")
                    return await fn(sid, auth, client, args[0] if args else None)
                except DomainError as exc:
                    if isinstance(exc, AuthError):
                        # The session ended (logout, revoke, expiry): close the socket too.
                        asyncio.get_running_loop().create_task(sio.disconnect(sid))
                    return _error(exc)
                except pydantic.ValidationError:
                    return _error(InvalidInput())
                except StorageUnavailable:
                    return _error(Unavailable())
                except Exception as exc:
                    event(
                        "realtime.internal_error",
                        level=logging.ERROR,
                        action=fn.__name__,
                        error_type=type(exc).__name__,
                    )
                    return {
                        "ok": False,
                        "error": {
                            "code": ErrorCode.INTERNAL.value,
                            "message": "something went wrong on the server",
                        },
                    }

            sio.on(fn.__name__, wrapped)

        async def unknown_event(event_name: Any, sid: str, *args: Any) -> dict[str, Any]:
            # Catch-all: an event we do not serve still gets an error ack (not silence).
            return _error(InvalidInput("unknown event"))

        sio.on("*", unknown_event)

        @handler
        async def send(sid: str, auth: Authenticated, client: str, data: Any) -> dict[str, Any]:
            body = s.SendIn.model_validate(data)
            origin = _SENDER_SID.set(sid)
            try:
                result = await self.services.cases.send(
                    auth.actor, body.case_id, body.client_msg_id, body.envelope, client
                )
            finally:
                _SENDER_SID.reset(origin)
            # The sender is a party: make sure it hears the room from now on.
            await sio.enter_room(sid, f"case:{body.case_id}")
            # The room's copy skips this socket: the acknowledgement carries the message.
            return {
                "ok": True,
                "seq": result.message.seq,
                "duplicate": not result.created,
                "message": _json(message_out(result.message)),
            }

        @handler
        async def join(sid: str, auth: Authenticated, client: str, data: Any) -> dict[str, Any]:
            body = s.CaseRef.model_validate(data)
            case, outcome = await self.services.cases.case_with_outcome(auth.actor, body.case_id)
            await sio.enter_room(sid, f"case:{case.case_id}")
            return {"ok": True, "case": _json(live_case_out(case, outcome))}

        @handler
        async def leave(sid: str, auth: Authenticated, client: str, data: Any) -> dict[str, Any]:
            body = s.CaseRef.model_validate(data)
            await sio.leave_room(sid, f"case:{body.case_id}")
            return {"ok": True}

        @handler
        async def sync(sid: str, auth: Authenticated, client: str, data: Any) -> dict[str, Any]:
            body = s.SyncIn.model_validate({} if data is None else data)
            limit = max(1, min(body.limit, self._settings.replay_batch))

            async def join_room(case_id: str) -> None:
                await sio.enter_room(sid, f"case:{case_id}")

            # The domain joins each authorised case's room before reading its messages
            # (rooms first, then replay; CaseService.replay).
            replay = await self.services.cases.replay(
                auth.actor, body.cases, limit=limit, join=join_room
            )
            out: dict[str, Any] = {}
            for case_id, item in replay.items():
                if isinstance(item, DomainError):
                    out[case_id] = {"error": {"code": item.code.value, "message": item.message}}
                    continue
                out[case_id] = _json(
                    s.SyncCaseOut(
                        case=live_case_out(item.case, item.outcome),
                        messages=[message_out(m) for m in item.messages],
                        more=item.more,
                    )
                )
            return {"ok": True, "cases": out}

        @handler
        async def typing(sid: str, auth: Authenticated, client: str, data: Any) -> dict[str, Any]:
            body = s.CaseRef.model_validate(data)
            await self.services.cases.load(auth.actor, body.case_id, CaseAction.MESSAGE)
            await sio.emit(
                "typing",
                _json(s.TypingOut(case_id=body.case_id, user_id=auth.user.user_id)),
                room=f"case:{body.case_id}",
                skip_sid=sid,
            )
            return {"ok": True}

        @handler
        async def receipt(sid: str, auth: Authenticated, client: str, data: Any) -> dict[str, Any]:
            body = s.ReceiptEventIn.model_validate(data)
            if body.kind not in ("delivered", "read"):
                raise InvalidInput("kind is delivered or read")
            r = await self.services.cases.receipt(auth.actor, body.case_id, body.kind, body.seq)
            await sio.emit(
                "receipt", _json(live_receipt_out(r)), room=f"case:{body.case_id}", skip_sid=sid
            )
            return {"ok": True, "seq": r.seq}
