"""Shared set-up of the Python sides of the browser e2e scripts (``e2e_*.py``).

Each script imports this module (it sits next to them, so ``python scripts/e2e_x.py`` finds
it): one password for every account of the run, a clinical history, people who accept an
invite and enrol TOTP, sign-in with the enrolled secret, the administrator with a practice
and a service, and the ``COMMAND URL ARG`` entry point the ``.mjs`` scripts call.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import pyotp

from client_py.client import DermlineClient
from crypto.account import generate_key_pair

PASSWORD = secrets.token_urlsafe(18)  # one run only; printed for the browser


def history(name: str, question: str) -> dict[str, Any]:
    """A clinical history of an adult (born 1970) named ``name`` asking ``question``."""
    return {
        "patient": {
            "nhs_number": "9434765919",
            "name": name,
            "date_of_birth": "1970-01-01",
            "sex": "female",
        },
        "body_site": "left forearm",
        "duration": "3 months",
        "changes": {"size": True, "shape": False, "colour": True},
        "symptoms": {"itch": False, "bleeding": True, "scaling": False, "soreness": False},
        "previous_skin_cancer": False,
        "skin_type": "II",
        "question": question,
        "consent_to_photography": True,
    }


async def person(
    url: str, token: str, login: str, name: str, *, recovery_codes: bool = False
) -> tuple[DermlineClient, dict[str, Any]]:
    """Accept the invite ``token``, sign in and enrol TOTP; the client and the credentials.

    The credentials hold the TOTP secret and the time step of the enrolment code (a later
    sign-in uses a later step); with ``recovery_codes`` also the recovery codes.
    """
    c = DermlineClient(url, origin=url)
    await c.accept_invite(token, login, name, PASSWORD)
    assert await c.login(login, PASSWORD) == "enrol"
    enrolment = await c.begin_totp_enrolment()
    query = urllib.parse.urlparse(enrolment["otpauth_uri"]).query
    secret = urllib.parse.parse_qs(query)["secret"][0]
    step = int(time.time() // 30)
    codes = await c.confirm_totp(pyotp.TOTP(secret).at(step * 30))
    creds = {"login": login, "password": PASSWORD, "secret": secret, "step": step}
    if recovery_codes:
        creds["recovery_codes"] = codes
    return c, creds


async def member(
    url: str,
    admin: DermlineClient,
    org: dict[str, Any],
    role: str,
    login: str,
    name: str,
    *,
    recovery_codes: bool = False,
) -> tuple[DermlineClient, dict[str, Any]]:
    """Someone ``admin`` invites to ``org`` as ``role``, enrolled as by ``person``."""
    token = await admin.invite(org["org_id"], role)
    return await person(url, token, login, name, recovery_codes=recovery_codes)


async def signed_in(url: str, creds: dict[str, Any]) -> DermlineClient:
    """A client signed in with ``creds`` (from ``person``), on a TOTP step not yet used."""
    c = DermlineClient(url, origin=url)
    try:
        code = pyotp.TOTP(creds["secret"]).at((max(int(time.time() // 30), creds["step"]) + 1) * 30)
        await c.login(creds["login"], creds["password"], totp=lambda: code)
    except BaseException:
        await c.close()
        raise
    return c


async def organisations(
    url: str, token: str
) -> tuple[DermlineClient, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The first administrator (from the setup ``token``), a practice and a service.

    The practice has a fresh records key (its private half is not kept). Returns the
    administrator's client and credentials, the practice and the service.
    """
    admin, admin_creds = await person(url, token, "admin@example.org", "Ada Admin")
    records_public_key = generate_key_pair().public_key
    practice = await admin.create_organisation("practice", "Elm Surgery", records_public_key)
    service = await admin.create_organisation("service", "Skin Service")
    return admin, admin_creds, practice, service


def main(**commands: Callable[[str, Any], Awaitable[Any]]) -> None:
    """``COMMAND URL ARG``: ``setup`` gets the setup token, the others the JSON from ``setup``.

    Prints the result: a string as it is, anything else as JSON.
    """
    cmd, url, arg = sys.argv[1:4]
    if cmd not in commands:
        raise SystemExit(f"unknown command {cmd}")
    result = asyncio.run(commands[cmd](url, arg if cmd == "setup" else json.loads(arg)))
    print(result if isinstance(result, str) else json.dumps(result))
