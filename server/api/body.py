"""Reading a JSON request body under the stall timeout (``DERMLINE_BODY_READ_TIMEOUT``).

A client that sends its headers and then stops (or trickles nothing) would otherwise hold
its request, and the handler waiting on it, for as long as the connection lives; one that
gives up half-way would surface as a payload error from aiohttp's stream reader, answered
``internal``. Here the first is ``408 request_timeout`` (``server.errors.RequestTimeout``;
the error mapper then closes the connection) and the second ``400 bad_request``. Photo
uploads stream instead and apply the same timeout between chunks (``server/api/uploads.py``).
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from server.api.keys import SETTINGS
from server.errors import DomainError, RequestTimeout

__all__ = ["read_body"]


async def read_body(request: web.Request) -> bytes:
    """The whole body (capped by the app's ``client_max_size``: 413), unless no byte of it
    arrives for the timeout (0: no limit). A client that keeps sending, however slowly, is
    not cut off (the cap bounds what it can make us hold); a stall is noticed between one
    and two timeouts after the last byte."""
    stall = request.app[SETTINGS].body_read_timeout
    reading = asyncio.ensure_future(request.read())
    seen = request.content.total_bytes
    try:
        while True:
            done, _ = await asyncio.wait({reading}, timeout=stall if stall > 0 else None)
            if done:
                return reading.result()
            if request.content.total_bytes == seen:
                raise RequestTimeout()
            seen = request.content.total_bytes
    except (HttpProcessingError, aiohttp.ClientError, ConnectionError):
        raise DomainError("the request body ended before its declared length") from None
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading
