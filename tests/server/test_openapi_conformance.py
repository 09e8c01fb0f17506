"""The OpenAPI document matches what the server really accepts and returns.

1. Every route the app serves is documented, and every documented route is served.
2. Every JSON body the server returned during a whole case flow validates, strictly
   (unknown fields are errors), against the response schema documented for its route and
   status; error bodies against the error schema.
3. Every request body the client sent validates against the documented request schema.
"""

import contextlib
import re
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import TypeAdapter

from client_py.api import ApiError
from crypto.content import ContentType
from server.app import ROUTES
from server.wire.schemas import ErrorResponse
from tests.samples import HISTORY
from tests.server.harness import live_server, make_world


def _template(method: str, path: str) -> tuple[Any, str]:
    for r in ROUTES:
        pattern = "^" + re.sub(r"\{\w+\}", r"[^/]+", r.path) + "$"
        if r.method == method and re.match(pattern, path):
            return r, r.path
    raise AssertionError(f"undocumented {method} {path}")


async def test_served_routes_equal_documented_routes(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        served = {
            (r.method, r.resource.canonical)
            for r in live.app.router.routes()
            if r.resource is not None
            and r.method not in ("HEAD", "*")
            and (r.resource.canonical.startswith("/api/") or r.resource.canonical == "/healthz")
        }
        served.discard(("GET", "/api/v1/openapi.json"))  # the document itself
        async with (
            aiohttp.ClientSession() as http,
            http.get(live.url + "/api/v1/openapi.json") as resp,
        ):
            doc = await resp.json()
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        assert served == documented


async def test_real_traffic_matches_the_document(tmp_path: Path) -> None:
    seen: list[tuple[str, str, int, Any, Any]] = []
    async with live_server(tmp_path) as live:
        w = await make_world(live)

        def record(client: Any) -> None:
            original = client.api.request

            async def request(method: str, path: str, body: Any = None, **kw: Any) -> Any:
                try:
                    out = await original(method, path, body, **kw)
                except ApiError as exc:
                    seen.append(
                        (
                            method,
                            path,
                            exc.status,
                            body,
                            {"error": {"code": exc.code, "message": exc.message}},
                        )
                    )
                    raise
                seen.append((method, path, 204 if out is None else 0, body, out))
                return out

            client.api.request = request

        for p in (w.gp, w.derm, w.admin):
            record(p.client)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await derm.queue(w.service_id)
        # A dermatologist who joins after the case was made gets the key from a participant.
        late = await live.person(
            await w.admin.client.invite(w.service_id, "dermatologist"), "late@example.org", "Late"
        )
        assert await derm.share_case_key(case_id) == [late.user_id]
        with contextlib.suppress(ApiError):  # a second share to a participant: 409
            await gp.api.post(
                f"/api/v1/cases/{case_id}/keys",
                {"case_keys": [{"recipient_id": late.user_id, "wrapped_key": "AAAA"}]},
            )
        await derm.move(case_id, "claim")
        await derm.move(case_id, "ask", ContentType.QUESTION, {"text": "size?"})
        await gp.move(case_id, "answer", ContentType.TEXT, {"text": "5 mm"})
        await gp.api.post(f"/api/v1/cases/{case_id}/receipts", {"kind": "read", "seq": 2})
        await gp.api.get(f"/api/v1/cases/{case_id}/receipts")
        await derm.close_case(
            case_id,
            "referral",
            "see in clinic",
            urgency="two_week_wait",
            destination="skin_surgery",
        )
        await gp.outcome(case_id)
        with contextlib.suppress(ApiError):  # only the referring GP downgrades: 403
            await derm.downgrade_referral(case_id, "urgent", "no")
        await gp.downgrade_referral(case_id, "urgent", "seen today; smaller")
        with contextlib.suppress(ApiError):  # no longer a two-week wait: 409
            await gp.downgrade_referral(case_id, "routine", "again")
        await gp.outcome(case_id)  # the GET case answer with the downgrade recorded
        await gp.my_cases()
        await gp.api.get("/api/v1/auth/sessions")
        await w.admin.client.api.get(f"/api/v1/orgs/{w.practice_id}/users")
        await w.admin.client.invite(w.practice_id, "gp")
        invites = await w.admin.client.api.list_invites(w.practice_id)
        [pending] = [i["invite_id"] for i in invites if i["status"] == "pending"]
        await w.admin.client.api.revoke_invite(w.practice_id, pending)
        with contextlib.suppress(ApiError):  # cancelled already: 409
            await w.admin.client.api.revoke_invite(w.practice_id, pending)
        for bad in (
            lambda: gp.move(case_id, "claim"),
            lambda: gp.api.get("/api/v1/cases/00000000-0000-4000-8000-000000000000"),
            lambda: gp.api.post("/api/v1/cases", {"nonsense": 1}),
        ):
            with contextlib.suppress(ApiError):
                await bad()

    assert len(seen) > 15
    checked = set()
    for method, path, status, body, answer in seen:
        route, template = _template(method, path.split("?")[0])
        if body is not None and route.request is not None and status < 400:
            route.request.model_validate(body)  # what we sent is what the document accepts
        if status >= 400:
            ErrorResponse.model_validate(answer)
            assert status in route.errors or status in (400, 413, 500), (template, status)
        elif route.response is None:
            assert answer is None, template
        else:
            TypeAdapter(route.response).validate_python(answer, strict=False)
        checked.add((method, template))
    assert len(checked) >= 15
    assert ("POST", "/api/v1/cases/{case_id}/keys") in checked
    assert any(m == "POST" and p.endswith("/keys") and st == 409 for m, p, st, _b, _a in seen)
