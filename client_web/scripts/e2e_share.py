"""Python side of ``scripts/e2e-share.mjs`` (sharing the case key in the browser).

``setup URL TOKEN``: with the Python client, the first administrator (from the setup token),
a practice with a records key, a service, a GP and a dermatologist; the GP opens a case; then
a second dermatologist joins the service (so lacks the key). Prints JSON for the browser.
``check URL JSON``: the late dermatologist signs in, opens the case key, decrypts the
clinical history and claims the case. Prints ``ok``.
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
        "name": "E2E Patient",
        "date_of_birth": "1970-01-01",
        "sex": "female",
    },
    "body_site": "left forearm",
    "duration": "3 months",
    "changes": {"size": True, "shape": False, "colour": True},
    "symptoms": {"itch": False, "bleeding": True, "scaling": False, "soreness": False},
    "previous_skin_cancer": False,
    "skin_type": "II",
    "question": "Shared later: is this a melanoma?",
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
    derm, _ = await person(
        url,
        await admin.invite(service["org_id"], "dermatologist"),
        "derm@example.org",
        "Dr Derm",
    )
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    late, late_creds = await person(
        url,
        await admin.invite(service["org_id"], "dermatologist"),
        "late@example.org",
        "Dr Late",
    )
    for c in (admin, gp, derm, late):
        await c.close()
    return {"case_id": case_id, "gp": gp_creds, "late": late_creds}


async def check(url: str, world: dict[str, Any]) -> str:
    late = world["late"]
    c = DermlineClient(url, origin=url)
    try:
        code = pyotp.TOTP(late["secret"]).at((max(int(time.time() // 30), late["step"]) + 1) * 30)
        await c.login(late["login"], late["password"], totp=lambda: code)
        case_id = world["case_id"]
        ctype, history = await c.open((await c.messages(case_id))[0])
        assert ctype is ContentType.CLINICAL_HISTORY, ctype
        assert history["question"] == HISTORY["question"], "history not decrypted"
        assert (await c.move(case_id, "claim"))["state"] == "in_review"
        assert await c.colleagues_without_key(case_id) == []
    finally:
        await c.close()
    return "ok"


def main() -> None:
    cmd, url, arg = sys.argv[1:4]
    if cmd == "setup":
        print(json.dumps(asyncio.run(setup(url, arg))))
    else:
        print(asyncio.run(check(url, json.loads(arg))))


if __name__ == "__main__":
    main()
