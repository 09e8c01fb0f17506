"""HTTP edges: the one error mapper, security headers, size limits, CSRF, client address.

Order of the middlewares (outermost first): ``error_mapper`` (so every refusal below,
including CSRF and size limits, gets the same JSON error shape), then ``guard`` (client
address, size limit, Origin and CSRF checks). Security headers are added in
``on_response_prepare`` so they reach every response, including static files, errors and
Socket.IO polling answers.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

import pydantic
from aiohttp import web
from pydantic_core import ErrorDetails

from server.api.keys import CLIENT_ADDRESS, CSRF_KEY, SETTINGS
from server.domain.records import StorageUnavailable
from server.errors import (
    HTTP_STATUS,
    CsrfFailed,
    DomainError,
    ErrorCode,
    PayloadTooLarge,
    Unavailable,
)
from server.logs import event
from server.netaddr import client_address, joined_forwarded_for

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "csrf_token_for",
    "error_mapper",
    "error_response",
    "guard",
    "security_headers",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "dermline_session"
CSRF_COOKIE = "dermline_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# No inline script or style anywhere (the web client is built to hashed files); images may
# be blob: URLs of decrypted photos; connect-src self covers fetch and the Socket.IO
# WebSocket (same origin).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def error_response(
    code: ErrorCode,
    message: str,
    *,
    retry_after: int | None = None,
    fields: Mapping[str, int] | None = None,
    status: int | None = None,
) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return web.json_response(
        {"error": {"code": code.value, "message": message, **(fields or {})}},
        status=status or HTTP_STATUS[code],
        headers=headers,
    )


_HTTP_CODES: dict[int, tuple[ErrorCode, str]] = {
    400: (ErrorCode.BAD_REQUEST, "the request is malformed"),
    404: (ErrorCode.NOT_FOUND, "not found"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "this method is not allowed here"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "the request body is too large"),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send application/json"),
}


@web.middleware
async def error_mapper(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to ``{"error": {"code", "message"}}`` with a stable code.

    Detail that helps debugging (exception type, route) goes to the log; nothing internal
    reaches the response. Validation errors name the offending field path only, never the
    submitted value (it could be clinical or a secret).
    """
    start = time.perf_counter()
    route = request.match_info.route.resource
    route_name = route.canonical if route is not None else "unmatched"
    try:
        response = await handler(request)
    except DomainError as exc:
        response = error_response(
            exc.code,
            exc.message,
            retry_after=exc.retry_after,
            fields=exc.fields,
            status=exc.status,
        )
    except pydantic.ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            # Not JSON at all: a malformed request (400), not a schema mismatch (422).
            return _logged(request, start, route_name, _malformed_json())
        fields = sorted({_field_path(err) for err in exc.errors()})
        message = "invalid fields: " + ", ".join(fields)[:300] if fields else "invalid body"
        response = error_response(ErrorCode.VALIDATION_FAILED, message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_CODES.get(exc.status, (ErrorCode.BAD_REQUEST, "bad request"))
        response = error_response(code, message)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
    except StorageUnavailable:
        event("http.storage_unavailable", level=logging.WARNING, route=route_name)
        err = Unavailable()
        response = error_response(err.code, err.message, retry_after=1)
    except Exception as exc:
        event(
            "http.internal_error",
            level=logging.ERROR,
            route=route_name,
            method=request.method,
            error_type=type(exc).__name__,
        )
        response = error_response(ErrorCode.INTERNAL, "something went wrong on the server")
    if response.status == 408:
        # The rest of the body may still trickle in: never read another request after it.
        response.force_close()
    return _logged(request, start, route_name, response)


def _field_path(err: ErrorDetails) -> str:
    """The field path of one validation error, without anything the client wrote: an
    unknown field's *name* is submitted text too (it could be a patient's name), so it is
    shown as ``(unknown field)``."""
    loc = [str(p) for p in err["loc"]]
    if err["type"] == "extra_forbidden" and loc:
        loc[-1] = "(unknown field)"
    return ".".join(loc)


def _malformed_json() -> web.Response:
    return error_response(ErrorCode.BAD_REQUEST, "the body is not valid JSON")


def _logged(
    request: web.Request, start: float, route_name: str, response: web.StreamResponse
) -> web.StreamResponse:
    event(
        "http.request",
        level=logging.DEBUG,
        method=request.method,
        route=route_name,
        status=response.status,
        client=request.get(CLIENT_ADDRESS),
        duration_ms=round((time.perf_counter() - start) * 1000, 2),
    )
    return response


def csrf_token_for(key: bytes, session_token: str) -> str:
    """The CSRF token bound to a session: HMAC of the session token (signed double submit).

    The browser reads it from the ``dermline_csrf`` cookie (not HttpOnly) or from the
    login answer and echoes it in ``X-CSRF-Token``; a cross-site page can neither read it
    nor compute it.
    """
    return hmac.new(key, b"dermline/v1/csrf\x00" + session_token.encode(), "sha256").hexdigest()


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Client address, request size limit, Origin and CSRF checks for unsafe methods."""
    settings = request.app[SETTINGS]
    request[CLIENT_ADDRESS] = client_address(
        request.remote,
        joined_forwarded_for(request.headers.getall("X-Forwarded-For", [])),
        settings.trusted_proxies,
    )
    length = request.content_length
    if length is not None and length > settings.max_body_bytes and not _is_upload(request):
        raise PayloadTooLarge()
    if request.method in UNSAFE_METHODS and request.path.startswith("/api/"):
        origin = request.headers.get("Origin")
        # Browsers send Origin on every cross-site and same-site unsafe request; a
        # non-browser client (client_py) sends none and has no ambient cookies to abuse.
        if origin is not None and origin.rstrip("/") not in settings.origins():
            raise CsrfFailed("cross-origin request refused")
        session_token = request.cookies.get(SESSION_COOKIE)
        # The patient routes ignore the session cookie (the link token is their only
        # credential, docs/api.md), so a cookie the browser happens to hold (a GP opening
        # the link on their own phone) grants nothing there and needs no CSRF token.
        if session_token and not request.path.startswith("/api/v1/patient/"):
            expected = csrf_token_for(request.app[CSRF_KEY], session_token)
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(expected.encode(), given.encode()):
                raise CsrfFailed()
    return await handler(request)


def _is_upload(request: web.Request) -> bool:
    # Photo uploads stream with their own cap (max_upload_bytes) in the upload handler.
    return request.method == "POST" and (
        (request.path.startswith("/api/v1/cases/") and request.path.endswith("/attachments"))
        or request.path == "/api/v1/patient/attachments"
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers on every response (``docs/api.md``, "Conventions")."""
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
    if request.path.startswith("/api/"):
        h.setdefault("Cache-Control", "no-store")
    if request.app[SETTINGS].https:
        h.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
