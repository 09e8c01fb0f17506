"""The authorisation matrix (issue 4 "Show"): every case route and Socket.IO event, for
every role, in the own and in a foreign organisation, has the expected answer.

Cases that a move would change are made fresh for each cell, in the state the move needs.
Foreign users must get exactly the answer of a case that does not exist (404 /
``not_found``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from client_py.api import ApiError, b64d, b64e
from client_py.client import DermlineClient
from client_py.realtime import RealtimeError
from crypto.case_key import wrap_case_key
from crypto.content import ContentType
from tests.samples import HISTORY
from tests.server.harness import Live, World, live_server, make_world

ACTORS = [
    "gp",
    "gp2",
    "derm",
    "derm2",
    "padmin",
    "records",
    "auditor",
    "x_gp",
    "x_derm",
    "x_admin",
]


async def people(live: Live, w: World) -> dict[str, DermlineClient]:
    admin = w.admin.client
    other_practice = await admin.create_organisation("practice", "Oak Surgery")
    other_service = await admin.create_organisation("service", "Other Skin")

    async def make(org: str, role: str, name: str) -> DermlineClient:
        p = await live.person(await admin.invite(org, role), f"{name}@example.org", name)
        return p.client

    out = {"gp": w.gp.client, "derm": w.derm.client}
    out["gp2"] = await make(w.practice_id, "gp", "gp2")
    out["derm2"] = await make(w.service_id, "dermatologist", "derm2")
    out["padmin"] = await make(w.practice_id, "admin", "padmin")
    out["records"] = await make(w.practice_id, "records_officer", "records")
    out["auditor"] = await make(w.service_id, "auditor", "auditor")
    out["x_gp"] = await make(other_practice["org_id"], "gp", "xgp")
    out["x_derm"] = await make(other_service["org_id"], "dermatologist", "xderm")
    out["x_admin"] = await make(other_practice["org_id"], "admin", "xadmin")
    return out


async def status_of(call: Callable[[], Awaitable[Any]]) -> int:
    try:
        await call()
    except ApiError as exc:
        return exc.status
    return 200


# route -> (state the case is put in first, expected status per actor)
MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "view": (
        "in_review",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 200,
            "derm2": 200,
            "padmin": 403,
            "records": 200,
            "auditor": 403,
        },
    ),
    "messages": (
        "in_review",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 200,
            "derm2": 200,
            "padmin": 403,
            "records": 200,
            "auditor": 403,
        },
    ),
    "receipts": (
        "in_review",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 200,
            "derm2": 200,
            "padmin": 403,
            "records": 200,
            "auditor": 403,
        },
    ),
    "post": (
        "in_review",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 200,
            "derm2": 403,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    "claim": (
        "submitted",
        {
            "gp": 403,
            "gp2": 403,
            "derm": 200,
            "derm2": 200,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    "ask": (
        "in_review",
        {
            "gp": 403,
            "gp2": 403,
            "derm": 200,
            "derm2": 403,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    "answer": (
        "awaiting_gp",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 403,
            "derm2": 403,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    "withdraw": (
        "submitted",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 403,
            "derm2": 403,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    "close": (
        "in_review",
        {
            "gp": 403,
            "gp2": 403,
            "derm": 200,
            "derm2": 403,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    # Only the referring GP lowers a two-week-wait referral (DESIGN section 2): the
    # dermatologists are parties but outcomes.downgrade refuses them.
    "downgrade": (
        "closed_2ww",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 403,
            "derm2": 403,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    # Sharing the case key with a dermatologist who joined the service after the case was
    # made (a fresh one for each 200 cell): any participant holding a wrap, in any state.
    "share": (
        "closed_2ww",
        {
            "gp": 200,
            "gp2": 403,
            "derm": 200,
            "derm2": 200,
            "padmin": 403,
            "records": 403,
            "auditor": 403,
        },
    ),
    "claim_again": (
        "in_review",
        {
            "gp": 409,
            "gp2": 409,
            "derm": 409,
            "derm2": 409,
            "padmin": 409,
            "records": 409,
            "auditor": 409,
        },
    ),
}
for _route, (_state, _expected) in MATRIX.items():
    for _actor in ("x_gp", "x_derm", "x_admin"):
        _expected[_actor] = 404  # foreign: exactly like a missing case


async def fresh_case(w: World, state: str) -> str:
    case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
    if state in ("in_review", "awaiting_gp"):
        await w.derm.client.move(case_id, "claim")
    if state == "closed_2ww":
        await w.derm.client.move(case_id, "claim")
        await w.derm.client.close_case(
            case_id,
            "referral",
            "suspected melanoma",
            urgency="two_week_wait",
            destination="dermatology_clinic",
        )
    if state == "awaiting_gp":
        await w.derm.client.move(case_id, "ask")
    return case_id


async def share_body(who: DermlineClient, case_id: str) -> dict[str, Any]:
    """The caller's wraps to every service dermatologist who lacks the key; for callers who
    cannot open the key, a well-formed stand-in that the policy must refuse first."""
    try:
        key = await who.case_key(case_id)
        lacking = await who.colleagues_without_key(case_id)
        assert who.identity is not None
        wraps = [
            {
                "recipient_id": d["user_id"],
                "wrapped_key": b64e(
                    wrap_case_key(
                        key,
                        case_id=uuid.UUID(case_id),
                        epoch=0,
                        recipient_public_key=b64d(d["encryption_public_key"]),
                        wrapper_user_id=uuid.UUID(who.identity.user_id),
                        wrapper_signing_key=who.identity.signing,
                    )
                ),
            }
            for d in lacking
        ]
    except Exception:
        wraps = []
    if not wraps:
        wraps = [{"recipient_id": str(uuid.uuid4()), "wrapped_key": "AAAA"}]
    return {"case_keys": wraps}


async def attempt(route: str, who: DermlineClient, case_id: str) -> int:
    base = f"/api/v1/cases/{case_id}"
    if route == "share":
        body = await share_body(who, case_id)
        return await status_of(lambda: who.api.post(base + "/keys", body))
    if route == "view":
        return await status_of(lambda: who.api.get(base))
    if route == "messages":
        return await status_of(lambda: who.api.get(base + "/messages"))
    if route == "receipts":
        return await status_of(lambda: who.api.get(base + "/receipts"))
    if route == "post":
        # Only a participant can seal; others send a syntactically valid stand-in, which
        # the policy must refuse before looking at it.
        try:
            body = dict(
                zip(
                    ("client_msg_id", "envelope"),
                    await who.seal(case_id, ContentType.TEXT, {"text": "hi"}),
                    strict=True,
                )
            )
        except Exception:
            body = {"client_msg_id": "00000000-0000-4000-8000-000000000001", "envelope": "AAAA"}
        return await status_of(lambda: who.api.post(base + "/messages", body))
    if route == "downgrade":
        # As for "post": a stand-in reason for those who cannot seal.
        try:
            msg_id, envelope = await who.seal(case_id, ContentType.TEXT, {"text": "seen again"})
        except Exception:
            msg_id, envelope = "00000000-0000-4000-8000-000000000002", "AAAA"
        body = {"urgency": "urgent", "reason": {"client_msg_id": msg_id, "envelope": envelope}}
        return await status_of(lambda: who.api.post(base + "/outcome/downgrade", body))
    if route == "close":
        return await status_of(
            lambda: who.api.post(
                base + "/close", {"outcome": {"category": "advice_and_guidance", "payload": "AAAA"}}
            )
        )
    action = "claim" if route == "claim_again" else route
    return await status_of(lambda: who.api.post(f"{base}/{action}"))


async def test_case_routes_matrix(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        who = await people(live, w)
        failures = []
        shared: dict[str, str] = {}
        for route, (state, expected) in MATRIX.items():
            for actor in ACTORS:
                mutating = route in (
                    "claim",
                    "ask",
                    "answer",
                    "withdraw",
                    "close",
                    "post",
                    "downgrade",
                    "share",
                )
                if mutating or state not in shared:
                    case_id = await fresh_case(w, state)
                    if not mutating:
                        shared[state] = case_id
                else:
                    case_id = shared[state]
                if route == "share" and expected[actor] == 200:
                    late = f"late-{uuid.uuid4().hex[:8]}"
                    await live.person(
                        await w.admin.client.invite(w.service_id, "dermatologist"),
                        f"{late}@example.org",
                        late,
                    )
                got = await attempt(route, who[actor], case_id)
                want = expected[actor]
                if route == "close" and want == 200:
                    want = 422  # a stand-in payload is refused only after the policy passed
                if got != want:
                    failures.append((route, actor, want, got))
        assert failures == []
        # The missing case answers exactly like the foreign one, for everybody.
        for actor in ACTORS:
            assert await attempt("view", who[actor], "00000000-0000-4000-8000-00000000abcd") == 404


async def create_case(c: DermlineClient, practice_id: str, service_id: str) -> Any:
    """A GP goes through the client; anyone else posts a well-formed stand-in, which the
    policy must refuse before it looks at the key wraps."""
    if any(m["role"] == "gp" and m["org_id"] == practice_id for m in c.me["memberships"]):
        return await c.create_case(practice_id, service_id, HISTORY)
    wrap = {"recipient_kind": "user", "recipient_id": "u", "wrapped_key": "AAAA"}
    return await c.api.post(
        "/api/v1/cases",
        {
            "case_id": "00000000-0000-4000-8000-000000000003",
            "practice_id": practice_id,
            "service_id": service_id,
            "priority": "routine",
            "participants": ["u"],
            "case_keys": [wrap, wrap],
        },
    )


async def test_organisation_routes_matrix(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        who = await people(live, w)
        p, s = w.practice_id, w.service_id

        async def revoke_fresh_invite(c: DermlineClient) -> Any:
            # A new pending invite for every cell: a successful cancel uses it up.
            token = await w.admin.client.invite(p, "gp")
            ref = hashlib.sha256(token.encode("ascii")).hexdigest()
            return await c.api.revoke_invite(p, ref)

        cells: dict[str, tuple[Callable[[DermlineClient], Awaitable[Any]], dict[str, int]]] = {
            "queue": (
                lambda c: c.api.get(f"/api/v1/services/{s}/queue"),
                {
                    "gp": 404,
                    "gp2": 404,
                    "derm": 200,
                    "derm2": 200,
                    "padmin": 404,
                    "records": 404,
                    "auditor": 403,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
            "practice directory": (
                lambda c: c.api.get(f"/api/v1/orgs/{p}/directory"),
                {
                    "gp": 200,
                    "gp2": 200,
                    "derm": 404,
                    "derm2": 404,
                    "padmin": 200,
                    "records": 200,
                    "auditor": 404,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
            "service directory": (
                lambda c: c.api.get(f"/api/v1/orgs/{s}/directory"),
                dict.fromkeys(ACTORS, 200),
            ),
            "invite": (
                lambda c: c.api.post(f"/api/v1/orgs/{p}/invites", {"role": "gp"}),
                {
                    "gp": 403,
                    "gp2": 403,
                    "derm": 404,
                    "derm2": 404,
                    "padmin": 200,
                    "records": 403,
                    "auditor": 404,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
            "list invites": (
                lambda c: c.api.list_invites(p),
                {
                    "gp": 403,
                    "gp2": 403,
                    "derm": 404,
                    "derm2": 404,
                    "padmin": 200,
                    "records": 403,
                    "auditor": 404,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
            "revoke invite": (
                revoke_fresh_invite,
                {
                    "gp": 403,
                    "gp2": 403,
                    "derm": 404,
                    "derm2": 404,
                    "padmin": 200,
                    "records": 403,
                    "auditor": 404,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
            "users": (
                lambda c: c.api.get(f"/api/v1/orgs/{p}/users"),
                {
                    "gp": 403,
                    "gp2": 403,
                    "derm": 404,
                    "derm2": 404,
                    "padmin": 200,
                    "records": 403,
                    "auditor": 404,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
            "reset 2fa": (
                lambda c: c.api.post(f"/api/v1/users/{w.gp.user_id}/reset-2fa"),
                {
                    "gp": 404,
                    "gp2": 404,
                    "derm": 404,
                    "derm2": 404,
                    "padmin": 200,
                    "records": 404,
                    "auditor": 404,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
            "create case": (
                lambda c: create_case(c, p, s),
                {
                    "gp": 200,
                    "gp2": 200,
                    "derm": 404,
                    "derm2": 404,
                    "padmin": 403,
                    "records": 403,
                    "auditor": 404,
                    "x_gp": 404,
                    "x_derm": 404,
                    "x_admin": 404,
                },
            ),
        }
        failures = []
        for name, (call, expected) in cells.items():
            for actor in ACTORS:
                if name == "reset 2fa" and actor == "padmin":
                    continue  # checked last: it logs the GP out
                got = await status_of(lambda c=who[actor], f=call: f(c))
                if got != expected[actor]:
                    failures.append((name, actor, expected[actor], got))
        assert failures == []
        # Outsiders see a service's dermatologists only; members see everyone.
        outside = (await who["x_gp"].api.get(f"/api/v1/orgs/{s}/directory"))["members"]
        inside = (await who["auditor"].api.get(f"/api/v1/orgs/{s}/directory"))["members"]
        assert {m["display_name"] for m in outside} == {"Dr Derm", "derm2"}
        assert {"auditor", "Ada Admin"} <= {m["display_name"] for m in inside}
        assert (
            await status_of(
                lambda: who["padmin"].api.post(f"/api/v1/users/{w.gp.user_id}/reset-2fa")
            )
            == 200
        )


async def test_socketio_events_matrix(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        who = await people(live, w)
        case_id = await fresh_case(w, "in_review")
        expected_view = {
            "gp": "ok",
            "gp2": "forbidden",
            "derm": "ok",
            "derm2": "ok",
            "padmin": "forbidden",
            "records": "ok",
            "auditor": "forbidden",
        }
        expected_write = {
            "gp": "ok",
            "gp2": "forbidden",
            "derm": "ok",
            "derm2": "forbidden",
            "padmin": "forbidden",
            "records": "forbidden",
            "auditor": "forbidden",
        }
        expected_receipt = {**expected_view, "records": "forbidden"}
        for actor in ("x_gp", "x_derm", "x_admin"):
            expected_view[actor] = expected_write[actor] = expected_receipt[actor] = "not_found"
        failures = []
        for actor in ACTORS:
            c = who[actor]
            rt = await c.connect_realtime()

            async def code(event: str, data: dict[str, Any], rt: Any = rt) -> str:
                try:
                    await rt.call(event, data)
                except RealtimeError as exc:
                    return exc.code
                return "ok"

            try:
                msg_id, env = await c.seal(case_id, ContentType.TEXT, {"text": "x"})
            except Exception:
                msg_id, env = "00000000-0000-4000-8000-000000000002", "AAAA"
            got = {
                "join": await code("join", {"case_id": case_id}),
                "typing": await code("typing", {"case_id": case_id}),
                "receipt": await code("receipt", {"case_id": case_id, "kind": "read", "seq": 1}),
                "send": await code(
                    "send", {"case_id": case_id, "client_msg_id": msg_id, "envelope": env}
                ),
            }
            want = {
                "join": expected_view[actor],
                "typing": expected_write[actor],
                "receipt": expected_receipt[actor],
                "send": expected_write[actor],
            }
            if got != want:
                failures.append((actor, want, got))
            await rt.disconnect()
            c.realtime = None
        assert failures == []
