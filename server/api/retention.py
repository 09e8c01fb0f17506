"""Retention routes: an organisation's minimum period, legal holds, a case's retention
status (records officers; ``docs/api.md``, "Retention and legal holds")."""

from __future__ import annotations

from aiohttp import web

from server.api.http import Route, client, current, parse, reply
from server.api.keys import SERVICES
from server.domain.records import LegalHoldReason
from server.wire import retention as w

__all__ = ["ROUTES"]

V1 = "/api/v1"


async def get_org_minimum(request: web.Request) -> web.Response:
    auth = await current(request)
    policy = await request.app[SERVICES].retention.org_minimum(
        auth.actor, request.match_info["org_id"]
    )
    return reply(w.org_retention_out(policy))


async def set_org_minimum(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, w.OrgRetentionIn)
    policy = await request.app[SERVICES].retention.set_org_minimum(
        auth.actor, request.match_info["org_id"], body.min_years, client(request)
    )
    return reply(w.org_retention_out(policy))


async def list_holds(request: web.Request) -> web.Response:
    auth = await current(request)
    holds = await request.app[SERVICES].retention.holds(auth.actor, request.match_info["org_id"])
    return reply(w.LegalHoldList(holds=[w.legal_hold_out(h) for h in holds]))


async def case_status(request: web.Request) -> web.Response:
    auth = await current(request)
    status = await request.app[SERVICES].retention.status(auth.actor, request.match_info["case_id"])
    return reply(w.case_retention_out(status))


async def place_hold(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, w.LegalHoldIn)
    hold = await request.app[SERVICES].retention.place_hold(
        auth.actor,
        request.match_info["case_id"],
        LegalHoldReason(body.reason),
        body.reference,
        client(request),
    )
    return reply(w.legal_hold_out(hold), status=201)


async def release_hold(request: web.Request) -> web.Response:
    auth = await current(request)
    await request.app[SERVICES].retention.release_hold(
        auth.actor, request.match_info["case_id"], client(request)
    )
    return reply(None)


ROUTES = [
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/retention",
        get_org_minimum,
        "The organisation's minimum retention period (records officers)",
        None,
        w.OrgRetentionOut,
        errors=(401, 403, 404),
    ),
    Route(
        "PUT",
        f"{V1}/orgs/{{org_id}}/retention",
        set_org_minimum,
        "Set the organisation's minimum retention period in years (records officers)",
        w.OrgRetentionIn,
        w.OrgRetentionOut,
        errors=(401, 403, 404, 422),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/legal-holds",
        list_holds,
        "Legal holds on the organisation's cases (records officers)",
        None,
        w.LegalHoldList,
        errors=(401, 403, 404),
    ),
    Route(
        "GET",
        f"{V1}/cases/{{case_id}}/retention",
        case_status,
        "A case's retention date, hold and disposal (records officers)",
        None,
        w.CaseRetentionOut,
        errors=(401, 403, 404),
    ),
    Route(
        "PUT",
        f"{V1}/cases/{{case_id}}/legal-hold",
        place_hold,
        "Place a legal hold: the case is not disposed of until it is released (records officers)",
        w.LegalHoldIn,
        w.LegalHoldOut,
        status=201,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "DELETE",
        f"{V1}/cases/{{case_id}}/legal-hold",
        release_hold,
        "Release a legal hold (records officers)",
        None,
        None,
        status=204,
        errors=(401, 403, 404),
    ),
]
