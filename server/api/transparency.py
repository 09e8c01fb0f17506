"""Transparency log routes (``docs/api.md``, "Transparency log"): the latest signed head,
consistency and inclusion proofs between signed sizes, and pages of entries for monitors.
Every signed-in user may read them."""

from __future__ import annotations

from aiohttp import web

from server.api.http import Route, current, reply
from server.api.keys import SERVICES
from server.errors import BadRequest
from server.wire import schemas as s

__all__ = ["ROUTES"]

_MAX = (1 << 53) - 1


def _int(request: web.Request, name: str) -> int:
    """A required non-negative integer query parameter (400 ``bad_request`` otherwise)."""
    raw = request.query.get(name)
    if raw is None or not raw.isdigit() or len(raw) > 16:
        raise BadRequest(f"{name} must be a non-negative integer")
    value = int(raw)
    if value > _MAX:
        raise BadRequest(f"{name} is too large")
    return value


async def head(request: web.Request) -> web.Response:
    await current(request)
    svc = request.app[SERVICES].transparency
    signed = await svc.head()
    return reply(s.TreeHeadOut(tree_head=signed.head, log_public_key=await svc.public_key()))


async def consistency(request: web.Request) -> web.Response:
    await current(request)
    old, new = _int(request, "from"), _int(request, "to")
    proof = await request.app[SERVICES].transparency.consistency(old, new)
    return reply(s.ConsistencyOut.model_validate({"from": old, "to": new, "proof": proof}))


async def inclusion(request: web.Request) -> web.Response:
    await current(request)
    index, size = _int(request, "index"), _int(request, "size")
    proof = await request.app[SERVICES].transparency.inclusion(index, size)
    return reply(s.InclusionOut(index=index, size=size, proof=proof))


async def entries(request: web.Request) -> web.Response:
    await current(request)
    start, end = _int(request, "start"), _int(request, "end")
    records, signed = await request.app[SERVICES].transparency.entries(start, end)
    return reply(
        s.LogEntriesOut(
            entries=[s.LogEntryOut(index=r.index, entry=r.entry) for r in records],
            tree_head=signed.head,
        )
    )


V1 = "/api/v1/transparency"
ROUTES = [
    Route(
        "GET",
        f"{V1}/head",
        head,
        "The latest signed tree head (covers every change committed before the request)",
        None,
        s.TreeHeadOut,
        errors=(401,),
    ),
    Route(
        "GET",
        f"{V1}/consistency",
        consistency,
        "Consistency proof from size `from` to the signed size `to`",
        None,
        s.ConsistencyOut,
        query=(("from", "integer"), ("to", "integer")),
        errors=(400, 401, 404),
    ),
    Route(
        "GET",
        f"{V1}/inclusion",
        inclusion,
        "Inclusion proof of entry `index` against the signed size `size`",
        None,
        s.InclusionOut,
        query=(("index", "integer"), ("size", "integer")),
        errors=(400, 401, 404),
    ),
    Route(
        "GET",
        f"{V1}/entries",
        entries,
        "Entries start <= index < end (at most 1,000) with the head that covers them",
        None,
        s.LogEntriesOut,
        query=(("start", "integer"), ("end", "integer")),
        errors=(400, 401),
    ),
]
