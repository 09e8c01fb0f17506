"""Notifications over HTTP against a push service the test runs on loopback
(tests/push_service.py): a browser's subscription is registered, a reply posted by the
other party reaches the push service with a VAPID token signed by the key the server
publishes, and decrypted with the subscription's private key it holds one fixed sentence
and a counter, nothing of the case; an expired subscription (410) is pruned; settings and
unsubscribing; e-mail notices through a local SMTP server (aiosmtpd) hold no clinical
content (docs/architecture.md, "Notifications")."""

from __future__ import annotations

import asyncio
import email
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from client_py.api import ApiError, b64e
from crypto.content import ContentType
from server.domain.notifications import NOTICES
from tests.push_service import Browser, PushService, b64url_decode
from tests.samples import HISTORY
from tests.server.harness import BACKENDS, live_server, make_world


async def _until(check: object, seconds: float = 5.0) -> None:
    for _ in range(int(seconds * 20)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_reply_is_pushed_to_the_other_party_with_nothing_of_the_case(
    tmp_path: Path, backend: str
) -> None:
    async with (
        PushService() as push,
        live_server(tmp_path, backend, push_services=push.url, notify_coalesce_ms=0) as live,
    ):
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        key = (await gp.api.get("/api/v1/notifications/push-key"))["public_key"]
        browser = Browser()
        sub = await gp.api.post(
            "/api/v1/notifications/subscriptions",
            {
                "endpoint": push.endpoint("gp-phone"),
                "keys": {"p256dh": b64e(browser.p256dh), "auth": b64e(browser.auth)},
                "expirationTime": None,
            },
        )
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await derm.move(case_id, "claim")
        await _until(lambda: len(push.received) >= 1)
        await derm.move(case_id, "ask", ContentType.QUESTION, {"text": "How big is the mole?"})
        await _until(lambda: len(push.received) >= 2)
        await asyncio.sleep(0.5)
        got = [browser.read(r.body) for r in push.received]
        # The claim, then the question with its message (one notification, the reply's text).
        assert got == [
            {"v": 1, "title": "Dermline", "body": NOTICES["change"], "n": 1},
            {"v": 1, "title": "Dermline", "body": NOTICES["message"], "n": 2},
        ]
        for r in push.received:
            assert r.vapid_key == b64url_decode(key)
            assert r.headers["Content-Encoding"] == "aes128gcm"
            for secret in (case_id, w.gp.user_id, "mole", "Elm"):
                assert secret.encode() not in r.body
        settings = await gp.api.get("/api/v1/notifications/settings")
        assert [s["subscription_id"] for s in settings["subscriptions"]] == [sub["subscription_id"]]
        assert settings["email_available"] is False

        # The browser dropped the subscription: the push service answers 410; pruned.
        push.gone.add("gp-phone")
        await gp.move(case_id, "answer", ContentType.TEXT, {"text": "6 mm"})
        await derm.post_message(case_id, ContentType.TEXT, {"text": "Thank you"})

        async def pruned() -> bool:
            s = await gp.api.get("/api/v1/notifications/settings")
            return s["subscriptions"] == []

        for _ in range(100):
            if await pruned():
                break
            await asyncio.sleep(0.05)
        assert await pruned()


async def test_subscription_routes_refuse_what_they_must(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        browser = Browser()
        body = {
            "endpoint": "http://169.254.169.254/latest",
            "keys": {"p256dh": b64e(browser.p256dh), "auth": b64e(browser.auth)},
        }
        with pytest.raises(ApiError) as err:  # not a configured push service
            await gp.api.post("/api/v1/notifications/subscriptions", body)
        assert (err.value.status, err.value.code) == (422, "validation_failed")
        body["endpoint"] = "https://fcm.googleapis.com/fcm/send/abc"
        sub = await gp.api.post("/api/v1/notifications/subscriptions", body)
        with pytest.raises(ApiError) as err:
            await derm.api.delete(f"/api/v1/notifications/subscriptions/{sub['subscription_id']}")
        assert err.value.status == 404
        await gp.api.delete(f"/api/v1/notifications/subscriptions/{sub['subscription_id']}")
        out = await gp.api.put("/api/v1/notifications/settings", {"sound": True, "email": False})
        assert (out["sound"], out["email"], out["subscriptions"]) == (True, False, [])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


async def test_email_notices_through_a_local_smtp_server(tmp_path: Path) -> None:
    inbox = _Inbox()
    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        async with live_server(
            tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            smtp_from="dermline@clinic.example",
            notify_coalesce_ms=0,
        ) as live:
            w = await make_world(live)
            gp, derm = w.gp.client, w.derm.client
            out = await gp.api.put(
                "/api/v1/notifications/settings", {"sound": False, "email": True}
            )
            assert out["email_available"] is True
            case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
            await derm.move(case_id, "claim")
            await derm.move(case_id, "ask", ContentType.QUESTION, {"text": "How big is the mole?"})
            await _until(lambda: len(inbox.messages) >= 1)
            await asyncio.sleep(0.3)
            assert len(inbox.messages) == 1  # at most one per interval
            msg = inbox.messages[0]
            assert msg["To"] == w.gp.login_name and msg["From"] == "dermline@clinic.example"
            text = msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
            assert NOTICES["change"] in text or NOTICES["message"] in text
            for secret in (case_id, "mole", HISTORY["question"][:20]):
                assert secret not in text and secret not in str(msg["Subject"])
    finally:
        smtp.stop()
