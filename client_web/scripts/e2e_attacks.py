"""Python side of ``scripts/e2e-attacks.mjs`` (the browser against a malicious server).

``setup URL TOKEN``: with the Python client against the harness (no attack in force): the
first administrator, a practice with a records key, a service, a GP and a dermatologist; the
GP opens a case, the dermatologist claims it, and the two exchange four messages, each sender
reading (and so chaining to) the whole thread first: stored messages 1 (the history) to 5.
Prints JSON for the browser: ids, the GP's sign-in, a fresh public key to substitute, and two
envelopes to inject (junk, and message 4 with one ciphertext byte flipped: badly signed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sys
import time
import urllib.parse
import uuid
from typing import Any

import pyotp

from client_py.api import ApiError
from client_py.client import DermlineClient
from crypto.account import generate_key_pair
from crypto.content import ContentType
from crypto.invite import derive_invite_key, format_invite_fragment, generate_invite_secret
from crypto.org_key import wrap_org_key
from crypto.statement import (
    OrganisationKind,
    Role,
    invite_token_hash,
    make_invite_statement,
    make_organisation_key_statement,
)

PASSWORD = secrets.token_urlsafe(18)  # one run only; printed for the browser
HISTORY = {
    "patient": {
        "nhs_number": "9434765919",
        "name": "Attack Patient",
        "date_of_birth": "1970-01-01",
        "sex": "female",
    },
    "body_site": "left forearm",
    "duration": "3 months",
    "changes": {"size": True, "shape": False, "colour": True},
    "symptoms": {"itch": False, "bleeding": True, "scaling": False, "soreness": False},
    "previous_skin_cancer": False,
    "skin_type": "II",
    "question": "Attacked: is this a melanoma?",
    "consent_to_photography": True,
}


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


async def person(
    url: str, token: str, login: str, name: str
) -> tuple[DermlineClient, dict[str, Any]]:
    c = DermlineClient(url, origin=url)
    await c.accept_invite(token, login, name, PASSWORD)
    assert await c.login(login, PASSWORD) == "enrol"
    enrolment = await c.begin_totp_enrolment()
    query = urllib.parse.urlparse(enrolment["otpauth_uri"]).query
    secret = urllib.parse.parse_qs(query)["secret"][0]
    step = int(time.time() // 30)
    await c.confirm_totp(pyotp.TOTP(secret).at(step * 30))
    return c, {"login": login, "password": PASSWORD, "secret": secret, "step": step}


async def say(c: DermlineClient, case_id: str, text: str) -> None:
    """Read the whole thread (the client chains to the last message it opened), then post."""
    for m in await c.messages(case_id):
        await c.open(m)
    await c.post_message(case_id, ContentType.TEXT, {"text": text})


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, admin_creds = await person(url, token, "admin@example.org", "Ada Admin")
    practice = await admin.create_organisation(
        "practice", "Elm Surgery", generate_key_pair().public_key
    )
    service = await admin.create_organisation("service", "Skin Service")
    gp, gp_creds = await person(
        url, await admin.invite(practice["org_id"], "gp"), "gp@example.org", "Dr Gee"
    )
    derm, _ = await person(
        url,
        await admin.invite(service["org_id"], "dermatologist"),
        "derm@example.org",
        "Dr Derm",
    )
    # Dr Three is addressed too (hide_removal disables this account at the end).
    three, _ = await person(
        url,
        await admin.invite(service["org_id"], "dermatologist"),
        "three@example.org",
        "Dr Three",
    )
    await three.close()
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    await derm.move(case_id, "claim")
    await say(derm, case_id, "Q1: how long has it been there?")
    await say(gp, case_id, "A1: three months.")
    await say(derm, case_id, "Q2: any bleeding?")
    await say(gp, case_id, "A2: yes, once.")
    stored = await gp.messages(case_id)
    assert [m["seq"] for m in stored] == [1, 2, 3, 4, 5], stored
    tampered = bytearray(base64.urlsafe_b64decode(stored[3]["envelope"] + "=="))
    tampered[200] ^= 1
    # The service's organisation key (when the server has the log), set up by the
    # administrator after the dermatologist joined; and an attacker's statement for the same
    # organisation (replace_org_key).
    sid = uuid.UUID(service["org_id"])
    admin_id = admin._me()

    def ok_statement() -> tuple[Any, bytes]:
        ok = generate_key_pair()
        now = int(time.time() * 1000)
        return ok, make_organisation_key_statement(
            org_id=sid,
            org_kind=OrganisationKind.SERVICE,
            name="Skin Service",
            org_key=ok,
            issued_at_ms=now,
        )

    ok, statement = ok_statement()
    wrap = wrap_org_key(
        ok,
        org_id=sid,
        recipient_public_key=admin_id.encryption.public_key,
        wrapper_user_id=uuid.UUID(admin_id.user_id),
        wrapper_signing_key=admin_id.signing,
    )
    try:
        await admin.api.post(
            f"/api/v1/orgs/{service['org_id']}/org-key",
            {"statement": b64(statement), "wraps": [b64(wrap)]},
        )
        org_key = True
        # A certified invite for a newcomer, opened in the browser (token.s.okid).
        token = b64(secrets.token_bytes(32))
        secret = generate_invite_secret()
        now = int(time.time() * 1000)
        invite = make_invite_statement(
            org_id=sid,
            role=Role.DERMATOLOGIST,
            invite_public_key=derive_invite_key(secret).public_key,
            expires_at_ms=now + 3600_000,
            token_hash=invite_token_hash(token),
            org_key=ok,
            issued_at_ms=now,
        )
        await admin.api.post(
            f"/api/v1/orgs/{service['org_id']}/invites",
            {"role": "dermatologist", "token": token, "invite_statement": b64(invite)},
        )
        certified_link = format_invite_fragment(token, secret, ok.key_id)
    except ApiError as e:
        if e.status != 404:  # a server before the transparency log has no such route
            raise
        org_key = False
        certified_link = ""
    detail = await gp.get_case(case_id)
    ids = {p["display_name"]: p["user_id"] for p in detail["participants"]}
    for c in (admin, gp, derm):
        await c.close()
    return {
        "case_id": case_id,
        "practice_id": practice["org_id"],
        "derm_id": ids["Dr Derm"],
        "three_id": ids["Dr Three"],
        "admin": admin_creds,
        "service_id": service["org_id"],
        "org_key": org_key,
        "certified_link": certified_link,
        "attacker_org_key": b64(ok_statement()[1]),
        "gp": gp_creds,
        "other_key": b64(generate_key_pair().public_key),
        "junk": b64(b"\x01\x01\x0e" + secrets.token_bytes(40)),
        "tampered": b64(bytes(tampered)),
    }


async def disable(url: str, world: dict[str, Any]) -> str:
    """The administrator disables Dr Three's account (a removal entry in the log)."""
    creds = world["admin"]
    c = DermlineClient(url, origin=url)
    try:
        code = pyotp.TOTP(creds["secret"]).at((max(int(time.time() // 30), creds["step"]) + 1) * 30)
        await c.login(creds["login"], creds["password"], totp=lambda: code)
        await c.api.post(f"/api/v1/users/{world['three_id']}/disable", {})
    finally:
        await c.close()
    return "ok"


def main() -> None:
    cmd, url, arg = sys.argv[1:4]
    if cmd == "setup":
        print(json.dumps(asyncio.run(setup(url, arg))))
    elif cmd == "disable":
        print(asyncio.run(disable(url, json.loads(arg))))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
