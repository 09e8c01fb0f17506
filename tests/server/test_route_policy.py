"""Every route of the application has an explicit access decision (security review, brief
item 3), walked from the live router rather than from a hand-kept list:

* every served route is either in ``server.app.ROUTES`` (whose ``auth`` field is the
  decision: ``session``, ``pending`` or ``none``) or in the short public list below;
* every ``session`` route refuses a request without a cookie (401 ``unauthenticated``)
  and a half-logged-in (password-only) session (401 ``mfa_required``);
* every ``pending`` route refuses a request without a cookie and a full session;
* the ``none`` routes are exactly the ones listed here, so a new public route is a
  conscious change of this test;
* every answer, refusals included, carries the security headers.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import aiohttp

from client_py.api import b64d, b64e
from client_py.identity import login_keys
from server.api.keys import CSRF_KEY
from server.api.middleware import CSRF_HEADER, SESSION_COOKIE, csrf_token_for
from server.app import ROUTES
from tests.samples import HISTORY
from tests.server.harness import PASSWORD, Live, live_server, make_world

#: Served outside ROUTES, on purpose, without a session.
PUBLIC_EXTRA = {
    ("GET", "/healthz"),
    # Operations (docs/api.md, "Operations endpoints"): readiness has no detail to hide;
    # /metrics answers only to DERMLINE_METRICS_ALLOW (tests/server/test_metrics.py).
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    # Socket.IO: the connect handler authenticates from the cookie (tested in realtime/).
    ("GET", "/socket.io/"),
    ("POST", "/socket.io/"),
    ("OPTIONS", "/socket.io/"),
}
#: ROUTES without a session: the steps before one exists, and logout.
NONE_ROUTES = {
    ("POST", "/api/v1/auth/prelogin"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    # A passkey alone (discoverable credential, user verification): the answer is the
    # credential (docs/api.md "Passkeys").
    ("POST", "/api/v1/auth/passkey/sign-in/options"),
    ("POST", "/api/v1/auth/passkey/sign-in"),
    ("POST", "/api/v1/invites/inspect"),
    ("POST", "/api/v1/invites/accept"),
    # Patient photo links: the link's single-use token (a header) is the credential.
    ("POST", "/api/v1/patient/link"),
    ("POST", "/api/v1/patient/attachments"),
    ("POST", "/api/v1/patient/submit"),
}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _m: str(uuid.uuid4()), path)


def _check_headers(resp: aiohttp.ClientResponse) -> None:
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


async def _call(
    http: aiohttp.ClientSession, live: Live, method: str, path: str, cookie: str | None
) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
        headers[CSRF_HEADER] = csrf_token_for(live.app[CSRF_KEY], cookie)
    body = b"{}" if method in ("POST", "PUT", "PATCH", "DELETE") else None
    async with http.request(method, live.url + _concrete(path), data=body, headers=headers) as r:
        _check_headers(r)
        return r.status, (await r.json())["error"]["code"]


async def _pending_token(live: Live, login_name: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(
            live.url + "/api/v1/auth/prelogin", json={"login_name": login_name}
        ) as r:
            kdf = b64d((await r.json())["kdf_params"])
        auth_key, _kek = login_keys(PASSWORD, kdf)
        async with http.post(
            live.url + "/api/v1/auth/login",
            json={"login_name": login_name, "auth_key": b64e(auth_key)},
        ) as r:
            assert r.status == 200
            return r.cookies[SESSION_COOKIE].value


async def test_every_served_route_has_an_explicit_decision(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        served = set()
        for route in live.app.router.routes():
            info = route.resource.get_info() if route.resource is not None else {}
            path = info.get("path") or info.get("formatter")
            if route.method == "HEAD":
                continue  # aiohttp adds HEAD beside GET; same handler
            served.add((route.method, path))
        declared = {(r.method, r.path) for r in ROUTES}
        assert all(r.auth in ("session", "pending", "none") for r in ROUTES)
        assert served - declared == PUBLIC_EXTRA, served - declared
        assert declared <= served
        assert {(r.method, r.path) for r in ROUTES if r.auth == "none"} == NONE_ROUTES


async def test_session_and_pending_routes_refuse_the_wrong_session(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live, aiohttp.ClientSession() as http:
        w = await make_world(live)
        pending = await _pending_token(live, w.gp.login_name)
        full = w.gp.client.api.session_token
        assert full is not None
        wrong = []
        for r in ROUTES:
            if r.auth == "none":
                continue
            got_none = await _call(http, live, r.method, r.path, None)
            if got_none != (401, "unauthenticated"):
                wrong.append((r.method, r.path, "no cookie", got_none))
            if r.auth == "session":
                got = await _call(http, live, r.method, r.path, pending)
                if got != (401, "mfa_required"):
                    wrong.append((r.method, r.path, "pending", got))
            else:
                got = await _call(http, live, r.method, r.path, full)
                if got[0] not in (409, 401):
                    wrong.append((r.method, r.path, "full", got))
        assert not wrong, wrong


async def test_foreign_ids_answer_exactly_like_missing_ones(tmp_path: Path) -> None:
    """For a user of another organisation, every route with an id in its path answers a
    real id of ours byte for byte like an id that does not exist."""
    async with live_server(tmp_path) as live, aiohttp.ClientSession() as http:
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        other = await w.admin.client.create_organisation("practice", "Oak Surgery")
        stranger = await live.person(
            await w.admin.client.invite(other["org_id"], "admin"), "x@example.org", "X"
        )
        token = stranger.client.api.session_token
        assert token is not None
        real = {
            "case_id": case_id,
            "service_id": w.service_id,
            "org_id": w.practice_id,
            "user_id": w.gp.user_id,
        }
        headers = {
            "Cookie": f"{SESSION_COOKIE}={token}",
            CSRF_HEADER: csrf_token_for(live.app[CSRF_KEY], token),
            "Content-Type": "application/json",
        }

        async def answer(method: str, path: str) -> tuple[int, bytes]:
            body = b"{}" if method != "GET" else None
            async with http.request(method, live.url + path, data=body, headers=headers) as r:
                return r.status, await r.read()

        checked = 0
        for r in ROUTES:
            names = re.findall(r"\{([^}]+)\}", r.path)
            if r.auth != "session" or not names or not set(names) & set(real):
                continue
            ours = r.path
            missing = r.path
            for name in names:
                fake = str(uuid.uuid4())
                ours = ours.replace("{" + name + "}", real.get(name, fake))
                missing = missing.replace("{" + name + "}", fake)
            got_ours, got_missing = await answer(r.method, ours), await answer(r.method, missing)
            assert got_ours == got_missing, (r.method, r.path, got_ours, got_missing)
            checked += 1
        assert checked >= 20


async def test_foreign_case_costs_no_more_storage_work_than_a_missing_one(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        other = await w.admin.client.create_organisation("practice", "Oak Surgery")
        stranger = await live.person(
            await w.admin.client.invite(other["org_id"], "gp"), "x@example.org", "X"
        )
        store = live.store
        calls: list[str] = []
        for name in (
            "get_case",
            "get_case_with_participants",
            "list_participants",
            "list_messages",
            "append_audit",
        ):
            original = getattr(store, name)

            def spy(*a: object, _o: object = original, _n: str = name, **k: object) -> object:
                calls.append(_n)
                return _o(*a, **k)  # type: ignore[operator]

            setattr(store, name, spy)
        work = {}
        for label, cid in (("foreign", case_id), ("missing", str(uuid.uuid4()))):
            calls.clear()
            try:
                await stranger.client.api.get(f"/api/v1/cases/{cid}/messages")
            except Exception as exc:
                assert "404" in str(exc)
            work[label] = list(calls)
        # One read unit (the case with its participants) either way.
        assert work["foreign"] == work["missing"] == ["get_case_with_participants"]
