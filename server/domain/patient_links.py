"""Patient photo links (docs/protocol.md section 17; docs/api.md).

Rules
-----
1. Only the referring GP makes or revokes a link, while the case is open
   (``policy.CaseAction.PATIENT_LINK``). The server makes the 256-bit token, stores only its
   SHA-256 and returns the token once; the drop-box key pair is the GP client's and the
   server never sees either half in a form it can use (the private half is inside an
   end-to-end encrypted thread message; the public half is in the URL fragment).
2. The patient routes take the token in the ``X-Dermline-Link-Token`` header, never in a
   URL, so it stays out of access logs. Unknown, used, revoked or expired tokens, or a case
   no longer open, all answer one ``link_invalid`` (``policy.check_patient_link``); the
   refusal is audited without the token.
3. Rate limits: per client address (before the lookup, so guessing tokens is slow) and per
   link (so a leaked link cannot be hammered from many addresses).
4. Uploads are counted against the link (two blobs per photo, the photo and its thumbnail,
   plus a few retries) with a compare-and-set in storage; the submission is single use (the first
   completed one wins, also across nodes) and its drop records are checked for shape, link
   id and distinct indices 0..n-1 without any key.
5. A submission notifies the case room; it never changes the case state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import dataclass

import storage
from crypto.errors import PatientDropError
from crypto.patient_drop import parse_patient_photo_header
from server.domain.attachments import Stored, store_attachment
from server.domain.cases import CaseService
from server.domain.clock import Clock
from server.domain.lifecycle import OPEN_STATES
from server.domain.policy import Actor, CaseAction, PatientLinkFacts, check_patient_link
from server.errors import Conflict, InvalidInput, LinkInvalid, NotFound
from server.ratelimit import RateLimiter

__all__ = [
    "MAX_PHOTOS",
    "MAX_TTL",
    "MIN_TTL",
    "NewPatientLink",
    "PatientLinkService",
    "PatientLinkView",
    "link_status",
    "token_hash",
]

MIN_TTL = dt.timedelta(minutes=15)
MAX_TTL = dt.timedelta(days=3)
MAX_PHOTOS = 10
#: The patient uploads two blobs per photo: the prepared photo and its thumbnail. An upload
#: is counted before its body is read (so racing uploads cannot pass the cap), which makes a
#: failed attempt count too; a few spare uploads let a phone on a poor network retry.
BLOBS_PER_PHOTO = 2
RETRY_ALLOWANCE = 4

PatientPhotosListener = Callable[[storage.Case, storage.PatientLink], Awaitable[None]]


def token_hash(token: bytes) -> bytes:
    """What the database holds instead of the token (as for invites)."""
    return hashlib.sha256(b"dermline/v1/patient-link-token\x00" + token).digest()


def link_status(link: storage.PatientLink, now: dt.datetime) -> str:
    """``used``, ``revoked``, ``expired`` or ``active``, in that order of precedence."""
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "revoked"
    if now >= link.expires_at:
        return "expired"
    return "active"


@dataclass(frozen=True)
class NewPatientLink:
    """A link just made: the token is returned once and never stored."""

    link: storage.PatientLink
    token: bytes


@dataclass(frozen=True)
class PatientLinkView:
    """What the patient's page may learn after presenting a valid token."""

    link_id: str
    expires_at: dt.datetime
    max_photos: int


class PatientLinkService:
    def __init__(
        self,
        store: storage.Storage,
        clock: Clock,
        cases: CaseService,
        *,
        address_limiter: RateLimiter,
        link_limiter: RateLimiter,
    ) -> None:
        self._store = store
        self._clock = clock
        self._cases = cases
        self._address_limiter = address_limiter
        self._link_limiter = link_limiter
        #: Set by the real-time layer at start-up: tells the case room photos arrived.
        self.on_patient_photos: PatientPhotosListener | None = None

    async def _audit(
        self, action: str, actor_id: str | None, target: str | None, client: str | None
    ) -> None:
        await self._store.append_audit(
            storage.AuditEvent(
                action=action,
                occurred_at=self._clock.now(),
                actor_id=actor_id,
                target=target,
                client_address=client,
            )
        )

    # ------------------------------------------------------------------ GP side

    async def create(
        self,
        actor: Actor,
        case_id: str,
        *,
        ttl: dt.timedelta,
        max_photos: int,
        client: str | None,
    ) -> NewPatientLink:
        await self._cases.load(actor, case_id, CaseAction.PATIENT_LINK)
        if not MIN_TTL <= ttl <= MAX_TTL:
            raise InvalidInput("the link must last between 15 minutes and 3 days")
        if not 1 <= max_photos <= MAX_PHOTOS:
            raise InvalidInput("a link takes 1 to 10 photos")
        now = self._clock.now()
        token = secrets.token_bytes(32)
        link = await self._store.create_patient_link(
            storage.PatientLink(
                link_id=str(uuid.uuid4()),
                case_id=case_id,
                token_hash=token_hash(token),
                created_by=actor.user_id,
                created_at=now,
                expires_at=now + ttl,
                max_photos=max_photos,
            )
        )
        await self._audit("patient_link.create", actor.user_id, case_id, client)
        return NewPatientLink(link=link, token=token)

    async def links(self, actor: Actor, case_id: str) -> list[storage.PatientLink]:
        await self._cases.load(actor, case_id, CaseAction.VIEW)
        return await self._store.list_patient_links(case_id)

    async def _own_link(self, case_id: str, link_id: str) -> storage.PatientLink:
        try:
            link = await self._store.get_patient_link(link_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if link.case_id != case_id:
            raise NotFound()
        return link

    async def revoke(
        self, actor: Actor, case_id: str, link_id: str, client: str | None
    ) -> storage.PatientLink:
        await self._cases.load(actor, case_id, CaseAction.PATIENT_LINK)
        await self._own_link(case_id, link_id)
        try:
            link = await self._store.revoke_patient_link(link_id, self._clock.now())
        except storage.Conflict:
            raise Conflict("the patient has already used this link") from None
        await self._audit("patient_link.revoke", actor.user_id, case_id, client)
        return link

    async def submission(
        self, actor: Actor, case_id: str, link_id: str, client: str | None
    ) -> tuple[storage.PatientLink, list[bytes]]:
        """The drop records the patient sent (opaque to the server)."""
        await self._cases.load(actor, case_id, CaseAction.VIEW)
        link = await self._own_link(case_id, link_id)
        records = await self._store.get_patient_submission(link_id)
        await self._audit("patient_link.view", actor.user_id, case_id, client)
        return link, records

    # ------------------------------------------------------------------ patient side

    async def _usable(self, token: bytes, rate_key: str, client: str | None) -> storage.PatientLink:
        """The link for ``token`` if it may be used now; else audited :class:`LinkInvalid`."""
        self._address_limiter.hit("patient_link", rate_key)
        link: storage.PatientLink | None = None
        facts: PatientLinkFacts | None = None
        if len(token) == 32:
            try:
                link = await self._store.find_patient_link(token_hash(token))
            except storage.NotFound:
                link = None
        if link is not None:
            self._link_limiter.hit("patient_link", link.link_id)
            case = await self._store.get_case(link.case_id)
            facts = PatientLinkFacts(
                used=link.used_at is not None,
                revoked=link.revoked_at is not None,
                expired=self._clock.now() >= link.expires_at,
                case_open=case.state in OPEN_STATES,
            )
        try:
            check_patient_link(facts)
        except LinkInvalid:
            # Audited with the link id when there is one, never with the token.
            await self._audit(
                "patient_link.refused", None, None if link is None else link.link_id, client
            )
            raise
        assert link is not None
        return link

    async def open(self, token: bytes, rate_key: str, client: str | None) -> PatientLinkView:
        link = await self._usable(token, rate_key, client)
        await self._audit("patient_link.open", None, link.link_id, client)
        return PatientLinkView(link.link_id, link.expires_at, link.max_photos)

    async def upload(
        self,
        token: bytes,
        attachment_id: str,
        declared_sha256: bytes,
        chunks: AsyncIterable[bytes],
        *,
        declared_length: int,
        max_size: int,
        rate_key: str,
        client: str | None,
    ) -> Stored:
        """Store one encrypted photo or thumbnail of the patient in the link's case, as an
        attachment whose uploader is the link (the server never decodes it). Checks and
        idempotent retry: ``server.domain.attachments``; every attempt counts against the
        link's upload allowance, retries included (they cost a stream like any upload)."""
        link = await self._usable(token, rate_key, client)
        try:
            await self._store.count_patient_upload(
                link.link_id, self._clock.now(), link.max_photos * BLOBS_PER_PHOTO + RETRY_ALLOWANCE
            )
        except storage.Conflict as exc:
            if exc.reason == "patient_link_full":
                raise Conflict("this link takes no more photos") from None
            raise LinkInvalid() from None
        stored = await store_attachment(
            self._store,
            attachment_id=attachment_id,
            case_id=link.case_id,
            uploader_id=link.link_id,
            declared_sha256=declared_sha256,
            declared_length=declared_length,
            chunks=chunks,
            max_size=max_size,
            now=self._clock.now(),
        )
        if stored.created:
            await self._audit("patient_link.upload", None, link.link_id, client)
        return stored

    async def submit(
        self, token: bytes, records: Sequence[bytes], rate_key: str, client: str | None
    ) -> storage.PatientLink:
        """Complete the link with one drop record per photo (single use)."""
        link = await self._usable(token, rate_key, client)
        if not 1 <= len(records) <= link.max_photos:
            raise InvalidInput("send between one photo and the link's limit")
        indices = set()
        for record in records:
            try:
                header = parse_patient_photo_header(record)
            except PatientDropError:
                raise InvalidInput("a photo record is malformed") from None
            if str(header.link_id) != link.link_id:
                raise InvalidInput("a photo record was made for another link")
            indices.add(header.index)
        # Distinct and dense: the readers can tell a dropped or duplicated record.
        if indices != set(range(len(records))):
            raise InvalidInput("photo records must be numbered 0, 1, 2, ...")
        try:
            used = await self._store.submit_patient_link(link.link_id, records, self._clock.now())
        except storage.Conflict:
            await self._audit("patient_link.refused", None, link.link_id, client)
            raise LinkInvalid() from None
        await self._audit("patient_link.submit", None, link.link_id, client)
        listener = self.on_patient_photos
        if listener is not None:
            await listener(await self._store.get_case(link.case_id), used)
        return used
