"""Regression tests of the security review (issue 4 acceptance): the lockout cannot be
out-raced by parallel requests, and backoff / lockout answers do not reveal which login
names have accounts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from client_py.api import ApiError, b64d, b64e
from client_py.identity import login_keys
from tests.server.harness import PASSWORD, Live, live_server, make_world, wrong_codes


async def _login_code(live: Live, name: str) -> str:
    """The error code of one wrong-password login (a random 32-byte auth key)."""
    try:
        await live.client().api.post(
            "/api/v1/auth/login", {"login_name": name, "auth_key": b64e(os.urandom(32))}
        )
    except ApiError as exc:
        return exc.code
    raise AssertionError("a random auth key logged in")


async def test_parallel_wrong_passwords_cannot_outrun_backoff(tmp_path: Path) -> None:
    async with live_server(tmp_path, login_max_failures=5) as live:
        w = await make_world(live)
        codes = await asyncio.gather(*[_login_code(live, w.gp.login_name) for _ in range(20)])
        # Serialised per account: two real checks, then backoff refuses the rest. Without
        # the per-account lock all 20 were checked (20 guesses against a limit of 5).
        assert codes.count("invalid_credentials") == 2, codes
        assert codes.count("rate_limited") == 18
        user = await live.store.get_user(w.gp.user_id)
        assert user.failed_logins == 2


async def test_parallel_wrong_totp_codes_cannot_outrun_backoff(tmp_path: Path) -> None:
    async with live_server(tmp_path, login_max_failures=5) as live:
        w = await make_world(live)
        c = live.client()
        pre = await c.api.post("/api/v1/auth/prelogin", {"login_name": w.gp.login_name})
        auth_key, _kek = login_keys(PASSWORD, b64d(pre["kdf_params"]))
        await c.api.post(
            "/api/v1/auth/login", {"login_name": w.gp.login_name, "auth_key": b64e(auth_key)}
        )
        live.clock.advance(30)
        wrong = wrong_codes(w.gp.totp_secret, live.clock.now(), 20)

        async def attempt(code: str) -> str:
            try:
                await c.api.post("/api/v1/auth/totp", {"code": code})
            except ApiError as exc:
                return exc.code
            return "ok"

        codes = await asyncio.gather(*[attempt(x) for x in wrong])
        assert codes.count("invalid_totp") == 2, codes
        assert codes.count("rate_limited") == 18


async def test_backoff_and_lockout_answers_do_not_reveal_names(tmp_path: Path) -> None:
    async with live_server(tmp_path, login_max_failures=4, login_lockout=600) as live:
        w = await make_world(live)

        async def sequence(name: str) -> list[str]:
            out = []
            for _ in range(7):
                out.append(await _login_code(live, name))
                if out[-1] == "invalid_credentials":
                    live.clock.advance(61)  # past any backoff, not past the lockout
            return out

        known = await sequence(w.gp.login_name)
        unknown = await sequence("nobody@example.org")
        assert known == unknown
        assert "account_locked" in known and "invalid_credentials" in known
        assert await _login_code(live, "nobody2@example.org") == "invalid_credentials"
