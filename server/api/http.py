"""Small helpers shared by the route modules: parse a body, answer a model, authenticate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from server.api.body import read_body
from server.api.keys import AUTH, CLIENT_ADDRESS, SERVICES
from server.api.middleware import SESSION_COOKIE
from server.domain.accounts import Authenticated
from server.errors import InvalidInput, UnsupportedMediaType

__all__ = ["Route", "client", "current", "parse", "query_int", "reply"]

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One HTTP route: the app registers it and the OpenAPI document describes it."""

    method: str
    path: str
    handler: Handler
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    #: other success statuses with the same response body (an upload retry answers 200)
    also: tuple[int, ...] = ()
    auth: str = "session"  # "session" | "pending" | "none"
    query: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (name, type)
    errors: tuple[int, ...] = ()
    binary_request: bool = False  # application/octet-stream body, streamed
    binary_response: bool = False


async def parse(request: web.Request, model: type[M]) -> M:
    """Validate a JSON body against ``model`` (size already capped by the app)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    raw = await read_body(request)  # under the stall timeout
    if not raw:
        raise InvalidInput("the request body is empty")
    return model.model_validate_json(raw)


def reply(model: BaseModel | None, status: int = 200) -> web.Response:
    if model is None:
        return web.Response(status=204)
    return web.json_response(text=model.model_dump_json(), status=status)


def client(request: web.Request) -> str:
    return str(request.get(CLIENT_ADDRESS, "unknown"))


async def current(request: web.Request) -> Authenticated:
    """The two-factor session of this request (cached on the request)."""
    cached: Authenticated | None = request.get(AUTH)
    if cached is not None:
        return cached
    auth = await request.app[SERVICES].sessions.authenticate(request.cookies.get(SESSION_COOKIE))
    request[AUTH] = auth
    return auth


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer") from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}")
    return value
