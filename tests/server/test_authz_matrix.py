"""The authorisation matrix (issue 4 "Show"): every case route and Socket.IO event, for
every role, in the own and in a foreign organisation, has the expected answer.

One test per cell, named ``route-actor-own|foreign``, so a failure names its cell. The
cells share one server and one set of people (a module fixture: making people is the slow
part); cases that a move would change are made fresh for each cell, in the state the move
needs. Foreign users must get exactly the answer of a case that does not exist (404 /
``not_found``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from client_py.api import ApiError, b64d, b64e
from client_py.client import DermlineClient
from client_py.realtime import RealtimeError
from crypto.case_key import generate_case_key, wrap_case_key
from crypto.content import ContentType
from tests.samples import HISTORY
from tests.server.harness import Live, World, live_server, make_world

pytestmark = pytest.mark.asyncio(loop_scope="module")

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
    # Only the target of the "reset 2fa" cells: a reset signs them out, nobody else.
    out["gp3"] = await make(w.practice_id, "gp", "gp3")
    return out


def _where(actor: str) -> str:
    return "foreign" if actor.startswith("x_") else "own"


@dataclass
class Env:
    live: Live
    w: World
    who: dict[str, DermlineClient]
    #: cases shared by the cells that do not change them, by state
    shared: dict[str, str] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with live_server(tmp_path_factory.mktemp("authz")) as live:
        w = await make_world(live)
        yield Env(live, w, await people(live, w))


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
    # Only the referring GP lowers a two-week-wait referral: the
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
    # Taking the second addressed dermatologist off the case: the referring GP or the
    # responder (status_of counts the 204 as 200).
    "remove": (
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
    # A new case key epoch: any participant holding the key (a valid set of wraps from
    # each; records officers read the case but are not in it).
    "epochs": (
        "in_review",
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


async def epoch_body(
    who: DermlineClient, case_id: str, records: dict[str, bytes]
) -> dict[str, Any]:
    """Wraps of a fresh epoch-1 key to every participant and the ``records`` keys, as the
    caller's client makes them; a well-formed stand-in for callers who cannot read the case."""
    try:
        detail = await who.get_case(case_id)
        assert who.identity is not None
        key = generate_case_key()
        recipients = [
            ("user", p["user_id"], b64d(p["encryption_public_key"])) for p in detail["participants"]
        ]
        recipients += [("organisation", org_id, public) for org_id, public in records.items()]
        wraps = [
            {
                "recipient_kind": kind,
                "recipient_id": rid,
                "wrapped_key": b64e(
                    wrap_case_key(
                        key,
                        case_id=uuid.UUID(case_id),
                        epoch=1,
                        recipient_public_key=public,
                        wrapper_user_id=uuid.UUID(who.identity.user_id),
                        wrapper_signing_key=who.identity.signing,
                    )
                ),
            }
            for kind, rid, public in recipients
        ]
    except Exception:
        wraps = [
            {"recipient_kind": "user", "recipient_id": str(uuid.uuid4()), "wrapped_key": "AAAA"}
        ]
    return {"epoch": 1, "case_keys": wraps}


async def attempt(
    route: str,
    who: DermlineClient,
    case_id: str,
    target: str = "",
    records: dict[str, bytes] | None = None,
) -> int:
    base = f"/api/v1/cases/{case_id}"
    if route == "remove":
        return await status_of(lambda: who.api.post(f"{base}/participants/{target}/remove"))
    if route == "epochs":
        body = await epoch_body(who, case_id, records or {})
        return await status_of(lambda: who.api.post(base + "/epochs", body))
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


MUTATING = {
    "claim",
    "ask",
    "answer",
    "withdraw",
    "close",
    "post",
    "downgrade",
    "share",
    "remove",
    "epochs",
}
CASE_CELLS = [
    pytest.param(route, actor, id=f"{route}-{actor}-{_where(actor)}")
    for route in MATRIX
    for actor in ACTORS
]


@pytest.mark.parametrize(("route", "actor"), CASE_CELLS)
async def test_case_route(env: Env, route: str, actor: str) -> None:
    state, expected = MATRIX[route]
    w = env.w
    if route in MUTATING or state not in env.shared:
        case_id = await fresh_case(w, state)
        if route not in MUTATING:
            env.shared[state] = case_id
    else:
        case_id = env.shared[state]
    if route == "share" and expected[actor] == 200:
        # Someone to share with: a dermatologist who joined after the case was made.
        late = f"late-{uuid.uuid4().hex[:8]}"
        await env.live.person(
            await w.admin.client.invite(w.service_id, "dermatologist"),
            f"{late}@example.org",
            late,
        )
    target = ""
    if route == "remove":
        # An addressed dermatologist other than the responder (read as the referring GP).
        detail = await w.gp.client.get_case(case_id)
        target = next(
            p["user_id"]
            for p in detail["participants"]
            if p["role"] == "dermatologist" and p["user_id"] != detail["case"]["claimed_by"]
        )
    want = expected[actor]
    if route == "close" and want == 200:
        want = 422  # a stand-in payload is refused only after the policy passed
    records = {w.practice_id: w.records_key.public_key}
    assert await attempt(route, env.who[actor], case_id, target, records) == want


@pytest.mark.parametrize("actor", ACTORS, ids=[f"{a}-{_where(a)}" for a in ACTORS])
async def test_a_missing_case_answers_like_a_foreign_one(env: Env, actor: str) -> None:
    assert await attempt("view", env.who[actor], "00000000-0000-4000-8000-00000000abcd") == 404


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


async def revoke_fresh_invite(env: Env, c: DermlineClient) -> Any:
    # A new pending invite for every cell: a successful cancel uses it up.
    p = env.w.practice_id
    token = await env.w.admin.client.invite(p, "gp")
    ref = hashlib.sha256(token.encode("ascii")).hexdigest()
    return await c.api.revoke_invite(p, ref)


ORG_CALLS: dict[str, Callable[[Env, DermlineClient], Awaitable[Any]]] = {
    "queue": lambda e, c: c.api.get(f"/api/v1/services/{e.w.service_id}/queue"),
    "practice directory": lambda e, c: c.api.get(f"/api/v1/orgs/{e.w.practice_id}/directory"),
    "service directory": lambda e, c: c.api.get(f"/api/v1/orgs/{e.w.service_id}/directory"),
    "invite": lambda e, c: c.api.post(f"/api/v1/orgs/{e.w.practice_id}/invites", {"role": "gp"}),
    "list invites": lambda e, c: c.api.list_invites(e.w.practice_id),
    "revoke invite": revoke_fresh_invite,
    "users": lambda e, c: c.api.get(f"/api/v1/orgs/{e.w.practice_id}/users"),
    "reset 2fa": lambda e, c: c.api.post(f"/api/v1/users/{e.who['gp3'].me['user_id']}/reset-2fa"),
    "create case": lambda e, c: create_case(c, e.w.practice_id, e.w.service_id),
    "passkey policy": lambda e, c: c.api.get(f"/api/v1/orgs/{e.w.practice_id}/passkey-policy"),
    "set passkey policy": lambda e, c: c.api.put(
        f"/api/v1/orgs/{e.w.practice_id}/passkey-policy", {"everyone": False, "roles": []}
    ),
}
_FOREIGN_404 = {"x_gp": 404, "x_derm": 404, "x_admin": 404}
_ADMINS_ONLY = {
    "gp": 403,
    "gp2": 403,
    "derm": 404,
    "derm2": 404,
    "padmin": 200,
    "records": 403,
    "auditor": 404,
    **_FOREIGN_404,
}
ORG_MATRIX: dict[str, dict[str, int]] = {
    "queue": {
        "gp": 404,
        "gp2": 404,
        "derm": 200,
        "derm2": 200,
        "padmin": 404,
        "records": 404,
        "auditor": 403,
        **_FOREIGN_404,
    },
    "practice directory": {
        "gp": 200,
        "gp2": 200,
        "derm": 404,
        "derm2": 404,
        "padmin": 200,
        "records": 200,
        "auditor": 404,
        **_FOREIGN_404,
    },
    "service directory": dict.fromkeys(ACTORS, 200),
    "invite": _ADMINS_ONLY,
    "list invites": _ADMINS_ONLY,
    "revoke invite": _ADMINS_ONLY,
    "users": _ADMINS_ONLY,
    "passkey policy": _ADMINS_ONLY,
    "set passkey policy": _ADMINS_ONLY,
    "reset 2fa": {**dict.fromkeys(ACTORS, 404), "padmin": 200},
    "create case": {
        "gp": 200,
        "gp2": 200,
        "derm": 404,
        "derm2": 404,
        "padmin": 403,
        "records": 403,
        "auditor": 404,
        **_FOREIGN_404,
    },
}
ORG_CELLS = [
    pytest.param(name, actor, id=f"{name.replace(' ', '_')}-{actor}-{_where(actor)}")
    for name in ORG_MATRIX
    for actor in ACTORS
]


@pytest.mark.parametrize(("name", "actor"), ORG_CELLS)
async def test_organisation_route(env: Env, name: str, actor: str) -> None:
    assert await status_of(lambda: ORG_CALLS[name](env, env.who[actor])) == ORG_MATRIX[name][actor]


async def test_outsiders_see_a_services_dermatologists_only(env: Env) -> None:
    s = env.w.service_id
    outside = (await env.who["x_gp"].api.get(f"/api/v1/orgs/{s}/directory"))["members"]
    inside = (await env.who["auditor"].api.get(f"/api/v1/orgs/{s}/directory"))["members"]
    assert {"Dr Derm", "derm2"} <= {m["display_name"] for m in outside}
    # Only dermatologists, and only their membership in this service.
    assert all(m["memberships"] == [{"org_id": s, "role": "dermatologist"}] for m in outside)
    assert {"auditor", "Ada Admin"} <= {m["display_name"] for m in inside}


SOCKET_EXPECTED: dict[str, dict[str, str]] = {
    "view": {
        "gp": "ok",
        "gp2": "forbidden",
        "derm": "ok",
        "derm2": "ok",
        "padmin": "forbidden",
        "records": "ok",
        "auditor": "forbidden",
    },
    "write": {
        "gp": "ok",
        "gp2": "forbidden",
        "derm": "ok",
        "derm2": "forbidden",
        "padmin": "forbidden",
        "records": "forbidden",
        "auditor": "forbidden",
    },
}
SOCKET_EXPECTED["receipt"] = {**SOCKET_EXPECTED["view"], "records": "forbidden"}
for _kind in SOCKET_EXPECTED.values():
    _kind.update(dict.fromkeys(("x_gp", "x_derm", "x_admin"), "not_found"))
SOCKET_EVENTS = {"join": "view", "typing": "write", "receipt": "receipt", "send": "write"}
SOCKET_CELLS = [
    pytest.param(event, actor, id=f"{event}-{actor}-{_where(actor)}")
    for event in SOCKET_EVENTS
    for actor in ACTORS
]


@pytest.mark.parametrize(("event", "actor"), SOCKET_CELLS)
async def test_socketio_event(env: Env, event: str, actor: str) -> None:
    if "socket" not in env.shared:
        env.shared["socket"] = await fresh_case(env.w, "in_review")
    case_id = env.shared["socket"]
    c = env.who[actor]
    data: dict[str, Any] = {"case_id": case_id}
    if event == "receipt":
        data |= {"kind": "read", "seq": 1}
    if event == "send":
        try:
            msg_id, env_b64 = await c.seal(case_id, ContentType.TEXT, {"text": "x"})
        except Exception:
            msg_id, env_b64 = "00000000-0000-4000-8000-000000000002", "AAAA"
        data |= {"client_msg_id": msg_id, "envelope": env_b64}
    rt = await c.connect_realtime()
    try:
        await rt.call(event, data)
        got = "ok"
    except RealtimeError as exc:
        got = exc.code
    finally:
        await rt.disconnect()
        c.realtime = None
    assert got == SOCKET_EXPECTED[SOCKET_EVENTS[event]][actor]
