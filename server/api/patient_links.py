"""Patient photo link routes (docs/api.md "Patient photo links").

GP side (session): create, list, revoke a link; fetch what the patient sent. Patient side
(no session, no CSRF cookie): the token travels in ``X-Dermline-Link-Token`` (unpadded
base64url of 32 bytes), never in the URL, so it stays out of access logs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from aiohttp import web

from server.api.http import Route, client, current, parse, reply
from server.api.keys import SERVICES
from server.api.uploads import upload_request
from server.netaddr import rate_limit_key
from server.wire import schemas as s
from server.wire.render import attachment_out, link_out

__all__ = ["LINK_TOKEN_HEADER", "ROUTES"]

LINK_TOKEN_HEADER = "X-Dermline-Link-Token"  # noqa: S105 (a header name, not a secret)


def _token(request: web.Request) -> bytes:
    """The link token from its header; an unreadable one is simply not a valid token
    (the domain answers ``link_invalid``), so a probe learns nothing from the format."""
    raw = request.headers.get(LINK_TOKEN_HEADER, "")
    if len(raw) != 43:
        return b""
    try:
        return base64.urlsafe_b64decode(raw + "=")
    except (binascii.Error, ValueError):
        return b""


def _rate_key(request: web.Request) -> str:
    return rate_limit_key(client(request))


# ---------------------------------------------------------------- GP side


async def create_link(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.PatientLinkCreate)
    svc = request.app[SERVICES]
    made = await svc.patient_links.create(
        auth.actor,
        request.match_info["case_id"],
        ttl=dt.timedelta(minutes=b.ttl_minutes),
        max_photos=b.max_photos,
        client=client(request),
    )
    return reply(
        s.PatientLinkCreated(link=link_out(made.link, svc.clock.now()), token=made.token),
        status=201,
    )


async def list_links(request: web.Request) -> web.Response:
    auth = await current(request)
    svc = request.app[SERVICES]
    links = await svc.patient_links.links(auth.actor, request.match_info["case_id"])
    now = svc.clock.now()
    return reply(s.PatientLinkList(links=[link_out(x, now) for x in links]))


async def revoke_link(request: web.Request) -> web.Response:
    auth = await current(request)
    svc = request.app[SERVICES]
    link = await svc.patient_links.revoke(
        auth.actor, request.match_info["case_id"], request.match_info["link_id"], client(request)
    )
    return reply(link_out(link, svc.clock.now()))


async def get_submission(request: web.Request) -> web.Response:
    auth = await current(request)
    svc = request.app[SERVICES]
    link, records = await svc.patient_links.submission(
        auth.actor, request.match_info["case_id"], request.match_info["link_id"], client(request)
    )
    return reply(s.PatientSubmissionOut(link=link_out(link, svc.clock.now()), records=records))


# ---------------------------------------------------------------- patient side


async def patient_open(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    view = await svc.patient_links.open(_token(request), _rate_key(request), client(request))
    return reply(
        s.PatientLinkInfo(
            link_id=view.link_id, expires_at=view.expires_at, max_photos=view.max_photos
        )
    )


async def patient_upload(request: web.Request) -> web.Response:
    """Raw ciphertext body; ``X-Attachment-Id`` (UUID) and ``X-Ciphertext-SHA256`` (hex).
    201 when stored, 200 with the same body when it is a retry of a stored upload."""
    svc = request.app[SERVICES]
    up = upload_request(request, svc.settings.max_upload_bytes)
    stored = await svc.patient_links.upload(
        _token(request),
        up.attachment_id,
        up.declared_sha256,
        up.chunks,
        declared_length=up.length,
        max_size=svc.settings.max_upload_bytes,
        rate_key=_rate_key(request),
        client=client(request),
    )
    return reply(attachment_out(stored.attachment), status=201 if stored.created else 200)


async def patient_submit(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    b = await parse(request, s.PatientSubmitRequest)
    await svc.patient_links.submit(
        _token(request), list(b.records), _rate_key(request), client(request)
    )
    return reply(s.PatientSubmitResult(received=len(b.records)), status=201)


V1 = "/api/v1"
L = f"{V1}/cases/{{case_id}}/patient-links"
P = f"{V1}/patient"
ROUTES = [
    Route(
        "POST",
        L,
        create_link,
        "Make a one-time patient photo link (referring GP, open case)",
        s.PatientLinkCreate,
        s.PatientLinkCreated,
        status=201,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "GET",
        L,
        list_links,
        "The case's patient links, newest first",
        None,
        s.PatientLinkList,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{L}/{{link_id}}/revoke",
        revoke_link,
        "Revoke an unused patient link (referring GP)",
        None,
        s.PatientLinkOut,
        errors=(401, 403, 404, 409),
    ),
    Route(
        "GET",
        f"{L}/{{link_id}}/submission",
        get_submission,
        "The patient's encrypted photo records (empty until used)",
        None,
        s.PatientSubmissionOut,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{P}/link",
        patient_open,
        "Patient: check a link token (header X-Dermline-Link-Token)",
        None,
        s.PatientLinkInfo,
        auth="none",
        errors=(403, 410, 429),
    ),
    Route(
        "POST",
        f"{P}/attachments",
        patient_upload,
        "Patient: upload one encrypted photo or thumbnail (streamed, size-capped)",
        None,
        s.AttachmentOut,
        status=201,
        also=(200,),
        auth="none",
        binary_request=True,
        errors=(400, 403, 409, 410, 411, 413, 415, 422, 429),
    ),
    Route(
        "POST",
        f"{P}/submit",
        patient_submit,
        "Patient: send the photo records and use up the link",
        s.PatientSubmitRequest,
        s.PatientSubmitResult,
        status=201,
        auth="none",
        errors=(403, 410, 422, 429),
    ),
]
