"""The HTTP half of a photo upload, shared by the case and patient-link upload routes.

Everything that can be refused from the headers alone is refused here, before a byte of
the body is read (photos travel over HTTP with a Content-Length and a hard size cap,
``docs/api.md``, "Photos"): the media type (415), a missing ``Content-Length`` such as a chunked
upload (411 ``length_required``), a declared length over the cap (413), malformed
``X-Attachment-Id`` / ``X-Ciphertext-SHA256`` (400 ``invalid_header``). The body is then
streamed to the domain (``server.domain.attachments``) by :func:`body_chunks`, which turns a
connection closed mid-body into ``upload_incomplete`` and a body from which no byte arrives
for ``DERMLINE_BODY_READ_TIMEOUT`` seconds into ``request_timeout`` (408); either way the
blob store removes what it wrote so far as the error passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from server.api.keys import SETTINGS
from server.domain.attachments import check_upload_headers
from server.errors import (
    LengthRequired,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    UploadIncomplete,
)

__all__ = ["READ_CHUNK", "UploadRequest", "upload_request"]

#: how much of the body is read per step (the blob store re-chunks at its own size)
READ_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class UploadRequest:
    attachment_id: str
    declared_sha256: bytes
    length: int
    chunks: AsyncIterator[bytes]


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The body, chunk by chunk; a body cut short becomes :class:`UploadIncomplete`, a body
    that stalls for the body read timeout :class:`RequestTimeout`.

    aiohttp reports a peer that closed before ``Content-Length`` bytes arrived as a payload
    error from the stream reader (``ContentLengthError``, an ``HttpProcessingError``) or a
    connection error; the blob store then removes its temp file as the error passes. Each
    read returns as soon as any bytes are there, so its timeout is the longest silence."""
    stall = request.app[SETTINGS].body_read_timeout
    try:
        while True:
            try:
                async with asyncio.timeout(stall if stall > 0 else None):
                    chunk = await request.content.read(READ_CHUNK)
            except TimeoutError:
                raise RequestTimeout() from None
            if not chunk:
                return
            yield chunk
    except (HttpProcessingError, aiohttp.ClientError, ConnectionError):
        raise UploadIncomplete() from None


def upload_request(request: web.Request, limit: int) -> UploadRequest:
    """Check an upload's headers (see the module doc) and return what the domain needs."""
    if request.content_type != "application/octet-stream":
        raise UnsupportedMediaType("send the encrypted photo as application/octet-stream")
    length = request.content_length
    if length is None:
        raise LengthRequired()
    if length > limit:
        raise PayloadTooLarge("the photo is larger than the limit")
    declared = check_upload_headers(
        request.headers.get("X-Attachment-Id", ""),
        request.headers.get("X-Ciphertext-SHA256", ""),
    )
    return UploadRequest(
        attachment_id=request.headers.get("X-Attachment-Id", ""),
        declared_sha256=declared,
        length=length,
        chunks=body_chunks(request),
    )
