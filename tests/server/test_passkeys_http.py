"""Passkeys over HTTP against a live server with a software authenticator
(``tests/server/authenticator.py``): the whole flow (register with a USK wrap, the second
factor, sign-in by a passkey alone, the wrap opening with the PRF output), refusals with
their stable code and message, the organisation requirement, and the per-address limit.
On SQLite, and on PostgreSQL when the environment names one."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from client_py.api import ApiError, b64d, b64e
from client_py.identity import login_keys
from crypto import usk
from server.errors import PasskeyInvalid
from tests.server.authenticator import SoftAuthenticator
from tests.server.harness import BACKENDS, ORIGIN, PASSWORD, Live, live_server, make_world

RP = "dermline.test"
V1 = "/api/v1"


async def password_step(live: Live, login_name: str) -> Any:
    """A fresh client that has passed the password step; (client, next)."""
    c = live.client(origin=ORIGIN)
    pre = await c.api.post(f"{V1}/auth/prelogin", {"login_name": login_name})
    auth_key, _kek = login_keys(PASSWORD, b64d(pre["kdf_params"]))
    step = await c.api.post(
        f"{V1}/auth/login", {"login_name": login_name, "auth_key": b64e(auth_key)}
    )
    return c, step["next"]


async def refused(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as e:
        await call
    return e.value.status, e.value.code, e.value.message


@pytest.mark.parametrize("backend", BACKENDS)
async def test_passkey_flow_over_http(tmp_path: Path, backend: str) -> None:
    async with live_server(tmp_path, backend) as live:
        w = await make_world(live)
        gp = w.gp.client
        gp_id = w.gp.user_id
        phone = SoftAuthenticator(ORIGIN, RP)
        options = (await gp.api.post(f"{V1}/auth/passkeys/options"))["options"]
        assert options["rp"]["id"] == RP and options["user"]["id"]
        answer = phone.create(options)
        cred = next(iter(phone.credentials.values()))
        the_usk = b"\x11" * 32
        wrap = usk.wrap_usk_with_passkey(
            the_usk, cred.prf(usk.PASSKEY_PRF_INPUT), uuid.UUID(gp_id), cred.credential_id
        )
        made = await gp.api.post(
            f"{V1}/auth/passkeys",
            {"credential": answer, "name": "GP phone", "prf_wrap": b64e(wrap)},
        )
        pk = made["passkey"]
        assert (
            made.get("next") is None and pk["name"] == "GP phone" and b64d(pk["prf_wrap"]) == wrap
        )
        listed = (await gp.api.get(f"{V1}/auth/passkeys"))["passkeys"]
        assert [p["passkey_id"] for p in listed] == [pk["passkey_id"]]
        # The same registration answer again: a replayed challenge.
        status, code, message = await refused(
            gp.api.post(f"{V1}/auth/passkeys", {"credential": answer, "name": "again"})
        )
        assert (status, code, message) == (
            401,
            "passkey_invalid",
            PasskeyInvalid.REASONS["challenge"],
        )

        # Second factor by passkey after the password.
        c, nxt = await password_step(live, w.gp.login_name)
        assert nxt == "passkey"
        options = (await c.api.post(f"{V1}/auth/passkey/options"))["options"]
        done = await c.api.post(f"{V1}/auth/passkey", {"credential": phone.get(options)})
        assert done["next"] == "done" and done["passkey"]["passkey_id"] == pk["passkey_id"]
        assert (await c.api.get(f"{V1}/me"))["user_id"] == gp_id

        # Sign-in with the passkey alone; the wrap in the answer opens with the PRF output.
        c2 = live.client(origin=ORIGIN)
        options = (await c2.api.post(f"{V1}/auth/passkey/sign-in/options"))["options"]
        assert options["allowCredentials"] == []
        answer = phone.get(options)
        done = await c2.api.post(f"{V1}/auth/passkey/sign-in", {"credential": answer})
        got = b64d(done["passkey"]["prf_wrap"])
        opened = usk.unwrap_usk_with_passkey(
            got,
            cred.prf(usk.PASSKEY_PRF_INPUT),
            uuid.UUID(gp_id),
            b64d(done["passkey"]["credential_id"]),
        )
        assert opened == the_usk
        assert (await c2.api.get(f"{V1}/me"))["user_id"] == gp_id
        # Replayed, wrong origin, no user verification: each refused with its reason.
        c3 = live.client(origin=ORIGIN)
        assert await refused(c3.api.post(f"{V1}/auth/passkey/sign-in", {"credential": answer})) == (
            401,
            "passkey_invalid",
            PasskeyInvalid.REASONS["challenge"],
        )
        for change, reason in (
            ({"origin": "https://phish.example"}, "origin"),
            ({"uv": False}, "user_verification"),
        ):
            live.clock.advance(70)  # past the backoff of the previous failure
            options = (await c3.api.post(f"{V1}/auth/passkey/sign-in/options"))["options"]
            bad = phone.get(options, **change)
            status, code, message = await refused(
                c3.api.post(f"{V1}/auth/passkey/sign-in", {"credential": bad})
            )
            assert (status, code, message) == (
                401,
                "passkey_invalid",
                PasskeyInvalid.REASONS[reason],
            )
        # A body that is no credential at all.
        status, code, _ = await refused(
            c3.api.post(f"{V1}/auth/passkey/sign-in", {"credential": 5})
        )
        assert (status, code) == (422, "validation_failed")

        # Rename, drop the wrap, remove.
        ref = f"{V1}/auth/passkeys/{pk['passkey_id']}"
        assert (await gp.api.put(f"{ref}/name", {"name": "Old phone"}))["name"] == "Old phone"
        assert (await gp.api.put(f"{ref}/unlock", {"prf_wrap": None}))["prf_wrap"] is None
        status, code, _ = await refused(w.derm.client.api.delete(ref))
        assert (status, code) == (404, "not_found")
        await gp.api.delete(ref)
        assert (await gp.api.get(f"{V1}/auth/passkeys"))["passkeys"] == []


async def test_requirement_over_http(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        policy = f"{V1}/orgs/{w.practice_id}/passkey-policy"
        assert await w.admin.client.api.get(policy) == {
            "org_id": w.practice_id,
            "everyone": False,
            "roles": [],
        }
        status, code, _ = await refused(
            w.gp.client.api.put(policy, {"everyone": True, "roles": []})
        )
        assert (status, code) == (403, "forbidden")
        status, code, _ = await refused(w.derm.client.api.get(policy))
        assert (status, code) == (404, "not_found")
        set_to = await w.admin.client.api.put(policy, {"everyone": False, "roles": ["gp"]})
        assert set_to["roles"] == ["gp"]
        # The Python client (no WebAuthn) says so instead of failing later.
        py = live.client(origin=ORIGIN)
        secret = w.gp.totp_secret
        assert await py.login(w.gp.login_name, PASSWORD, totp=lambda: live.code(secret)) == (
            "passkey_enrol"
        )
        # The GP: TOTP, then a passkey must be registered; the registration finishes sign-in.
        c, nxt = await password_step(live, w.gp.login_name)
        assert nxt == "totp"
        half = await c.api.post(f"{V1}/auth/totp", {"code": live.code(w.gp.totp_secret)})
        assert half["next"] == "passkey_enrol"
        status, code, _ = await refused(c.api.get(f"{V1}/me"))
        assert (status, code) == (401, "mfa_required")
        phone = SoftAuthenticator(ORIGIN, RP)
        options = (await c.api.post(f"{V1}/auth/passkeys/options"))["options"]
        made = await c.api.post(
            f"{V1}/auth/passkeys", {"credential": phone.create(options), "name": "Phone"}
        )
        assert made["next"] == "done" and made["csrf_token"]
        assert (await c.api.get(f"{V1}/me"))["user_id"] == w.gp.user_id
        # Next time: passkey only; the TOTP code is refused.
        c, nxt = await password_step(live, w.gp.login_name)
        assert nxt == "passkey_only"
        status, code, _ = await refused(
            c.api.post(f"{V1}/auth/totp", {"code": live.code(w.gp.totp_secret)})
        )
        assert (status, code) == (403, "passkey_required")
        options = (await c.api.post(f"{V1}/auth/passkey/options"))["options"]
        assert (await c.api.post(f"{V1}/auth/passkey", {"credential": phone.get(options)}))[
            "next"
        ] == "done"


async def test_passkey_routes_are_rate_limited_per_address(tmp_path: Path) -> None:
    async with live_server(tmp_path, auth_rate_per_minute=3) as live:
        c = live.client(origin=ORIGIN)
        for _ in range(3):
            await c.api.post(f"{V1}/auth/passkey/sign-in/options")
        status, code, _ = await refused(c.api.post(f"{V1}/auth/passkey/sign-in/options"))
        assert (status, code) == (429, "rate_limited")
