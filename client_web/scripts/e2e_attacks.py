"""Python side of ``scripts/e2e-attacks.mjs`` (the browser against a malicious server).

``setup URL TOKEN``: with the Python client against the harness (no attack in force): the
first administrator, a practice with a records key, a service, a GP and a dermatologist; the
GP opens a case, the dermatologist claims it, and the two exchange four messages, each sender
reading (and so chaining to) the whole thread first: stored messages 1 (the history) to 5.
Prints JSON for the browser: ids, the GP's sign-in, a fresh public key to substitute, and two
envelopes to inject (junk, and message 4 with one ciphertext byte flipped: badly signed).
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from typing import Any

from e2e_world import history, main, member, organisations, signed_in

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

HISTORY = history("Attack Patient", "Attacked: is this a melanoma?")


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


async def say(c: DermlineClient, case_id: str, text: str) -> None:
    """Read the whole thread (the client chains to the last message it opened), then post."""
    for m in await c.messages(case_id):
        await c.open(m)
    await c.post_message(case_id, ContentType.TEXT, {"text": text})


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, admin_creds, practice, service = await organisations(url, token)
    gp, gp_creds = await member(url, admin, practice, "gp", "gp@example.org", "Dr Gee")
    derm, _ = await member(url, admin, service, "dermatologist", "derm@example.org", "Dr Derm")
    # Dr Three is addressed too (hide_removal disables this account at the end).
    three, _ = await member(url, admin, service, "dermatologist", "three@example.org", "Dr Three")
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
    c = await signed_in(url, world["admin"])
    try:
        await c.api.post(f"/api/v1/users/{world['three_id']}/disable", {})
    finally:
        await c.close()
    return "ok"


if __name__ == "__main__":
    main(setup=setup, disable=disable)
