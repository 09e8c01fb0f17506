"""Behind a proxy, end to end (security review): every ``X-Forwarded-For`` line counts,
rate limits count an IPv6 client by its /64, and an https origin means Secure cookies and
HSTS even when the proxy terminates TLS."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict

from client_py.api import b64d, b64e
from client_py.identity import login_keys
from server.netaddr import joined_forwarded_for, rate_limit_key
from tests.server.harness import PASSWORD, live_server


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("unknown", "unknown"),
    ],
)
def test_rate_limit_key(address: str, key: str) -> None:
    assert rate_limit_key(address) == key


def test_joined_forwarded_for() -> None:
    assert joined_forwarded_for([]) is None
    assert joined_forwarded_for(["6.6.6.6", "198.51.100.9"]) == "6.6.6.6, 198.51.100.9"


async def _prelogin_statuses(url: str, header_sets: list[list[tuple[str, str]]]) -> list[int]:
    out = []
    async with aiohttp.ClientSession() as http:
        for headers in header_sets:
            async with http.post(
                url + "/api/v1/auth/prelogin",
                json={"login_name": "someone@example.org"},
                headers=CIMultiDict(headers),
            ) as resp:
                out.append(resp.status)
    return out


async def test_forged_first_forwarded_line_does_not_escape_the_rate_limit(
    tmp_path: Path,
) -> None:
    # The proxy (127.0.0.1 here) adds its own line after the client's forged one.
    async with live_server(
        tmp_path, trusted_proxies="127.0.0.1/32", auth_rate_per_minute=3
    ) as live:
        sets = [
            [("X-Forwarded-For", f"6.6.6.{i}"), ("X-Forwarded-For", "198.51.100.9")]
            for i in range(6)
        ]
        statuses = await _prelogin_statuses(live.url, sets)
        assert statuses[:3] == [200, 200, 200]
        assert statuses[3:] == [429, 429, 429]


async def test_ipv6_client_cannot_rotate_addresses_inside_its_64(tmp_path: Path) -> None:
    async with live_server(
        tmp_path, trusted_proxies="127.0.0.1/32", auth_rate_per_minute=3
    ) as live:
        sets = [[("X-Forwarded-For", f"2001:db8:1:2::{i + 1:x}")] for i in range(5)]
        statuses = await _prelogin_statuses(live.url, sets)
        assert statuses == [200, 200, 200, 429, 429]
        # Another /64 has its own bucket.
        other = await _prelogin_statuses(live.url, [[("X-Forwarded-For", "2001:db8:9::1")]])
        assert other == [200]


async def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent(tmp_path: Path) -> None:
    """No TLS on the node, but users reach it at an https origin (a TLS proxy in front):
    the session and CSRF cookies must still be Secure, and HSTS sent, whatever the proxy
    adds or forgets."""
    async with live_server(tmp_path, allowed_origins="https://dermline.example") as live:
        token = await live.services.organisations.first_admin_invite()
        assert token is not None
        c = live.client()
        await c.accept_invite(token, "admin@example.org", "Ada", PASSWORD)
        pre = await c.api.post("/api/v1/auth/prelogin", {"login_name": "admin@example.org"})
        auth_key, _kek = login_keys(PASSWORD, b64d(pre["kdf_params"]))
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                live.url + "/api/v1/auth/login",
                json={"login_name": "admin@example.org", "auth_key": b64e(auth_key)},
            ) as resp,
        ):
            assert resp.status == 200
            assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
            cookies = {m.key: m for m in resp.cookies.values()}
            for name in ("dermline_session", "dermline_csrf"):
                assert cookies[name]["secure"], name
                assert cookies[name]["samesite"] == "Strict"
                assert cookies[name]["path"] == "/"
            assert cookies["dermline_session"]["httponly"]
            assert not cookies["dermline_csrf"]["httponly"]
