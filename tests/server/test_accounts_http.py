"""Accounts over HTTP: invites, pre-login, lockout, sessions, password change, admin 2FA
reset, cookie flags and CSRF. The rules themselves (TOTP once only, backoff and lockout,
recovery codes, parallel guesses) are tested on the domain services
(``tests/server/domain/accounts/``)."""

from pathlib import Path

import aiohttp
import pytest

from client_py.api import ApiError, b64d, b64e
from client_py.identity import enrol, login_keys
from crypto.password import parse_kdf_params
from tests.server.harness import PASSWORD, live_server, make_world


async def test_prelogin_same_shape_for_unknown_users(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        anon = live.client()
        known = b64d(
            (await anon.api.post("/api/v1/auth/prelogin", {"login_name": "gp@example.org"}))[
                "kdf_params"
            ]
        )
        unknown1 = b64d(
            (await anon.api.post("/api/v1/auth/prelogin", {"login_name": "nobody@example.org"}))[
                "kdf_params"
            ]
        )
        unknown2 = b64d(
            (await anon.api.post("/api/v1/auth/prelogin", {"login_name": " Nobody@Example.org"}))[
                "kdf_params"
            ]
        )
        assert len(known) == len(unknown1)
        assert parse_kdf_params(known).iterations == parse_kdf_params(unknown1).iterations
        assert unknown1 == unknown2  # deterministic per (normalised) name
        assert known != unknown1
        assert w.gp.login_name


async def test_invite_is_single_use_and_expires(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        token = await w.admin.client.invite(w.practice_id, "gp")
        c = live.client()
        await c.accept_invite(token, "gp2@example.org", "Dr Two", PASSWORD)
        with pytest.raises(ApiError) as err:
            await live.client().accept_invite(token, "gp3@example.org", "Dr Three", PASSWORD)
        assert err.value.status == 410 and err.value.code == "invite_invalid"
        # A GP cannot invite, and an admin of another organisation gets 404.
        with pytest.raises(ApiError) as err:
            await w.gp.client.invite(w.practice_id, "gp")
        assert err.value.status == 403
        with pytest.raises(ApiError) as err:
            await w.gp.client.invite(w.service_id, "dermatologist")
        assert err.value.status == 404
        late = await w.admin.client.invite(w.practice_id, "gp")
        live.clock.advance(live.settings.invite_ttl + 1)
        with pytest.raises(ApiError) as err:
            await live.client().accept_invite(late, "gp4@example.org", "Dr Four", PASSWORD)
        assert err.value.code == "invite_invalid"


async def test_wrong_password_locks_the_address_and_unknown_user_looks_the_same(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path, login_max_failures=2) as live:
        w = await make_world(live)
        for name in (w.gp.login_name, "nobody@example.org"):
            with pytest.raises(ApiError) as err:
                await live.client().login(name, "wrong password")
            assert (err.value.status, err.value.code) == (401, "invalid_credentials")
        with pytest.raises(ApiError):
            await live.client().login(w.gp.login_name, "wrong password")
        live.clock.advance(60)
        with pytest.raises(ApiError) as err:
            await live.client().login(w.gp.login_name, PASSWORD)
        assert (err.value.status, err.value.code) == (429, "address_locked")


async def test_pending_session_cannot_use_the_api(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        c = live.client()
        pre = await c.api.post("/api/v1/auth/prelogin", {"login_name": w.gp.login_name})
        auth_key, _kek = login_keys(PASSWORD, b64d(pre["kdf_params"]))
        step = await c.api.post(
            "/api/v1/auth/login", {"login_name": w.gp.login_name, "auth_key": b64e(auth_key)}
        )
        assert step["next"] == "totp"
        with pytest.raises(ApiError) as err:
            await c.api.get("/api/v1/me")
        assert err.value.code == "mfa_required"


async def test_cookie_flags_and_csrf(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            pre = await (
                await http.post(
                    live.url + "/api/v1/auth/prelogin", json={"login_name": w.gp.login_name}
                )
            ).json()
            auth_key, _ = login_keys(PASSWORD, b64d(pre["kdf_params"]))
            async with http.post(
                live.url + "/api/v1/auth/login",
                json={"login_name": w.gp.login_name, "auth_key": b64e(auth_key)},
            ) as resp:
                cookie = resp.cookies["dermline_session"]
                assert cookie["httponly"] and cookie["samesite"] == "Strict"
                assert cookie["path"] == "/"
                csrf = (await resp.json())["csrf_token"]
            # Without the CSRF header the TOTP step is refused; with it, accepted.
            code = live.code(w.gp.totp_secret)
            async with http.post(live.url + "/api/v1/auth/totp", json={"code": code}) as resp:
                assert resp.status == 403
                assert (await resp.json())["error"]["code"] == "csrf_failed"
            async with http.post(
                live.url + "/api/v1/auth/totp", json={"code": code}, headers={"X-CSRF-Token": csrf}
            ) as resp:
                assert resp.status == 200
                csrf = (await resp.json())["csrf_token"]
            async with http.post(
                live.url + "/api/v1/auth/logout", headers={"X-CSRF-Token": "x" * 64}
            ) as resp:
                assert resp.status == 403
            async with http.post(
                live.url + "/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}
            ) as resp:
                assert resp.status == 204
            async with http.get(live.url + "/api/v1/me") as resp:
                assert resp.status == 401


async def test_sessions_list_revoke_and_password_change(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        second = await live.relogin(w.gp)
        sessions = (await second.api.get("/api/v1/auth/sessions"))["sessions"]
        assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
        other = next(s for s in sessions if not s["current"])
        await second.api.delete(f"/api/v1/auth/sessions/{other['session_ref']}")
        with pytest.raises(ApiError) as err:
            await w.gp.client.api.get("/api/v1/me")
        assert err.value.status == 401

        # Change the password: the USK is re-wrapped, old password stops working.
        me = await second.api.get("/api/v1/me")
        assert second.identity is not None
        new = enrol("a new long passphrase")
        import uuid

        from crypto.password import derive_login_keys
        from crypto.usk import wrap_usk_with_kek

        params = parse_kdf_params(new.request["kdf_params"])  # type: ignore[arg-type]
        keys = derive_login_keys("a new long passphrase", params.salt, iterations=params.iterations)
        cur_auth, _ = login_keys(PASSWORD, b64d(me["kdf_params"]))
        await second.api.post(
            "/api/v1/auth/password",
            {
                "current_auth_key": b64e(cur_auth),
                "kdf_params": b64e(new.request["kdf_params"]),  # type: ignore[arg-type]
                "auth_key": b64e(keys.auth_key),
                "wrapped_usk": b64e(
                    wrap_usk_with_kek(second.identity.usk, keys.kek, uuid.UUID(me["user_id"]))
                ),
            },
        )
        with pytest.raises(ApiError):
            await live.client().login(
                w.gp.login_name, PASSWORD, totp=lambda: live.code(w.gp.totp_secret)
            )
        fresh = live.client()
        await fresh.login(
            w.gp.login_name, "a new long passphrase", totp=lambda: live.code(w.gp.totp_secret)
        )
        assert fresh.identity is not None and fresh.identity.usk == second.identity.usk


async def test_admin_resets_2fa_and_revokes_sessions(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        admin = w.admin.client
        users = (await admin.api.get(f"/api/v1/orgs/{w.practice_id}/users"))["users"]
        assert {u["login_name"] for u in users} >= {"gp@example.org", "admin@example.org"}
        await admin.api.post(f"/api/v1/users/{w.gp.user_id}/reset-2fa")
        with pytest.raises(ApiError):
            await w.gp.client.api.get("/api/v1/me")
        c = live.client()
        assert await c.login(w.gp.login_name, PASSWORD) == "enrol"
        # An admin of the practice only cannot touch the service's dermatologist.
        practice_admin = await live.person(
            await admin.invite(w.practice_id, "admin"), "padmin@example.org", "P Admin"
        )
        with pytest.raises(ApiError) as err:
            await practice_admin.client.api.post(f"/api/v1/users/{w.derm.user_id}/revoke-sessions")
        assert err.value.status == 404
        revoked = await admin.api.post(f"/api/v1/users/{w.derm.user_id}/revoke-sessions")
        assert revoked == {"revoked": 1}
        actions = [e.event.action for e in await live.store.list_audit()]
        assert "totp.reset_by_admin" in actions
