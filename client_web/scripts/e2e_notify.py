"""Python side of ``scripts/e2e-notify.mjs`` (notifications and sign-in throttling).

``setup URL TOKEN``: the first administrator, a practice, a service, a GP, a second GP (for
the throttling step) and a dermatologist; the GP opens a case and the dermatologist claims
it. Prints JSON for the browser.
``reply URL JSON``: the dermatologist asks the GP a question in that case. Prints ``ok``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
import urllib.parse
from typing import Any

import pyotp

from client_py.client import DermlineClient
from crypto.account import generate_key_pair
from crypto.content import ContentType

PASSWORD = secrets.token_urlsafe(18)  # one run only; printed for the browser
HISTORY = {
    "patient": {
        "nhs_number": "9434765919",
        "name": "Notify Patient",
        "date_of_birth": "1970-01-01",
        "sex": "female",
    },
    "body_site": "left forearm",
    "duration": "3 months",
    "changes": {"size": True, "shape": False, "colour": True},
    "symptoms": {"itch": False, "bleeding": True, "scaling": False, "soreness": False},
    "previous_skin_cancer": False,
    "skin_type": "II",
    "question": "Notify test: is this a melanoma?",
    "consent_to_photography": True,
}


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


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, _ = await person(url, token, "admin@example.org", "Ada Admin")
    practice = await admin.create_organisation(
        "practice", "Elm Surgery", generate_key_pair().public_key
    )
    service = await admin.create_organisation("service", "Skin Service")
    gp, gp_creds = await person(
        url, await admin.invite(practice["org_id"], "gp"), "gp@example.org", "Dr Gee"
    )
    gp2, gp2_creds = await person(
        url, await admin.invite(practice["org_id"], "gp"), "gp2@example.org", "Dr Two"
    )
    derm, derm_creds = await person(
        url,
        await admin.invite(service["org_id"], "dermatologist"),
        "derm@example.org",
        "Dr Derm",
    )
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    await derm.move(case_id, "claim")
    for c in (admin, gp, gp2, derm):
        await c.close()
    return {"case_id": case_id, "gp": gp_creds, "gp2": gp2_creds, "derm": derm_creds}


async def reply(url: str, world: dict[str, Any]) -> str:
    derm = world["derm"]
    c = DermlineClient(url, origin=url)
    try:
        code = pyotp.TOTP(derm["secret"]).at((max(int(time.time() // 30), derm["step"]) + 1) * 30)
        await c.login(derm["login"], derm["password"], totp=lambda: code)
        await c.move(world["case_id"], "ask", ContentType.QUESTION, {"text": "How big is it now?"})
    finally:
        await c.close()
    return "ok"


def main() -> None:
    cmd, url, arg = sys.argv[1:4]
    if cmd == "setup":
        print(json.dumps(asyncio.run(setup(url, arg))))
    else:
        print(asyncio.run(reply(url, json.loads(arg))))


if __name__ == "__main__":
    main()
