"""Case routes under /api/v1: create, queue, view, thread, moves, close, downgrade, receipts,
sharing the case key with service colleagues."""

from __future__ import annotations

from aiohttp import web

from server.api.http import (
    Route,
    client,
    current,
    parse,
    query_int,
    reply,
)
from server.api.keys import SERVICES
from server.api.uploads import upload_request
from server.domain.cases import NewCaseRequest, SharedWrap, ThreadMessage, WrapIn
from server.domain.outcomes import Urgency
from server.domain.policy import CaseAction
from server.domain.records import Case, Page
from server.wire import schemas as s
from server.wire.render import (
    attachment_out,
    case_detail_out,
    case_out,
    message_out,
    receipt_out,
)

__all__ = ["ROUTES"]


def _page(page: Page[Case]) -> s.CaseList:
    return s.CaseList(cases=[case_out(c) for c in page.items], next_cursor=page.next_cursor)


async def create_case(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.CreateCaseRequest)
    case = await request.app[SERVICES].cases.create(
        auth.actor,
        NewCaseRequest(
            case_id=b.case_id,
            practice_id=b.practice_id,
            service_id=b.service_id,
            priority=b.priority,
            participants=b.participants,
            case_keys=[
                WrapIn(k.recipient_kind, k.recipient_id, k.wrapped_key) for k in b.case_keys
            ],
            draft=b.draft,
        ),
        client(request),
    )
    return reply(case_out(case), status=201)


async def share_case_keys(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.ShareCaseKeysRequest)
    case_id = request.match_info["case_id"]
    added = await request.app[SERVICES].cases.share_keys(
        auth.actor,
        case_id,
        [SharedWrap(k.recipient_id, k.wrapped_key) for k in b.case_keys],
        client(request),
    )
    return reply(s.SharedCaseKeysOut(case_id=case_id, added=added), status=201)


async def my_cases(request: web.Request) -> web.Response:
    auth = await current(request)
    page = await request.app[SERVICES].cases.mine(
        auth.actor,
        limit=query_int(request, "limit", 50, 1, 200),
        cursor=request.query.get("cursor"),
    )
    return reply(_page(page))


async def queue(request: web.Request) -> web.Response:
    auth = await current(request)
    page = await request.app[SERVICES].cases.queue(
        auth.actor,
        request.match_info["service_id"],
        limit=query_int(request, "limit", 50, 1, 200),
        cursor=request.query.get("cursor"),
    )
    return reply(_page(page))


async def get_case(request: web.Request) -> web.Response:
    auth = await current(request)
    view = await request.app[SERVICES].cases.view(
        auth.actor, request.match_info["case_id"], client(request)
    )
    return reply(case_detail_out(view))


async def remove_participant(request: web.Request) -> web.Response:
    auth = await current(request)
    await request.app[SERVICES].cases.remove_participant(
        auth.actor, request.match_info["case_id"], request.match_info["user_id"], client(request)
    )
    return reply(None)


async def new_epoch(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.EpochRequest)
    view = await request.app[SERVICES].cases.rotate(
        auth.actor,
        request.match_info["case_id"],
        b.epoch,
        [WrapIn(k.recipient_kind, k.recipient_id, k.wrapped_key) for k in b.case_keys],
        client(request),
    )
    return reply(case_detail_out(view))


async def list_messages(request: web.Request) -> web.Response:
    auth = await current(request)
    msgs = await request.app[SERVICES].cases.messages(
        auth.actor,
        request.match_info["case_id"],
        after_seq=query_int(request, "after_seq", 0, 0, 2**62),
        limit=query_int(request, "limit", 500, 1, 1000),
    )
    return reply(s.MessageList(messages=[message_out(m) for m in msgs]))


async def post_message(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.MessageIn)
    result = await request.app[SERVICES].cases.send(
        auth.actor, request.match_info["case_id"], b.client_msg_id, b.envelope, client(request)
    )
    return reply(
        s.SendResult(seq=result.message.seq, duplicate=not result.created),
        status=201 if result.created else 200,
    )


def _mover(action: CaseAction):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        auth = await current(request)
        b = await parse(request, s.TransitionRequest) if request.can_read_body else None
        message = None
        if b is not None and b.message is not None:
            message = ThreadMessage(b.message.client_msg_id, b.message.envelope)
        case = await request.app[SERVICES].cases.move(
            auth.actor, request.match_info["case_id"], action, client(request), message=message
        )
        return reply(case_out(case))

    handler.__name__ = f"case_{action.value}"
    return handler


async def close_case(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.CloseRequest)
    o = b.outcome
    case = await request.app[SERVICES].cases.close(
        auth.actor,
        request.match_info["case_id"],
        category=o.category,
        urgency=o.urgency,
        destination=o.destination,
        reasons=o.reasons,
        payload=o.payload,
        client=client(request),
        retain_until=None if b.retention is None else b.retention.retain_until,
    )
    return reply(case_out(case))


async def downgrade_outcome(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.DowngradeRequest)
    case = await request.app[SERVICES].cases.downgrade(
        auth.actor,
        request.match_info["case_id"],
        Urgency(b.urgency),
        b.reason.client_msg_id,
        b.reason.envelope,
        client(request),
    )
    return reply(case_out(case))


async def list_receipts(request: web.Request) -> web.Response:
    auth = await current(request)
    receipts = await request.app[SERVICES].cases.receipts(auth.actor, request.match_info["case_id"])
    return reply(s.ReceiptList(receipts=[receipt_out(r) for r in receipts]))


async def post_receipt(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.ReceiptIn)
    r = await request.app[SERVICES].cases.receipt(
        auth.actor, request.match_info["case_id"], b.kind, b.seq
    )
    return reply(receipt_out(r))


async def upload_attachment(request: web.Request) -> web.Response:
    """Raw ciphertext body; ``X-Attachment-Id`` (UUID) and ``X-Ciphertext-SHA256`` (hex).
    201 when stored, 200 with the same body when it is a retry of a stored upload."""
    auth = await current(request)
    svc = request.app[SERVICES]
    up = upload_request(request, svc.settings.max_upload_bytes)
    stored = await svc.cases.upload(
        auth.actor,
        request.match_info["case_id"],
        up.attachment_id,
        up.declared_sha256,
        up.chunks,
        declared_length=up.length,
        max_size=svc.settings.max_upload_bytes,
        client=client(request),
    )
    return reply(attachment_out(stored.attachment), status=201 if stored.created else 200)


async def list_attachments(request: web.Request) -> web.Response:
    auth = await current(request)
    items = await request.app[SERVICES].cases.attachments(auth.actor, request.match_info["case_id"])
    return reply(s.AttachmentList(attachments=[attachment_out(a) for a in items]))


async def download_attachment(request: web.Request) -> web.StreamResponse:
    auth = await current(request)
    attachment, chunks = await request.app[SERVICES].cases.download(
        auth.actor,
        request.match_info["case_id"],
        request.match_info["attachment_id"],
        client(request),
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": str(attachment.size),
            "X-Ciphertext-SHA256": attachment.ciphertext_sha256.hex(),
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


V1 = "/api/v1"
C = f"{V1}/cases/{{case_id}}"
_MOVES = [
    (CaseAction.SUBMIT, "Submit a draft (referring GP)"),
    (CaseAction.CLAIM, "Claim a submitted case (service dermatologist)"),
    (CaseAction.ASK, "Ask a question or request a retake (responder)"),
    (CaseAction.ANSWER, "Answer (referring GP)"),
    (CaseAction.WITHDRAW, "Withdraw (referring GP)"),
    (CaseAction.RESUBMIT, "Resubmit after an image rejection (referring GP)"),
]
ROUTES = [
    Route(
        "POST",
        f"{V1}/cases",
        create_case,
        "Open a case (GP)",
        s.CreateCaseRequest,
        s.CaseOut,
        status=201,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "GET",
        f"{V1}/cases",
        my_cases,
        "Cases I take part in",
        None,
        s.CaseList,
        query=(("limit", "integer"), ("cursor", "string")),
        errors=(401, 422),
    ),
    Route(
        "GET",
        f"{V1}/services/{{service_id}}/queue",
        queue,
        "The service's triage queue (urgent first, then oldest)",
        None,
        s.CaseList,
        query=(("limit", "integer"), ("cursor", "string")),
        errors=(401, 403, 404, 422),
    ),
    Route(
        "GET",
        C,
        get_case,
        "A case with my wrapped keys and the outcome",
        None,
        s.CaseDetail,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{C}/keys",
        share_case_keys,
        "Share the case key with service dermatologists who are not participants (participant)",
        s.ShareCaseKeysRequest,
        s.SharedCaseKeysOut,
        status=201,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "POST",
        f"{C}/participants/{{user_id}}/remove",
        remove_participant,
        "Take a dermatologist off the case (the referring GP or the responder); the case"
        " then needs a new epoch",
        None,
        None,
        status=204,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{C}/epochs",
        new_epoch,
        "Start the next case key epoch (compare-and-set; any participant holding the key)",
        s.EpochRequest,
        s.CaseDetail,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "GET",
        f"{C}/messages",
        list_messages,
        "Thread replay after a sequence number",
        None,
        s.MessageList,
        query=(("after_seq", "integer"), ("limit", "integer")),
        errors=(401, 403, 404, 422),
    ),
    Route(
        "POST",
        f"{C}/messages",
        post_message,
        "Send (idempotent by client_msg_id)",
        s.MessageIn,
        s.SendResult,
        status=201,
        also=(200,),  # a retry of a stored message (duplicate: true)
        errors=(401, 403, 404, 409, 422),
    ),
    *[
        Route(
            "POST",
            f"{C}/{action.value}",
            _mover(action),
            summary,
            s.TransitionRequest,
            s.CaseOut,
            errors=(401, 403, 404, 409, 422),
        )
        for action, summary in _MOVES
    ],
    Route(
        "POST",
        f"{C}/close",
        close_case,
        "Close with an outcome (responder)",
        s.CloseRequest,
        s.CaseOut,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "POST",
        f"{C}/outcome/downgrade",
        downgrade_outcome,
        "Lower a two-week-wait referral, with the reason as a thread message (referring GP)",
        s.DowngradeRequest,
        s.CaseOut,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "POST",
        f"{C}/attachments",
        upload_attachment,
        "Upload a photo's ciphertext (streamed, size-capped)",
        None,
        s.AttachmentOut,
        status=201,
        also=(200,),
        binary_request=True,
        errors=(400, 401, 403, 404, 409, 411, 413, 415, 422),
    ),
    Route(
        "GET",
        f"{C}/attachments",
        list_attachments,
        "The case's attachments",
        None,
        s.AttachmentList,
        errors=(401, 403, 404),
    ),
    Route(
        "GET",
        f"{C}/attachments/{{attachment_id}}",
        download_attachment,
        "Download a photo's ciphertext",
        None,
        None,
        binary_response=True,
        errors=(401, 403, 404),
    ),
    Route(
        "GET",
        f"{C}/receipts",
        list_receipts,
        "Delivery and read receipts",
        None,
        s.ReceiptList,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{C}/receipts",
        post_receipt,
        "Record a delivery or read receipt",
        s.ReceiptIn,
        s.ReceiptOut,
        errors=(401, 403, 404, 422),
    ),
]
