"""Notifications that carry no patient data: Web Push to browsers, e-mail notices, and each
person's choices (docs/architecture.md, "Notifications").

Rules
-----
* **What.** A notification is one of the fixed texts of :data:`NOTICES` and, for a push,
  an opaque counter of that subscription (1, 2, 3, ...): never a case id, a name, a state
  or any content. Every push payload is padded to one length (:data:`PUSH_PAD`), so the
  push service cannot tell the texts apart by size either.
* **Who.** A new message: the case's participants except its sender. A move: the
  participants except the person who made it (the lifecycle says who: :func:`_mover`).
  A case newly submitted (or resubmitted): also its service's dermatologists (the
  queue). Disabled accounts get nothing. The sender of an event is never notified of it.
* **When.** After the commit and off the acknowledgement path: the publisher hooks only
  note the event (no await, no I/O); a background task gathers the events of
  ``coalesce`` seconds, works out the people, and notifies each person once with the
  most important text among theirs. A move that carries its message is announced by the
  message alone.
* **In the page.** Each person's open pages hear a ``notice`` (the kind and its text) in
  their own real-time room; the page counts it in its title, announces it in a live
  region, may play a sound, and shows a browser notification when hidden.
* **Push** (RFC 8030, 8291, 8292). Each subscription of each person gets the payload
  encrypted to its keys (:mod:`crypto.webpush`), with a VAPID token signed by the server's
  key (created on first use and kept sealed in storage, ``server_key``). Endpoints must be
  on a configured push service (``push_services``): the server never POSTs anywhere a
  client names. A push service answering 404 or 410 has forgotten the subscription: it is
  removed (pruned). Other failures are logged (status only) and dropped: the in-page
  notification and the thread itself are the delivery guarantee, a push is a hint.
* **E-mail.** To the login name of those who chose it, through the configured SMTP server,
  at most once per ``email_interval`` seconds per person; a fixed subject and text with a
  link to the service, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import storage
from crypto import webpush
from crypto.errors import PushSubscriptionKeyError
from server.domain.cases import CaseChange, Publisher
from server.domain.clock import Clock
from server.domain.policy import Actor
from server.errors import InvalidInput, NotFound
from server.logs import event

__all__ = [
    "NOTICES",
    "PUSH_PAD",
    "InPageNotifier",
    "Mailer",
    "NotificationService",
    "NotificationSettings",
    "NotifyingPublisher",
    "PushGateway",
    "PushSettings",
]

#: The only things a notification ever says, by kind (most important first).
NOTICES: dict[str, str] = {
    "message": "A new reply in one of your cases",
    "queue": "A new case is waiting in your service's queue",
    "change": "One of your cases has changed",
}
_RANK = {kind: -i for i, kind in enumerate(NOTICES)}
#: Push payloads are padded to this many bytes (RFC 8291 section 4 allows padding).
PUSH_PAD = 160
_VAPID_KEY_NAME = "vapid_signing_key"
EMAIL_SUBJECT = "Dermline: new activity in your cases"

NotificationSettings = storage.NotificationSettings


class PushGateway(Protocol):
    """Sends one RFC 8030 push (implemented over aiohttp in ``server/push.py``)."""

    async def send(self, endpoint: str, body: bytes, authorization: str, ttl: int) -> int:
        """POST ``body`` to ``endpoint``; the push service's HTTP status (0: unreachable)."""
        ...


class InPageNotifier(Protocol):
    """Tells one person's open pages (the real-time layer's ``notice``)."""

    async def __call__(self, user_id: str, kind: str, text: str) -> None: ...


class Mailer(Protocol):
    """Sends one e-mail (implemented over SMTP in ``server/mailer.py``)."""

    async def send(self, to: str, subject: str, text: str) -> None: ...


@dataclass(frozen=True)
class PushSettings:
    """The slice of the server settings notifications need."""

    #: origins subscriptions may point at ("https://*.example" matches subdomains)
    services: tuple[str, ...]
    #: the VAPID contact (RFC 8292 "sub"): mailto: or https:
    contact: str
    #: seconds a push service keeps an undelivered push
    ttl: int
    #: seconds events are gathered before notifying
    coalesce: float
    #: seconds between two e-mail notices to one person
    email_interval: int
    #: the address people open Dermline at (the link in e-mails)
    app_url: str


def endpoint_allowed(endpoint: str, services: Sequence[str]) -> bool:
    """Whether ``endpoint`` is a URL on one of the configured push services.

    >>> endpoint_allowed("https://fcm.googleapis.com/fcm/send/x", ["https://fcm.googleapis.com"])
    True
    >>> endpoint_allowed("https://a.notify.windows.com/w/?t=1", ["https://*.notify.windows.com"])
    True
    >>> endpoint_allowed("https://evil.example/fcm.googleapis.com", ["https://fcm.googleapis.com"])
    False
    """
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:
        return False
    if url.username or url.password or not url.hostname:
        return False
    for service in services:
        allowed = urlsplit(service)
        if allowed.scheme != url.scheme or (allowed.port or None) != (port or None):
            continue
        pattern = allowed.hostname or ""
        host = url.hostname.lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _audience(endpoint: str) -> str:
    """The push service's origin: the VAPID token's ``aud`` (RFC 8292 section 2)."""
    url = urlsplit(endpoint)
    return f"{url.scheme}://{url.netloc}"


def _mover(case: storage.Case) -> str | None:
    """Who made the move that left ``case`` as it is, from the lifecycle table
    (``server/domain/lifecycle.py``); None when this is no fresh move."""
    s = storage.CaseState
    if case.state is s.SUBMITTED and case.submitted_at == case.updated_at:
        return case.created_by  # submit / resubmit (referrer)
    if case.state is s.IN_REVIEW and case.claimed_at == case.updated_at:
        return case.claimed_by  # claim
    if case.state is s.IN_REVIEW:
        return case.created_by  # answer (referrer)
    if case.state is s.AWAITING_GP:
        return case.claimed_by  # ask (responder)
    if case.state is s.CLOSED and case.closed_at == case.updated_at:
        return case.claimed_by  # close (responder)
    if case.state is s.WITHDRAWN:
        return case.created_by  # withdraw (referrer)
    return None


@dataclass(frozen=True)
class _Event:
    kind: str
    case: storage.Case
    exclude: str | None
    participants: tuple[str, ...] | None = None


class NotificationService:
    def __init__(
        self,
        store: storage.Storage,
        clock: Clock,
        settings: PushSettings,
        gateway: PushGateway | None,
        mailer: Mailer | None = None,
        *,
        in_page: InPageNotifier | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._gateway = gateway
        self._mailer = mailer
        self._in_page = in_page
        # VAPID tokens are checked against the push service's own clock, not ours.
        self._wall = wall
        self._vapid: bytes | None = None
        self._events: list[_Event] = []
        # the task gathering events now (None: the next event starts one), and every
        # delivery task not finished yet
        self._flusher: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        # set at shutdown: gathering stops waiting, what is noted goes out now
        self._closing = False
        self._wake: asyncio.Event | None = None
        self._last_email: dict[str, float] = {}
        # (case id, state, updated_at) of the moves already announced (a case event
        # without a new move, such as a key share, announces nothing).
        self._announced: dict[str, tuple[storage.CaseState, object]] = {}
        # case id -> (sender, seq) of its last message noted: a move that carried that
        # message is announced by the message alone
        self._messaged: dict[str, tuple[str, int]] = {}

    # ------------------------------------------------------------------ settings

    async def vapid_public_key(self) -> str:
        """The ``applicationServerKey`` for ``PushManager.subscribe`` (base64url)."""
        return webpush.vapid_public_key(await self._vapid_key())

    async def _vapid_key(self) -> bytes:
        if self._vapid is None:
            self._vapid = await self._store.server_key(_VAPID_KEY_NAME, webpush.new_vapid_key())
        return self._vapid

    async def subscribe(
        self, actor: Actor, endpoint: str, p256dh: bytes, auth: bytes
    ) -> storage.PushSubscription:
        """Store this browser's subscription for the signed-in person (replacing any
        subscription with the same endpoint)."""
        if not endpoint_allowed(endpoint, self._settings.services):
            raise InvalidInput("this push service is not one the server sends to")
        try:
            webpush.check_subscription_keys(p256dh, auth)
        except PushSubscriptionKeyError:
            raise InvalidInput("the subscription keys are not valid") from None
        try:
            return await self._store.add_push_subscription(
                storage.PushSubscription(
                    subscription_id=str(uuid.uuid4()),
                    user_id=actor.user_id,
                    endpoint=endpoint,
                    p256dh=p256dh,
                    auth=auth,
                    created_at=self._clock.now(),
                )
            )
        except storage.InvalidArgument:
            raise InvalidInput("the subscription is not valid") from None

    async def list_subscriptions(self, actor: Actor) -> list[storage.PushSubscription]:
        return await self._store.list_push_subscriptions([actor.user_id])

    async def unsubscribe(self, actor: Actor, subscription_id: str) -> None:
        """Remove one of the person's own subscriptions (NotFound for anyone else's)."""
        mine = {s.subscription_id for s in await self.list_subscriptions(actor)}
        if subscription_id not in mine:
            raise NotFound()
        try:
            await self._store.delete_push_subscription(subscription_id)
        except storage.NotFound:
            raise NotFound() from None

    async def settings(self, actor: Actor) -> NotificationSettings:
        return await self._store.get_notification_settings(actor.user_id)

    async def update_settings(
        self, actor: Actor, *, sound: bool, email: bool
    ) -> NotificationSettings:
        return await self._store.put_notification_settings(
            NotificationSettings(actor.user_id, sound=sound, email=email)
        )

    @property
    def email_available(self) -> bool:
        return self._mailer is not None

    # ------------------------------------------------------------------ events

    def message_appended(self, case: storage.Case, message: storage.Message) -> None:
        if len(self._messaged) > 100_000:
            self._messaged.clear()
        self._messaged[case.case_id] = (message.sender_id, message.seq)
        self._note(_Event("message", case, message.sender_id))

    def case_changed(self, change: CaseChange) -> None:
        case = change.case
        mover = _mover(case)
        if mover is None:
            return
        stamp = (case.state, case.updated_at)
        if self._announced.get(case.case_id) == stamp:
            return
        if len(self._announced) > 100_000:
            self._announced.clear()
        self._announced[case.case_id] = stamp
        if self._messaged.get(case.case_id) != (mover, case.last_seq):
            self._note(_Event("change", case, mover, change.participant_ids))
        if case.state is storage.CaseState.SUBMITTED:
            self._note(_Event("queue", case, mover))

    def _note(self, ev: _Event) -> None:
        """Remember the event; start the background delivery unless it is running."""
        self._events.append(ev)
        if self._flusher is None:
            task = asyncio.get_running_loop().create_task(self._flush_later())
            self._flusher = task
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _flush_later(self) -> None:
        if not self._closing:
            self._wake = self._wake or asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.coalesce)
        events, self._events = self._events, []
        self._flusher = None
        try:
            await self._deliver(events)
        except Exception as exc:  # a background task: log by type, never crash the loop
            event("notify.failed", level=logging.WARNING, error_type=type(exc).__name__)

    async def close(self) -> None:
        """At shutdown: stop gathering and send what is noted now."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        await self.drain()

    async def drain(self) -> None:
        """Wait until every event noted so far has been delivered (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*[asyncio.shield(t) for t in list(self._running)])

    async def _deliver(self, events: list[_Event]) -> None:
        wanted: dict[str, str] = {}
        for ev in events:
            for user_id in await self._recipients(ev):
                old = wanted.get(user_id)
                if old is None or _RANK[ev.kind] > _RANK[old]:
                    wanted[user_id] = ev.kind
        if not wanted:
            return
        users = {}
        for user_id in wanted:
            user = await self._store.get_user(user_id)
            if not user.disabled:
                users[user_id] = user
        if self._in_page is not None:
            for user_id in users:
                await self._in_page(user_id, wanted[user_id], NOTICES[wanted[user_id]])
        subs = await self._store.list_push_subscriptions(sorted(users))
        await asyncio.gather(*(self._push(s, wanted[s.user_id]) for s in subs))
        if self._mailer is not None:
            for user_id, user in users.items():
                await self._email(user, wanted[user_id])

    async def _recipients(self, ev: _Event) -> set[str]:
        if ev.kind == "queue":
            members = await self._store.list_users(ev.case.service_id)
            ids = {
                u.user_id
                for u in members
                if any(
                    m.org_id == ev.case.service_id and m.role is storage.Role.DERMATOLOGIST
                    for m in u.memberships
                )
            }
        elif ev.participants is not None:
            ids = set(ev.participants)
        else:
            ids = {p.user_id for p in await self._store.list_participants(ev.case.case_id)}
        ids.discard(ev.exclude or "")
        return ids

    async def _push(self, sub: storage.PushSubscription, kind: str) -> None:
        if self._gateway is None or not endpoint_allowed(sub.endpoint, self._settings.services):
            return
        try:
            counter = await self._store.next_push_counter(sub.subscription_id)
        except storage.NotFound:
            return  # removed meanwhile
        payload = json.dumps(
            {"v": 1, "title": "Dermline", "body": NOTICES[kind], "n": counter},
            separators=(",", ":"),
        ).encode()
        body = webpush.encrypt(payload, sub.p256dh, sub.auth, pad_to=PUSH_PAD)
        authorization = webpush.vapid_authorization(
            await self._vapid_key(),
            _audience(sub.endpoint),
            self._settings.contact,
            int(self._wall()) + 12 * 3600,
        )
        status = await self._gateway.send(sub.endpoint, body, authorization, self._settings.ttl)
        if status in (404, 410):
            # RFC 8030 section 7.3: the subscription expired or was removed by the browser.
            with contextlib.suppress(storage.NotFound):
                await self._store.delete_push_subscription(sub.subscription_id)
            event("push.pruned", user_id=sub.user_id, status=status)
        elif not 200 <= status < 300:
            event("push.refused", level=logging.WARNING, user_id=sub.user_id, status=status)

    async def _email(self, user: storage.User, kind: str) -> None:
        assert self._mailer is not None
        if "@" not in user.login_name:
            return
        settings = await self._store.get_notification_settings(user.user_id)
        if not settings.email:
            return
        now = self._wall()
        last = self._last_email.get(user.user_id)
        if last is not None and now - last < self._settings.email_interval:
            return
        self._last_email[user.user_id] = now
        text = (
            f"{NOTICES[kind]}.\n\n"
            f"Sign in to Dermline to read it: {self._settings.app_url}\n\n"
            "This notice holds no patient information. You can turn these e-mails off in\n"
            "Dermline under Notification settings.\n"
        )
        try:
            await self._mailer.send(user.login_name, EMAIL_SUBJECT, text)
        except Exception as exc:  # the SMTP server's trouble is logged, never the address
            event("email.failed", level=logging.WARNING, error_type=type(exc).__name__)


class NotifyingPublisher:
    """The real-time publisher, then the notifications (noted only: nothing awaited)."""

    def __init__(self, inner: Publisher, notifications: NotificationService) -> None:
        self._inner = inner
        self._notifications = notifications

    async def message_appended(self, case: storage.Case, message: storage.Message) -> None:
        await self._inner.message_appended(case, message)
        self._notifications.message_appended(case, message)

    async def case_changed(self, change: CaseChange) -> None:
        await self._inner.case_changed(change)
        self._notifications.case_changed(change)

    async def participants_removed(self, case_id: str, user_ids: Sequence[str]) -> None:
        await self._inner.participants_removed(case_id, user_ids)
