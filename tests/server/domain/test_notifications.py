"""Notifications against the domain services: who is told (never the sender; the queue for
a new case), what a push holds (one fixed text and a counter, decrypted here with the
subscription's private key: no case id, no name), padding to one length, delivery off the
acknowledgement path, gathering of events, pruning of expired subscriptions, e-mail notices
at most once per interval, and the checks on subscribing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import storage
from crypto.content import ContentType
from server.domain.notifications import NOTICES
from server.domain.policy import CaseAction
from server.errors import InvalidInput, NotFound
from tests.push_service import Browser
from tests.server.domain.world import Clinic, Member, World

SERVICE = "https://push.example"


class RecordingGateway:
    """The push service as the domain sees it: records each push; a status per endpoint."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, str, int]] = []
        self.status: dict[str, int] = {}
        self.hold: asyncio.Event | None = None

    async def send(self, endpoint: str, body: bytes, authorization: str, ttl: int) -> int:
        if self.hold is not None:
            await self.hold.wait()
        self.sent.append((endpoint, body, authorization, ttl))
        return self.status.get(endpoint, 201)

    def to(self, endpoint: str) -> list[bytes]:
        return [body for e, body, _a, _t in self.sent if e == endpoint]


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))


@pytest.fixture
def gateway() -> RecordingGateway:
    return RecordingGateway()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def world(
    store: storage.Storage, tmp_path: Path, gateway: RecordingGateway, mailer: RecordingMailer
) -> World:
    return World.build(
        store,
        tmp_path,
        push_gateway=gateway,
        mailer=mailer,
        push_services=SERVICE,
        notify_coalesce_ms=0,
    )


async def subscribe(w: World, member: Member) -> tuple[Browser, str]:
    browser = Browser()
    endpoint = f"{SERVICE}/send/{member.user_id}"
    await w.services.notifications.subscribe(member.actor, endpoint, browser.p256dh, browser.auth)
    return browser, endpoint


async def reply(w: World, sender: Member, case_id: str) -> None:
    msg_id, envelope = w.seal(sender, case_id, ContentType.TEXT, {"text": "Mrs Patient's mole"})
    await w.services.cases.send(sender.actor, case_id, msg_id, envelope, None)


async def test_a_reply_tells_the_others_a_fixed_text_and_nothing_else(
    cast: Clinic, gateway: RecordingGateway
) -> None:
    w = cast.world
    (_gp, gp_end), (derm, derm_end), (derm2, derm2_end) = [
        await subscribe(w, m) for m in (cast.gp, cast.derm, cast.derm2)
    ]
    case = await w.case(
        cast.gp, cast.practice, cast.service, [cast.derm, cast.derm2], cast.records_key
    )
    await w.services.notifications.drain()
    # A new case: the service's dermatologists hear of the queue; the GP who sent it nothing.
    assert gateway.to(gp_end) == []
    assert [derm.read(b)["body"] for b in gateway.to(derm_end)] == [NOTICES["queue"]]
    await reply(w, cast.gp, case.case_id)
    await reply(w, cast.gp, case.case_id)
    await w.services.notifications.drain()
    assert gateway.to(gp_end) == []
    read = [derm.read(b) for b in gateway.to(derm_end)]
    assert read[1:] == [
        {"v": 1, "title": "Dermline", "body": NOTICES["message"], "n": 2},
        {"v": 1, "title": "Dermline", "body": NOTICES["message"], "n": 3},
    ]
    assert [derm2.read(b)["n"] for b in gateway.to(derm2_end)] == [1, 2, 3]
    # Nothing of the case in any push, in the clear or inside; all of one length.
    bodies = [body for _e, body, _a, _t in gateway.sent]
    assert len({len(b) for b in bodies}) == 1
    for body in bodies:
        text = json.dumps(derm.read(body) if body in gateway.to(derm_end) else {})
        for secret in (case.case_id, cast.gp.user_id, "Patient", "Elm", "Dr"):
            assert secret not in text
            assert secret.encode() not in body


async def test_a_move_tells_the_others_not_the_mover(
    cast: Clinic, gateway: RecordingGateway
) -> None:
    w = cast.world
    (gp, gp_end), (_derm, derm_end) = [await subscribe(w, m) for m in (cast.gp, cast.derm)]
    case = await w.case(
        cast.gp, cast.practice, cast.service, [cast.derm, cast.derm2], cast.records_key
    )
    await w.services.notifications.drain()
    gateway.sent.clear()
    await w.services.cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    await w.services.notifications.drain()
    assert [gp.read(b)["body"] for b in gateway.to(gp_end)] == [NOTICES["change"]]
    assert gateway.to(derm_end) == []


async def test_sending_is_not_held_up_by_the_push_service(
    cast: Clinic, gateway: RecordingGateway
) -> None:
    w = cast.world
    _derm, derm_end = await subscribe(w, cast.derm)
    case = await w.case(cast.gp, cast.practice, cast.service, [cast.derm], cast.records_key)
    await w.services.notifications.drain()
    gateway.hold = asyncio.Event()  # the push service hangs
    await asyncio.wait_for(reply(w, cast.gp, case.case_id), 2)  # the send returns at once
    assert len(gateway.to(derm_end)) == 1
    gateway.hold.set()
    await w.services.notifications.drain()
    assert len(gateway.to(derm_end)) == 2


async def test_events_close_together_make_one_notification(
    store: storage.Storage, tmp_path: Path, gateway: RecordingGateway
) -> None:
    from tests.server.domain.world import clinic

    w = World.build(
        store, tmp_path, push_gateway=gateway, push_services=SERVICE, notify_coalesce_ms=100
    )
    cast = await clinic(w)
    derm, derm_end = await subscribe(w, cast.derm)
    case = await w.case(cast.gp, cast.practice, cast.service, [cast.derm], cast.records_key)
    for _ in range(3):
        await reply(w, cast.gp, case.case_id)
    await w.services.notifications.drain()
    # The new case and three replies within 100 ms: one push, with the reply's text.
    assert [derm.read(b)["body"] for b in gateway.to(derm_end)] == [NOTICES["message"]]


async def test_expired_subscriptions_are_pruned(cast: Clinic, gateway: RecordingGateway) -> None:
    w = cast.world
    _gp, gp_end = await subscribe(w, cast.gp)
    _derm, derm_end = await subscribe(w, cast.derm)
    _derm2, derm2_end = await subscribe(w, cast.derm2)
    gateway.status = {gp_end: 410, derm_end: 404, derm2_end: 503}
    case = await w.case(
        cast.gp, cast.practice, cast.service, [cast.derm, cast.derm2], cast.records_key
    )
    await w.services.cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    await reply(w, cast.derm, case.case_id)
    await w.services.notifications.drain()
    left = await w.store.list_push_subscriptions(
        [cast.gp.user_id, cast.derm.user_id, cast.derm2.user_id]
    )
    assert [s.user_id for s in left] == [cast.derm2.user_id]  # 503: tried again next time


async def test_email_notices_when_chosen_at_most_once_per_interval(
    cast: Clinic, mailer: RecordingMailer
) -> None:
    w = cast.world
    case = await w.case(cast.gp, cast.practice, cast.service, [cast.derm], cast.records_key)
    await w.services.cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    await reply(w, cast.derm, case.case_id)
    await w.services.notifications.drain()
    assert mailer.sent == []  # nobody chose e-mail
    await w.services.notifications.update_settings(cast.gp.actor, sound=True, email=True)
    await reply(w, cast.derm, case.case_id)
    await w.services.notifications.drain()
    await reply(w, cast.derm, case.case_id)
    await w.services.notifications.drain()
    assert len(mailer.sent) == 1
    to, subject, text = mailer.sent[0]
    assert to == cast.gp.login_name and NOTICES["message"] in text
    assert case.case_id not in subject + text and "Patient" not in text


async def test_subscribing_checks_the_service_and_the_keys(cast: Clinic) -> None:
    n = cast.world.services.notifications
    b = Browser()
    with pytest.raises(InvalidInput):
        await n.subscribe(cast.gp.actor, "https://evil.example/push/1", b.p256dh, b.auth)
    with pytest.raises(InvalidInput):
        await n.subscribe(cast.gp.actor, f"{SERVICE}/x", b.p256dh[:-1] + b"\x00", b.auth)
    with pytest.raises(InvalidInput):
        await n.subscribe(cast.gp.actor, f"{SERVICE}/x", b.p256dh, b.auth[:8])
    sub = await n.subscribe(cast.gp.actor, f"{SERVICE}/x", b.p256dh, b.auth)
    with pytest.raises(NotFound):  # not the dermatologist's to remove
        await n.unsubscribe(cast.derm.actor, sub.subscription_id)
    await n.unsubscribe(cast.gp.actor, sub.subscription_id)
    assert await n.list_subscriptions(cast.gp.actor) == []
    assert (await n.vapid_public_key()) == (await n.vapid_public_key())


async def test_open_pages_hear_a_notice_without_the_case(
    store: storage.Storage, tmp_path: Path
) -> None:
    from tests.server.domain.world import clinic

    heard: list[tuple[str, str, str]] = []

    async def in_page(user_id: str, kind: str, text: str) -> None:
        heard.append((user_id, kind, text))

    w = World.build(store, tmp_path, in_page=in_page, notify_coalesce_ms=0)
    cast = await clinic(w)
    case = await w.case(cast.gp, cast.practice, cast.service, [cast.derm], cast.records_key)
    await w.services.notifications.drain()
    heard.clear()
    await reply(w, cast.gp, case.case_id)
    await w.services.notifications.drain()
    assert heard == [(cast.derm.user_id, "message", NOTICES["message"])]


async def test_a_disabled_account_hears_nothing(cast: Clinic, gateway: RecordingGateway) -> None:
    w = cast.world
    _derm, derm_end = await subscribe(w, cast.derm)
    _derm2, derm2_end = await subscribe(w, cast.derm2)
    await w.services.administration.disable_user(None, cast.derm2.user_id, None)
    await w.case(cast.gp, cast.practice, cast.service, [cast.derm], cast.records_key)
    await w.services.notifications.drain()
    assert len(gateway.to(derm_end)) == 1  # the queue notice
    assert gateway.to(derm2_end) == []
