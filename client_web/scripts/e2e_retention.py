"""Python side of ``scripts/e2e-retention.mjs`` (records retention in the browser).

``setup URL TOKEN``: with the Python client, the first administrator (from the setup token),
a practice with a records key, a service, a GP, a dermatologist and the practice's records
officer; the GP opens a case (an adult's: born 1970), the dermatologist claims and closes it,
sending the retention date worked out from the date of birth. Prints JSON for the browser.
``check URL JSON``: the records officer signs in (with the recovery code that the JSON's
``use_code`` names, so no TOTP time step is shared with the browser) and reads, through the
API, the case's retention, the practice's minimum and legal holds; prints them as JSON (what
the browser did is checked against the server, not against the page).
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
    "question": "Retention: is this eczema?",
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
    codes = await c.confirm_totp(pyotp.TOTP(secret).at(step * 30))
    creds = {"login": login, "password": PASSWORD, "secret": secret, "step": step}
    return c, {**creds, "recovery_codes": codes}


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, _ = await person(url, token, "admin@example.org", "Ada Admin")
    practice = await admin.create_organisation(
        "practice", "Elm Surgery", generate_key_pair().public_key
    )
    service = await admin.create_organisation("service", "Skin Service")
    gp, _ = await person(
        url, await admin.invite(practice["org_id"], "gp"), "gp@example.org", "Dr Gee"
    )
    derm, _ = await person(
        url,
        await admin.invite(service["org_id"], "dermatologist"),
        "derm@example.org",
        "Dr Derm",
    )
    officer, officer_creds = await person(
        url,
        await admin.invite(practice["org_id"], "records_officer"),
        "records@example.org",
        "Rhea Records",
    )
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    await derm.move(case_id, "claim")
    closed = await derm.close_case(
        case_id,
        "advice_and_guidance",
        "emollients twice a day",
        date_of_birth=HISTORY["patient"]["date_of_birth"],
    )
    assert closed["state"] == "closed", closed
    for c in (admin, gp, derm, officer):
        await c.close()
    return {"case_id": case_id, "practice_id": practice["org_id"], "officer": officer_creds}


async def check(url: str, world: dict[str, Any]) -> dict[str, Any]:
    officer = world["officer"]
    c = DermlineClient(url, origin=url)
    try:
        recovery = officer["recovery_codes"][world["use_code"]]
        await c.login(officer["login"], officer["password"], recovery_code=recovery)
        case = await c.api.get(f"/api/v1/cases/{world['case_id']}/retention")
        minimum = await c.api.get(f"/api/v1/orgs/{world['practice_id']}/retention")
        holds = await c.api.get(f"/api/v1/orgs/{world['practice_id']}/legal-holds")
    finally:
        await c.close()
    return {"case": case, "minimum": minimum, "holds": holds["holds"]}


def main() -> None:
    cmd, url, arg = sys.argv[1:4]
    if cmd == "setup":
        print(json.dumps(asyncio.run(setup(url, arg))))
    else:
        print(json.dumps(asyncio.run(check(url, json.loads(arg)))))


if __name__ == "__main__":
    main()
