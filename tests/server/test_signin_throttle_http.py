"""Sign-in throttling over HTTP, behind a proxy the server trusts as production does
(``DERMLINE_TRUSTED_PROXIES``): a guessing address is slowed (``signin_delayed`` with a
Retry-After of seconds) and then locked out of the account (``address_locked``), while
the real person signs in from another address with password and TOTP and is told how many
attempts failed since the last sign-in (docs/architecture.md, "Login attempts")."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from client_py.api import b64d, b64e
from client_py.identity import login_keys
from tests.server.harness import PASSWORD, live_server, make_world

GUESSER = "203.0.113.66"
CLINIC = "198.51.100.7"


async def _login(
    http: aiohttp.ClientSession, url: str, name: str, password: str, address: str
) -> tuple[int, dict[str, object], str | None]:
    """One password step through the proxy, as from ``address``."""
    headers = {"X-Forwarded-For": address}
    async with http.post(
        url + "/api/v1/auth/prelogin", json={"login_name": name}, headers=headers
    ) as resp:
        pre = await resp.json()
    auth_key, _kek = login_keys(password, b64d(pre["kdf_params"]))
    async with http.post(
        url + "/api/v1/auth/login",
        json={"login_name": name, "auth_key": b64e(auth_key)},
        headers=headers,
    ) as resp:
        return resp.status, await resp.json(), resp.headers.get("Retry-After")


async def test_a_guessing_address_is_slowed_then_locked_while_the_person_signs_in(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path, trusted_proxies="127.0.0.1/32", login_max_failures=3) as live:
        w = await make_world(live)
        name = w.gp.login_name
        async with aiohttp.ClientSession() as guesser:
            answers = []
            for _ in range(2):
                status, body, _retry = await _login(guesser, live.url, name, "guess", GUESSER)
                answers.append((status, body["error"]["code"]))  # type: ignore[index]
            assert answers == [(401, "invalid_credentials")] * 2
            # The growing wait: seconds, on this account from this address, and said so.
            status, body, retry = await _login(guesser, live.url, name, "guess", GUESSER)
            assert (status, body["error"]["code"], retry) == (429, "signin_delayed", "2")  # type: ignore[index]
            live.clock.advance(2)
            status, body, _retry = await _login(guesser, live.url, name, "guess", GUESSER)
            assert (status, body["error"]["code"]) == (401, "invalid_credentials")  # type: ignore[index]
            # Locked out now, the right password included, from this address only.
            status, body, retry = await _login(guesser, live.url, name, PASSWORD, GUESSER)
            assert (status, body["error"]["code"]) == (429, "address_locked")  # type: ignore[index]
            assert retry is not None and int(retry) > 800
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as person:
            status, body, _retry = await _login(person, live.url, name, PASSWORD, CLINIC)
            assert (status, body["next"]) == (200, "totp")
            async with person.post(
                live.url + "/api/v1/auth/totp",
                json={"code": live.code(w.gp.totp_secret)},
                headers={
                    "X-Forwarded-For": CLINIC,
                    "X-CSRF-Token": str(body["csrf_token"]),
                },
            ) as resp:
                done = await resp.json()
            assert (resp.status, done["next"], done["failed_attempts"]) == (200, "done", 3)
        audit = [e.event for e in await live.store.list_audit()]
        locked = [e for e in audit if e.action == "login.address_locked"]
        assert [e.client_address for e in locked] == [GUESSER]
        assert "login.locked" not in [e.action for e in audit]
