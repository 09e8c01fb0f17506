"""Case service: create, triage queue, claim, thread, ask/answer, withdraw, close, downgrade.

Three layers (STYLE): ``server/api/cases.py`` and ``server/realtime/`` parse and validate,
this module decides (policy, lifecycle, outcome rules, key-wrap checks) and calls storage
once per unit of work; storage does the compare-and-set.

Rules
-----
* Create (GP): the case key of epoch 0 must be wrapped to every participant's account
  encryption key *and* to the practice's records key (records are never
  lost), each wrap signed by the creating GP. The server checks this from the wraps' clear
  headers (``crypto.case_key.parse_case_key_wrap_header`` / ``verify_case_key_wrap``)
  without any key; a case without the records-key wrap is refused.
* Every wrap of the epoch must be a committed wrap (type 0x0b) and all must carry the same
  key commitment (docs/protocol.md section 8), so the records key and every participant are
  given the same case key: ``case_key_mismatch`` otherwise. Legacy 0x06 wraps (no
  commitment) are refused for new cases; stored ones are still served to their readers.
* Participants at creation are the GP and the service dermatologists the GP addressed
  (their public keys come from the service directory); the claim picks the responder.
* Sharing (``share_keys``): a participant who holds a wrap of epoch 0 wraps the same case
  key to dermatologists of the case's service who are not participants yet (they joined
  the service later). Each wrap is checked as at creation (signed by the caller, 0x0b,
  this case, epoch 0, addressed to the recipient's encryption key) and its commitment
  must equal the epoch's stored commitment (``case_key_mismatch``), so a sharer cannot
  give a newcomer another key. Recipients become participants (dermatologist) in the same
  transaction as their wraps. Same epoch: joining is no reason for a new key; only a
  removal would be, and removal and rotation are not built.
* Messages are appended with the client's message id (idempotent) and a per-case sequence
  number assigned in the same transaction (DESIGN section 6); the publisher is told only
  after the commit, so nothing is announced that could still be lost.
* The outcome's coded part (category, urgency, destination, reason codes) is in the
  clear; its clinical content is the client's encrypted payload.
* Downgrade: only the referring GP lowers a closed two-week-wait
  referral's urgency (``outcomes.downgrade``). The GP's reason is a thread message (end-to-end
  encrypted, appended first, idempotent by its id); the new coded outcome is then stored with
  compare-and-set on the stored record, keeping the dermatologist's encrypted content and
  recording the original urgency, who lowered it, when, and the reason message's id. The
  audit entry ``case.downgrade`` carries the old and new urgency codes only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import struct
import uuid
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Protocol

import storage
from crypto.case_key import (
    CaseKeyWrapHeader,
    parse_case_key_wrap_header,
    verify_case_key_wrap,
)
from crypto.content import ContentType
from crypto.envelope import parse_message_header, verify_message_signature
from crypto.errors import CryptoError
from crypto.fingerprint import key_id
from server.domain.attachments import Stored, store_attachment
from server.domain.clock import Clock
from server.domain.directory import CaseProofs
from server.domain.lifecycle import TRANSITIONS, CaseEvent, Party
from server.domain.outcomes import (
    Destination,
    Outcome,
    RejectionReason,
    Urgency,
    check_resubmit,
    downgrade,
    make_outcome,
)
from server.domain.policy import (
    Actor,
    CaseAction,
    CaseFacts,
    check_case,
    check_create_case,
    check_queue,
)
from server.domain.retention import check_retain_until
from server.errors import (
    CaseKeyMismatch,
    Conflict,
    DomainError,
    EnvelopeOutdated,
    EpochConflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    KeyRotationRequired,
    NotFound,
    SignatureInvalid,
    StaleEpoch,
    WrapOutdated,
    WrapRecipients,
)
from storage import OutcomeCategory, Role

__all__ = [
    "CaseChange",
    "CaseReplay",
    "CaseService",
    "CaseView",
    "Downgrade",
    "NewCaseRequest",
    "NullPublisher",
    "Publisher",
    "Rotation",
    "SharedWrap",
    "StoredOutcome",
    "ThreadMessage",
    "WrapIn",
]


class Publisher(Protocol):
    """What the real-time layer is told after a commit (implemented in server/realtime)."""

    async def message_appended(self, case: storage.Case, message: storage.Message) -> None: ...

    async def case_changed(self, change: CaseChange) -> None: ...

    async def participants_removed(self, case_id: str, user_ids: Sequence[str]) -> None:
        """People taken off a case: they hear nothing more of it (their sockets leave the
        case room; the policy refuses their later requests)."""
        ...


class NullPublisher:
    async def message_appended(self, case: storage.Case, message: storage.Message) -> None:
        return None

    async def case_changed(self, change: CaseChange) -> None:
        return None

    async def participants_removed(self, case_id: str, user_ids: Sequence[str]) -> None:
        return None


@dataclass(frozen=True)
class WrapIn:
    recipient_kind: str  # "user" | "organisation"
    recipient_id: str
    wrapped_key: bytes


@dataclass(frozen=True)
class SharedWrap:
    """A wrap of an existing epoch's case key to a colleague who is not a participant yet."""

    recipient_id: str
    wrapped_key: bytes


@dataclass(frozen=True)
class ThreadMessage:
    """An end-to-end encrypted message for the thread: the client's id and its envelope."""

    client_msg_id: str
    envelope: bytes


@dataclass(frozen=True)
class NewCaseRequest:
    case_id: str
    practice_id: str
    service_id: str
    priority: str
    participants: Sequence[str]
    case_keys: Sequence[WrapIn]
    draft: bool = False


@dataclass(frozen=True)
class Downgrade:
    """How a two-week-wait referral was lowered: the decision it replaced stays visible."""

    from_urgency: Urgency
    by: str
    at: dt.datetime
    reason_msg_id: str  # the thread message (client_msg_id) carrying the GP's reason


@dataclass(frozen=True)
class StoredOutcome:
    outcome: Outcome
    payload: bytes
    author_id: str
    created_at: dt.datetime
    downgrade: Downgrade | None = None


@dataclass(frozen=True)
class Rotation:
    """A case that needs a new epoch: the epoch that must come next and who was taken off
    since the current one began (docs/protocol.md section 24)."""

    next_epoch: int
    removed: tuple[str, ...]


def rotation_of(case: storage.Case, removals: Sequence[storage.CaseRemoval]) -> Rotation | None:
    """Required while someone was removed at the case's current epoch; a new epoch (or a
    voluntary one) moves the case past every earlier removal."""
    removed = tuple(r.user_id for r in removals if r.epoch == case.key_epoch)
    return Rotation(case.key_epoch + 1, removed) if removed else None


@dataclass(frozen=True)
class CaseView:
    case: storage.Case
    participants: list[tuple[storage.Participant, storage.User]]
    case_keys: list[storage.WrappedCaseKey]
    outcome: StoredOutcome | None
    removals: tuple[storage.CaseRemoval, ...] = ()
    #: the log references a reader checks the keys against (``CaseService`` is given a
    #: ``prove`` function by the service graph: ``DirectoryService.case_proofs``)
    proofs: CaseProofs | None = None

    @property
    def rotation(self) -> Rotation | None:
        return rotation_of(self.case, self.removals)


@dataclass(frozen=True)
class CaseChange:
    """What the publisher is told after a case changed: the case, its coded outcome, and
    its participants (each hears it in their own room, so a new case can be joined)."""

    case: storage.Case
    outcome: StoredOutcome | None
    participant_ids: tuple[str, ...]


@dataclass(frozen=True)
class CaseReplay:
    """One case of a replay (``CaseService.replay``): the case, its coded outcome, the
    messages after the asked sequence number, and whether more follow."""

    case: storage.Case
    outcome: StoredOutcome | None
    messages: list[storage.Message]
    more: bool


_OUTCOME_MAGIC = b"DLO1"


def encode_outcome_record(
    outcome: Outcome, payload: bytes, downgrade: Downgrade | None = None
) -> bytes:
    """The bytes stored as ``storage.Outcome.payload``: the coded part, then the client's
    ciphertext. ``DLO1 | u16 length | UTF-8 JSON of the codes | payload``. The codes are
    routing metadata (docs/architecture.md); the payload stays opaque. A downgraded
    referral's JSON also has ``downgrade``: the original urgency, the GP's id, the time (ISO
    8601) and the reason message's id; no clinical text."""
    codes: dict[str, object] = {
        "urgency": outcome.urgency,
        "destination": outcome.destination,
        "reasons": list(outcome.reasons),
    }
    if downgrade is not None:
        codes["downgrade"] = {
            "from": downgrade.from_urgency.value,
            "by": downgrade.by,
            "at": downgrade.at.isoformat(),
            "msg": downgrade.reason_msg_id,
        }
    coded = json.dumps(codes, separators=(",", ":")).encode()
    return _OUTCOME_MAGIC + struct.pack(">H", len(coded)) + coded + payload


def decode_outcome_record(record: storage.Outcome) -> StoredOutcome:
    raw = record.payload
    if raw[:4] != _OUTCOME_MAGIC or len(raw) < 6:
        raise ValueError("not an outcome record")
    (length,) = struct.unpack(">H", raw[4:6])
    coded = json.loads(raw[6 : 6 + length])
    outcome = Outcome(
        record.category,
        Urgency(coded["urgency"]) if coded["urgency"] else None,
        Destination(coded["destination"]) if coded["destination"] else None,
        tuple(RejectionReason(r) for r in coded["reasons"]),
    )
    down = coded.get("downgrade")
    lowered = (
        Downgrade(
            Urgency(down["from"]),
            str(down["by"]),
            dt.datetime.fromisoformat(down["at"]),
            down["msg"],
        )
        if down
        else None
    )
    return StoredOutcome(outcome, raw[6 + length :], record.author_id, record.created_at, lowered)


def facts_of(case: storage.Case, participants: Sequence[storage.Participant]) -> CaseFacts:
    return CaseFacts(
        case_id=case.case_id,
        practice_id=case.practice_id,
        service_id=case.service_id,
        creator_id=case.created_by,
        state=case.state,
        participants=frozenset(p.user_id for p in participants),
        responder_id=case.claimed_by,
    )


_ACTION_EVENT = {
    CaseAction.SUBMIT: CaseEvent.SUBMIT,
    CaseAction.CLAIM: CaseEvent.CLAIM,
    CaseAction.ASK: CaseEvent.ASK,
    CaseAction.ANSWER: CaseEvent.ANSWER,
    CaseAction.WITHDRAW: CaseEvent.WITHDRAW,
    CaseAction.RESUBMIT: CaseEvent.RESUBMIT,
    CaseAction.CLOSE: CaseEvent.CLOSE,
}


def _verified_wrap(
    record: bytes,
    wrapper: storage.User,
    case_uuid: uuid.UUID,
    wrapper_uuid: uuid.UUID,
    epoch: int = 0,
) -> tuple[CaseKeyWrapHeader, bytes]:
    """The header and key commitment of a case key wrap of this case and ``epoch``, signed
    by ``wrapper`` and naming them as its wrapper (creation, sharing and new epochs check
    the same); InvalidInput otherwise. Legacy 0x06 wraps commit to nothing, so they are
    refused (``wrap_outdated``): the wraps of one epoch could then hold different keys."""
    try:
        outdated = parse_case_key_wrap_header(record).commitment is None
    except CryptoError:
        raise InvalidInput("a case key wrap is malformed or not signed by you") from None
    if outdated:
        raise WrapOutdated()
    try:
        header = verify_case_key_wrap(record, wrapper.signing_public_key)
    except CryptoError:
        raise InvalidInput("a case key wrap is malformed or not signed by you") from None
    if (
        header.case_id != case_uuid
        or header.epoch != epoch
        or header.wrapper_user_id != wrapper_uuid
    ):
        raise InvalidInput("a case key wrap is for another case, epoch or wrapper")
    assert header.commitment is not None  # checked above
    return header, header.commitment


class CaseService:
    def __init__(self, store: storage.Storage, clock: Clock, publisher: Publisher) -> None:
        self._store = store
        self._clock = clock
        self.publisher = publisher
        #: the log references of a case's detail (set by the service graph to
        #: ``DirectoryService.case_proofs``; None: the detail carries none)
        self.prove: (
            Callable[
                [
                    storage.Case,
                    list[tuple[storage.Participant, storage.User]],
                    Sequence[storage.CaseRemoval],
                ],
                Awaitable[CaseProofs],
            ]
            | None
        ) = None

    async def _audit(
        self, action: str, actor: Actor, target: str, client: str | None, detail: bytes = b""
    ) -> None:
        """Audit ``action``; ``detail`` holds coded values and ids only, never clinical text."""
        await self._store.append_audit(
            storage.AuditEvent(
                action=action,
                occurred_at=self._clock.now(),
                actor_id=actor.user_id,
                target=target,
                client_address=client,
                detail=detail,
            )
        )

    async def _append(
        self,
        case_id: str,
        client_msg_id: str,
        actor: Actor,
        envelope: bytes,
        now: dt.datetime,
        audit: storage.AuditEvent | None = None,
    ) -> storage.AppendResult:
        """Append a checked envelope to the thread (idempotent by ``client_msg_id``), with
        its audit entry in the same transaction when ``audit`` is given."""
        try:
            return await self._store.append_message(
                case_id, client_msg_id, actor.user_id, envelope, now, audit=audit
            )
        except storage.Conflict:
            raise Conflict("this message id is taken") from None
        except storage.InvalidArgument:
            raise InvalidInput("the message id is not valid") from None

    async def load(
        self, actor: Actor, case_id: str, action: CaseAction
    ) -> tuple[storage.Case, frozenset[Party], list[storage.Participant]]:
        """The case, the actor's parties and the participants, after the policy check.

        A malformed, missing or foreign id all answer the same NotFound (policy rule 1).
        """
        try:
            # One read unit for both (the hot path of every send): a missing, a foreign and
            # an existing case cost the same work, so none can be told apart by time.
            case, participants = await self._store.get_case_with_participants(case_id)
        except (storage.NotFound, storage.InvalidArgument):
            check_case(actor, None, action)
            raise AssertionError("unreachable") from None
        if not (actor.roles_in(case.practice_id) or actor.roles_in(case.service_id)):
            check_case(actor, None, action)  # foreign: the same NotFound as a missing case
        parties = check_case(actor, facts_of(case, participants), action)
        return case, parties, participants

    async def _publish_case(self, case: storage.Case) -> None:
        """Tell the publisher (after the commit) that ``case`` changed."""
        participants = await self._store.list_participants(case.case_id)
        await self.publisher.case_changed(
            CaseChange(case, await self.coded_outcome(case), tuple(p.user_id for p in participants))
        )

    # ------------------------------------------------------------------ create

    async def create(self, actor: Actor, req: NewCaseRequest, client: str | None) -> storage.Case:
        check_create_case(actor, req.practice_id)
        try:
            practice = await self._store.get_organisation(req.practice_id)
            service = await self._store.get_organisation(req.service_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if service.kind is not storage.OrgKind.SERVICE:
            raise NotFound()
        if practice.records_public_key is None:
            raise InvalidInput("the practice has no records key yet; ask the records officer")
        participant_ids = list(dict.fromkeys(req.participants))
        if actor.user_id not in participant_ids:
            raise InvalidInput("the creating GP must be a participant")
        users: dict[str, storage.User] = {}
        for uid in participant_ids:
            try:
                users[uid] = await self._store.get_user(uid)
            except (storage.NotFound, storage.InvalidArgument):
                raise InvalidInput("a participant does not exist") from None
            if uid != actor.user_id and not any(
                m.org_id == req.service_id and m.role is storage.Role.DERMATOLOGIST
                for m in users[uid].memberships
            ):
                raise InvalidInput("other participants must be dermatologists of the service")
        creator = users[actor.user_id]
        wraps = self._check_wraps(req, creator, users, practice.records_public_key)
        now = self._clock.now()
        participants = [
            storage.Participant(
                req.case_id,
                uid,
                storage.Role.GP if uid == actor.user_id else storage.Role.DERMATOLOGIST,
                now,
            )
            for uid in participant_ids
        ]
        try:
            case = await self._store.create_case(
                storage.NewCase(
                    case_id=req.case_id,
                    practice_id=req.practice_id,
                    service_id=req.service_id,
                    created_by=actor.user_id,
                    priority=storage.Priority(req.priority),
                    created_at=now,
                    state=storage.CaseState.DRAFT if req.draft else storage.CaseState.SUBMITTED,
                ),
                participants,
                wraps,
            )
        except storage.Conflict:
            raise Conflict("a case with this id exists") from None
        await self._audit("case.create", actor, case.case_id, client)
        await self._publish_case(case)
        return case

    def _check_wraps(
        self,
        req: NewCaseRequest,
        creator: storage.User,
        users: dict[str, storage.User],
        records_key: bytes,
    ) -> list[storage.WrappedCaseKey]:
        """Every participant and the records key get exactly one valid epoch-0 wrap, and all
        the wraps commit to the same case key."""
        try:
            case_uuid = uuid.UUID(req.case_id)
            creator_uuid = uuid.UUID(creator.user_id)
        except ValueError:
            raise InvalidInput("case and user ids are UUIDs") from None
        now = self._clock.now()
        out: list[storage.WrappedCaseKey] = []
        seen: set[tuple[str, str]] = set()
        commitments: set[bytes] = set()
        for wrap in req.case_keys:
            header, commitment = _verified_wrap(wrap.wrapped_key, creator, case_uuid, creator_uuid)
            commitments.add(commitment)
            if wrap.recipient_kind == "organisation":
                if wrap.recipient_id != req.practice_id:
                    raise InvalidInput("case keys are wrapped to the practice's records key only")
                expected = key_id(records_key)
            elif wrap.recipient_id in users:
                expected = key_id(users[wrap.recipient_id].encryption_public_key)
            else:
                raise InvalidInput("a case key wrap names someone who is not a participant")
            if header.recipient_key_id != expected:
                raise InvalidInput("a case key wrap is for another recipient key")
            slot = (wrap.recipient_kind, wrap.recipient_id)
            if slot in seen:
                raise InvalidInput("two case key wraps for one recipient")
            seen.add(slot)
            out.append(
                storage.WrappedCaseKey(
                    req.case_id,
                    0,
                    storage.KeyRecipientKind(wrap.recipient_kind),
                    wrap.recipient_id,
                    wrap.wrapped_key,
                    now,
                )
            )
        if len(commitments) > 1:
            # The records key or a participant would be given another key than the rest.
            raise CaseKeyMismatch()
        if ("organisation", req.practice_id) not in seen:
            # Every case key is also wrapped to the records key.
            raise InvalidInput("the case key must be wrapped to the practice's records key")
        if any(("user", uid) not in seen for uid in users):
            raise InvalidInput("the case key must be wrapped to every participant")
        return out

    # ------------------------------------------------------------------ share

    async def share_keys(
        self,
        actor: Actor,
        case_id: str,
        wraps: Sequence[SharedWrap],
        client: str | None,
    ) -> list[str]:
        """Add dermatologists of the case's service as participants, with the caller's
        wraps of the current epoch's case key to them. Returns the new participants' ids.

        404 for a foreign or missing case; 403 for a non-participant or a participant who
        holds no wrap of the current epoch; 422 ``validation_failed`` for a recipient who is
        not a current, enabled dermatologist of the service, was taken off the case, or a
        wrap that fails the checks of creation; 409 ``conflict`` for a recipient who already
        participates; 422 ``case_key_mismatch`` for a wrap whose commitment is not the
        epoch's; 409 ``key_rotation_required`` while the case needs a new epoch (the key
        to share is about to be replaced).
        """
        case, _parties, participants = await self.load(actor, case_id, CaseAction.SHARE_KEY)
        epoch = case.key_epoch
        removals = await self._store.list_case_removals(case_id)
        if rotation_of(case, removals) is not None:
            raise KeyRotationRequired(epoch, epoch + 1)
        stored = await self._store.get_case_keys(case_id)
        if not any(
            k.epoch == epoch
            and k.recipient_kind is storage.KeyRecipientKind.USER
            and k.recipient_id == actor.user_id
            for k in stored
        ):
            raise Forbidden("you hold no key of this case to share")
        # The epoch's commitment, from the stored wraps' signed clear headers. At creation
        # (and at each new epoch) they were all required to carry the same one.
        epoch_commitments = {
            parse_case_key_wrap_header(k.wrapped_key).commitment for k in stored if k.epoch == epoch
        }
        if None in epoch_commitments or len(epoch_commitments) != 1:
            raise InvalidInput("this case's key carries no single commitment; it cannot be shared")
        [commitment] = epoch_commitments
        current = {p.user_id for p in participants}
        removed = {r.user_id for r in removals}
        ids = [w.recipient_id for w in wraps]
        if not ids:
            raise InvalidInput("no one to share with")
        if len(set(ids)) != len(ids):
            raise InvalidInput("two case key wraps for one recipient")
        sharer = await self._store.get_user(actor.user_id)
        try:
            case_uuid = uuid.UUID(case_id)
            sharer_uuid = uuid.UUID(actor.user_id)
        except ValueError:
            raise InvalidInput("case and user ids are UUIDs") from None
        now = self._clock.now()
        new_participants: list[storage.Participant] = []
        new_keys: list[storage.WrappedCaseKey] = []
        for wrap in wraps:
            if wrap.recipient_id in current:
                raise Conflict("a recipient already takes part in this case")
            if wrap.recipient_id in removed:
                raise InvalidInput("a recipient was taken off this case")
            try:
                user = await self._store.get_user(wrap.recipient_id)
            except (storage.NotFound, storage.InvalidArgument):
                raise InvalidInput("a recipient is not a dermatologist of the service") from None
            if user.disabled or not any(
                m.org_id == case.service_id and m.role is storage.Role.DERMATOLOGIST
                for m in user.memberships
            ):
                raise InvalidInput("a recipient is not a dermatologist of the service")
            header, wrap_commitment = _verified_wrap(
                wrap.wrapped_key, sharer, case_uuid, sharer_uuid, epoch
            )
            if header.recipient_key_id != key_id(user.encryption_public_key):
                raise InvalidInput("a case key wrap is for another recipient key")
            if wrap_commitment != commitment:
                # Another key than the one the participants and the records key hold.
                raise CaseKeyMismatch()
            new_participants.append(
                storage.Participant(case_id, user.user_id, storage.Role.DERMATOLOGIST, now)
            )
            new_keys.append(
                storage.WrappedCaseKey(
                    case_id,
                    epoch,
                    storage.KeyRecipientKind.USER,
                    user.user_id,
                    wrap.wrapped_key,
                    now,
                )
            )
        try:
            await self._store.add_participants_with_keys(new_participants, new_keys)
        except storage.Conflict:
            # Another participant shared with the same colleague meanwhile.
            raise Conflict("a recipient already takes part in this case") from None
        except storage.NotFound:
            raise NotFound() from None
        detail = json.dumps({"added": ids}, separators=(",", ":")).encode()
        await self._audit("case.keys_shared", actor, case_id, client, detail)
        await self._publish_case(await self._store.get_case(case_id))
        return ids

    # ------------------------------------------------------------------ removals and epochs

    async def remove_participant(
        self, actor: Actor, case_id: str, user_id: str, client: str | None
    ) -> None:
        """Take a dermatologist off the case (docs/architecture.md, "Removals and epochs").

        The referring GP or the responder may; not themselves, never the referring GP nor
        the responder (403 ``forbidden``); 404 for someone who is not a participant. The
        case then needs a new epoch (``rotation``) before anything more is sent; no log
        entry: taking someone off one case is routing metadata, not a directory change.
        """
        case, _parties, participants = await self.load(actor, case_id, CaseAction.REMOVE)
        if user_id == actor.user_id:
            raise Forbidden("you cannot take yourself off a case")
        if user_id in (case.created_by, case.claimed_by):
            raise Forbidden("the referring GP and the responder cannot be taken off the case")
        if user_id not in {p.user_id for p in participants}:
            raise NotFound()
        try:
            await self._store.remove_participant(
                case_id, user_id, removed_by=actor.user_id, now=self._clock.now()
            )
        except storage.NotFound:
            raise NotFound() from None  # removed meanwhile
        detail = json.dumps({"removed": user_id}, separators=(",", ":")).encode()
        await self._audit("case.participant_removed", actor, case_id, client, detail)
        await self.removed_from(user_id, [case_id])

    async def removed_from(self, user_id: str, case_ids: Sequence[str]) -> None:
        """Announce, after the commit, that ``user_id`` was taken off these cases (by the
        case route, or by disabling their account or removing their role)."""
        for case_id in case_ids:
            await self.publisher.participants_removed(case_id, [user_id])
            await self._publish_case(await self._store.get_case(case_id))

    async def rotate(
        self,
        actor: Actor,
        case_id: str,
        epoch: int,
        wraps: Sequence[WrapIn],
        client: str | None,
    ) -> CaseView:
        """Start epoch ``epoch`` (docs/protocol.md section 24): a compare-and-set on the
        case being at ``epoch - 1`` (409 ``epoch_conflict`` otherwise: another participant
        rotated first; reload). Any participant holding the key may, also when no rotation
        is required (a voluntary rotation). The wraps are 0x0b for this case and epoch,
        signed by the caller, one per remaining participant and one per records key of the
        practice and of the service when it has one, all of one key (422
        ``wrap_recipients``, ``wrap_outdated``, ``case_key_mismatch``,
        ``validation_failed``). Answers the case as the caller now sees it."""
        case, _parties, participants = await self.load(actor, case_id, CaseAction.ROTATE)
        if epoch != case.key_epoch + 1:
            raise EpochConflict(case.key_epoch)
        removed = {r.user_id for r in await self._store.list_case_removals(case_id)}
        users = {p.user_id: await self._store.get_user(p.user_id) for p in participants}
        orgs = {
            o.org_id: o.records_public_key
            for o in [
                await self._store.get_organisation(case.practice_id),
                await self._store.get_organisation(case.service_id),
            ]
            if o.records_public_key is not None
        }
        wrapper = users.get(actor.user_id) or await self._store.get_user(actor.user_id)
        try:
            case_uuid, wrapper_uuid = uuid.UUID(case_id), uuid.UUID(actor.user_id)
        except ValueError:
            raise InvalidInput("case and user ids are UUIDs") from None
        now = self._clock.now()
        seen: set[tuple[str, str]] = set()
        commitments: set[bytes] = set()
        keys: list[storage.WrappedCaseKey] = []
        for wrap in wraps:
            slot = (wrap.recipient_kind, wrap.recipient_id)
            if slot in seen:
                raise WrapRecipients()
            seen.add(slot)
            if wrap.recipient_kind == "organisation":
                if wrap.recipient_id not in orgs:
                    raise WrapRecipients()
                expected = key_id(orgs[wrap.recipient_id])
            else:
                if wrap.recipient_id in removed or wrap.recipient_id not in users:
                    raise WrapRecipients()
                expected = key_id(users[wrap.recipient_id].encryption_public_key)
            header, commitment = _verified_wrap(
                wrap.wrapped_key, wrapper, case_uuid, wrapper_uuid, epoch
            )
            if header.recipient_key_id != expected:
                raise InvalidInput("a case key wrap is for another recipient key")
            commitments.add(commitment)
            keys.append(
                storage.WrappedCaseKey(
                    case_id,
                    epoch,
                    storage.KeyRecipientKind(wrap.recipient_kind),
                    wrap.recipient_id,
                    wrap.wrapped_key,
                    now,
                )
            )
        wanted = {("user", uid) for uid in users} | {("organisation", oid) for oid in orgs}
        if seen != wanted:
            raise WrapRecipients()
        if len(commitments) != 1:
            raise CaseKeyMismatch()
        try:
            rotated = await self._store.rotate_case_key(case_id, epoch - 1, keys, now)
        except storage.Conflict:
            raise EpochConflict((await self._store.get_case(case_id)).key_epoch) from None
        detail = json.dumps({"epoch": epoch}, separators=(",", ":")).encode()
        await self._audit("case.key_rotated", actor, case_id, client, detail)
        await self._publish_case(rotated)
        return await self.view(actor, case_id, client)

    # ------------------------------------------------------------------ read

    async def queue(
        self, actor: Actor, service_id: str, *, limit: int, cursor: str | None
    ) -> storage.Page[storage.Case]:
        """Submitted cases addressed to the actor, urgent first, then oldest."""
        check_queue(actor, service_id)
        try:
            return await self._store.triage_queue(service_id, limit=limit, cursor=cursor)
        except storage.InvalidArgument:
            raise InvalidInput("the cursor is not valid") from None

    async def organisation_cases(
        self, actor: Actor, org_id: str, *, limit: int, cursor: str | None
    ) -> storage.Page[storage.Case]:
        """An organisation's cases, most recently updated first, for the people the case
        policy lets view them all: a practice's records officers (every case of the
        practice) and an organisation's auditors (its closed cases). NotFound outside the
        organisation (policy rule 1), Forbidden for other roles."""
        if not actor.roles_in(org_id):
            raise NotFound()
        records = actor.has(org_id, Role.RECORDS_OFFICER)
        if not (records or actor.has(org_id, Role.AUDITOR)):
            raise Forbidden()
        try:
            org = await self._store.get_organisation(org_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if records and org.kind is storage.OrgKind.PRACTICE:
            states = None  # check_case: a practice's records officer views all its cases
        elif actor.has(org_id, Role.AUDITOR):
            states = (storage.CaseState.CLOSED,)  # check_case: auditors view closed cases
        else:
            raise Forbidden()  # a service's records officer views no case through it
        try:
            return await self._store.list_cases_for_organisation(
                org_id, org.kind, states=states, limit=limit, cursor=cursor
            )
        except storage.InvalidArgument:
            raise InvalidInput("the cursor is not valid") from None

    async def mine(
        self, actor: Actor, *, limit: int, cursor: str | None
    ) -> storage.Page[storage.Case]:
        try:
            return await self._store.list_cases_for_user(actor.user_id, limit=limit, cursor=cursor)
        except storage.InvalidArgument:
            raise InvalidInput("the cursor is not valid") from None

    async def view(self, actor: Actor, case_id: str, client: str | None) -> CaseView:
        case, _parties, participants = await self.load(actor, case_id, CaseAction.VIEW)
        keys = await self._store.get_case_keys(case_id)
        records = actor.has(case.practice_id, Role.RECORDS_OFFICER)
        mine = [
            k
            for k in keys
            if (
                k.recipient_kind is storage.KeyRecipientKind.USER
                and k.recipient_id == actor.user_id
            )
            or (k.recipient_kind is storage.KeyRecipientKind.ORGANISATION and records)
        ]
        outcome = await self._store.get_outcome(case_id)
        people = [(p, await self._store.get_user(p.user_id)) for p in participants]
        removals = tuple(await self._store.list_case_removals(case_id))
        proofs = None if self.prove is None else await self.prove(case, people, removals)
        await self._audit("case.view", actor, case_id, client)
        return CaseView(
            case,
            people,
            mine,
            decode_outcome_record(outcome) if outcome else None,
            removals,
            proofs,
        )

    async def messages(
        self, actor: Actor, case_id: str, *, after_seq: int, limit: int
    ) -> list[storage.Message]:
        await self.load(actor, case_id, CaseAction.VIEW)
        return await self._store.list_messages(case_id, after_seq=after_seq, limit=limit)

    async def replay(
        self,
        actor: Actor,
        since: Mapping[str, int],
        *,
        limit: int,
        join: Callable[[str], Awaitable[None]],
    ) -> dict[str, CaseReplay | DomainError]:
        """Catch-up after a (re)connect: for each case in ``since`` (case id -> last seq the
        client holds), and every case the actor takes part in (the 200 most recently
        updated, from seq 0), the case and up to ``limit`` messages after that seq.

        Each case is authorised as a view (a refusal is that case's answer, the others go
        on). ``join(case_id)`` is awaited for each authorised case *before* its messages
        are read: the real-time layer joins the case room there, so a message committed
        meanwhile arrives twice (room and replay) rather than never (DESIGN section 6).
        """
        wanted = {case_id: max(0, after) for case_id, after in since.items()}
        page = await self._store.list_cases_for_user(actor.user_id, limit=200)
        for c in page.items:
            wanted.setdefault(c.case_id, 0)
        out: dict[str, CaseReplay | DomainError] = {}
        for case_id, after in wanted.items():
            try:
                case, _parties, _ = await self.load(actor, case_id, CaseAction.VIEW)
            except DomainError as exc:
                out[case_id] = exc
                continue
            await join(case_id)
            msgs = await self._store.list_messages(case_id, after_seq=after, limit=limit)
            out[case_id] = CaseReplay(
                case, await self.coded_outcome(case), msgs, more=len(msgs) == limit
            )
        return out

    async def receipts(self, actor: Actor, case_id: str) -> list[storage.Receipt]:
        await self.load(actor, case_id, CaseAction.VIEW)
        return await self._store.list_receipts(case_id)

    # ------------------------------------------------------------------ write

    async def send(
        self,
        actor: Actor,
        case_id: str,
        client_msg_id: str,
        envelope: bytes,
        client: str | None,
        *,
        action: CaseAction = CaseAction.MESSAGE,
    ) -> storage.AppendResult:
        """Append to the thread (idempotent by ``client_msg_id``), then publish."""
        case, _parties, _ = await self.load(actor, case_id, action)
        await self._check_envelope(actor, case, client_msg_id, envelope)
        now = self._clock.now()
        # The audit entry commits with the message: one durable commit per send.
        audited = storage.AuditEvent(
            action="message.post",
            occurred_at=now,
            actor_id=actor.user_id,
            target=case_id,
            client_address=client,
        )
        result = await self._append(case_id, client_msg_id, actor, envelope, now, audited)
        if result.created:
            # The publisher needs the case's routing ids only, which did not change.
            await self.publisher.message_appended(case, result.message)
        return result

    async def _check_envelope(
        self, actor: Actor, case: storage.Case, client_msg_id: str, envelope: bytes
    ) -> None:
        """Check a new thread message before it is stored (every path: HTTP, Socket.IO, a
        move's message, a downgrade's reason).

        The server cannot decrypt; it checks the clear header so that a client cannot post a
        message that claims another case, another id or another author
        (``crypto.envelope.parse_message_header``); that it is the committed envelope (type
        0x0e: ``envelope_outdated`` for 0x07); that its signature verifies with the sender's
        current signing key (``verify_message_signature``: ``signature_invalid``), so an
        honest server never relays a forged message (docs/protocol.md section 23); and its
        epoch against the case's (``_check_epoch``). Readers verify again.
        """
        try:
            header = parse_message_header(envelope)
        except CryptoError:
            raise InvalidInput("the message is not a v1 envelope") from None
        if (
            str(header.case_id) != case.case_id
            or str(header.client_message_id) != client_msg_id
            or str(header.sender_user_id) != actor.user_id
        ):
            raise InvalidInput("the envelope header does not match the message")
        if header.commitment is None:
            raise EnvelopeOutdated()
        sender = await self._store.get_user(actor.user_id)
        try:
            verify_message_signature(envelope, sender.signing_public_key)
        except CryptoError:
            raise SignatureInvalid() from None
        await self._check_epoch(case, header.epoch)
        await self._check_commitment(case, actor, header.epoch, header.commitment)

    async def _check_commitment(
        self, case: storage.Case, actor: Actor, epoch: int, commitment: bytes
    ) -> None:
        """The message names the commitment of the epoch's case key, as the sender's own
        wrap of that epoch carries it: a message sealed under another key would be an
        unreadable item for every reader (``case_key_mismatch``). A sender without a wrap of
        the epoch (never the case for a participant) is not checked here: readers are."""
        mine = await self._store.get_case_keys(
            case.case_id, recipient_kind=storage.KeyRecipientKind.USER, recipient_id=actor.user_id
        )
        for k in mine:
            if k.epoch == epoch:
                if parse_case_key_wrap_header(k.wrapped_key).commitment not in (None, commitment):
                    raise CaseKeyMismatch()
                return

    async def _check_epoch(self, case: storage.Case, epoch: int | None) -> None:
        """Sealed content (``epoch`` from its header; None: an upload, which names none) is
        accepted only at the case's current epoch, and only while no rotation is required:
        ``stale_epoch`` for an older epoch, ``key_rotation_required`` after a removal
        (docs/protocol.md section 24)."""
        if epoch is not None and epoch > case.key_epoch:
            raise InvalidInput("the envelope uses an unknown key epoch")
        if epoch is not None and epoch < case.key_epoch:
            raise StaleEpoch(case.key_epoch)
        if rotation_of(case, await self._store.list_case_removals(case.case_id)) is not None:
            raise KeyRotationRequired(case.key_epoch, case.key_epoch + 1)

    async def _check_outcome_payload(
        self, actor: Actor, case: storage.Case, outcome: Outcome, payload: bytes
    ) -> None:
        """The outcome's clinical content is a v1 envelope of type ``outcome`` for this case,
        signed by the closing dermatologist (header checked in the clear, signature with the
        dermatologist's current signing key: ``signature_invalid``)."""
        try:
            header = parse_message_header(payload)
        except CryptoError:
            raise InvalidInput("the outcome content is not a v1 envelope") from None
        if (
            header.content_type is not ContentType.OUTCOME
            or str(header.case_id) != case.case_id
            or str(header.sender_user_id) != actor.user_id
        ):
            raise InvalidInput("the outcome content does not match the case and the sender")
        sender = await self._store.get_user(actor.user_id)
        try:
            verify_message_signature(payload, sender.signing_public_key)
        except CryptoError:
            raise SignatureInvalid() from None
        await self._check_epoch(case, header.epoch)

    async def move(
        self,
        actor: Actor,
        case_id: str,
        action: CaseAction,
        client: str | None,
        *,
        outcome: Outcome | None = None,
        payload: bytes = b"",
        message: ThreadMessage | None = None,
    ) -> storage.Case:
        """Apply a lifecycle move with compare-and-set; InvalidTransition if it raced.

        ``message`` (a question with ``ask``, an answer with ``answer``, ...) is appended to
        the thread with the move: the mover must be allowed to write to the case as it is
        *after* the move (a claim makes its dermatologist the responder; a withdrawn case
        takes no message), and its envelope must name this case, its id and the mover.
        Storage keeps the move and the message in one transaction: both or neither. The
        message id is the move's idempotency key: a retry whose move is allowed again
        (an answer retried after a new question) changes nothing and answers the case.
        """
        case, _parties, participants = await self.load(actor, case_id, action)
        event = _ACTION_EVENT[action]
        new_state, _party = TRANSITIONS[(case.state, event)]
        if message is not None:
            after = dataclasses.replace(
                facts_of(case, participants),
                state=new_state,
                responder_id=actor.user_id if action is CaseAction.CLAIM else case.claimed_by,
            )
            check_case(actor, after, CaseAction.MESSAGE)
            await self._check_envelope(actor, case, message.client_msg_id, message.envelope)
        stored_outcome = None
        if action is CaseAction.RESUBMIT:
            record = await self._store.get_outcome(case_id)
            check_resubmit(decode_outcome_record(record).outcome if record else None)
        if action is CaseAction.CLOSE:
            if outcome is None:
                raise InvalidInput("closing needs an outcome")
            await self._check_outcome_payload(actor, case, outcome, payload)
            stored_outcome = storage.Outcome(
                case_id,
                outcome.category,
                encode_outcome_record(outcome, payload),
                actor.user_id,
                self._clock.now(),
            )
        try:
            moved = await self._store.transition_case(
                case_id,
                case.state,
                new_state,
                self._clock.now(),
                claimed_by=actor.user_id if action is CaseAction.CLAIM else None,
                outcome=stored_outcome,
                # Stored in the same transaction: the move and its message, or neither.
                message=None
                if message is None
                else storage.NewMessage(message.client_msg_id, actor.user_id, message.envelope),
            )
        except storage.Conflict as exc:
            if exc.reason == "message_id_taken":
                raise Conflict("this message id is taken") from None
            raise InvalidTransition("the case changed meanwhile; reload it") from None
        except storage.InvalidArgument:
            if message is None:
                raise
            raise InvalidInput("the message id is not valid") from None
        if moved.message is not None and not moved.message.created:
            # A retry of a move already made with this message (storage answers the case as
            # it is, unchanged): nothing to audit or announce again.
            return moved.case
        await self._audit(f"case.{action.value}", actor, case_id, client)
        if moved.message is not None:
            await self._audit("message.post", actor, case_id, client)
            await self.publisher.message_appended(moved.case, moved.message.message)
        await self._publish_case(moved.case)
        return moved.case

    async def close(
        self,
        actor: Actor,
        case_id: str,
        *,
        category: OutcomeCategory,
        urgency: Urgency | None,
        destination: Destination | None,
        reasons: Sequence[RejectionReason],
        payload: bytes,
        client: str | None,
        retain_until: dt.date | None = None,
    ) -> storage.Case:
        """Close with an outcome; ``retain_until`` is the closing client's retention date
        (``server.domain.retention``), checked before and stored after the move."""
        outcome = make_outcome(category, urgency=urgency, destination=destination, reasons=reasons)
        if retain_until is not None:
            check_retain_until(retain_until, self._clock.now())
        case = await self.move(
            actor, case_id, CaseAction.CLOSE, client, outcome=outcome, payload=payload
        )
        if retain_until is not None:
            await self._store.set_case_retention(case_id, retain_until, self._clock.now())
        return case

    async def downgrade(
        self,
        actor: Actor,
        case_id: str,
        urgency: Urgency,
        reason_msg_id: str,
        reason_envelope: bytes,
        client: str | None,
    ) -> storage.Case:
        """Lower a closed two-week-wait referral (referring GP only, DESIGN section 2).

        ``reason_envelope`` is the GP's reason, an end-to-end encrypted text message for the
        thread (the server checks its clear header only). Forbidden for anyone else,
        InvalidTransition if the outcome is not a two-week-wait referral, InvalidInput if
        ``urgency`` is not lower. A retry with the same reason message id after success
        answers the case again without a second change.
        """
        case, parties, _ = await self.load(actor, case_id, CaseAction.DOWNGRADE)
        record = await self._store.get_outcome(case_id)
        if record is None:
            raise InvalidTransition("the case has no outcome")
        stored = decode_outcome_record(record)
        done = stored.downgrade
        if (
            done is not None
            and done.reason_msg_id == reason_msg_id
            and done.by == actor.user_id
            and stored.outcome.urgency is urgency
        ):
            return case  # a retry of the downgrade that is already stored
        lowered = downgrade(stored.outcome, urgency, parties)
        await self._check_envelope(actor, case, reason_msg_id, reason_envelope)
        if parse_message_header(reason_envelope).content_type is not ContentType.TEXT:
            raise InvalidInput("the reason is a text message")
        now = self._clock.now()
        appended = await self._append(case_id, reason_msg_id, actor, reason_envelope, now)
        assert stored.outcome.urgency is not None  # outcomes.downgrade checked it is a referral
        new_record = storage.Outcome(
            case_id,
            record.category,
            encode_outcome_record(
                lowered,
                stored.payload,
                Downgrade(stored.outcome.urgency, actor.user_id, now, reason_msg_id),
            ),
            record.author_id,
            record.created_at,
        )
        try:
            updated = await self._store.update_outcome(case_id, record.payload, new_record, now)
        except storage.Conflict:
            raise InvalidTransition("the outcome changed meanwhile; reload it") from None
        detail = json.dumps(
            {"from": stored.outcome.urgency.value, "to": urgency.value}, separators=(",", ":")
        ).encode()
        await self._audit("case.downgrade", actor, case_id, client, detail)
        if appended.created:
            await self.publisher.message_appended(updated, appended.message)
        await self._publish_case(updated)
        return updated

    async def case_with_outcome(
        self, actor: Actor, case_id: str
    ) -> tuple[storage.Case, StoredOutcome | None]:
        """The case and its coded outcome, for a viewer (what a real-time join answers)."""
        case, _parties, _ = await self.load(actor, case_id, CaseAction.VIEW)
        return case, await self.coded_outcome(case)

    async def coded_outcome(self, case: storage.Case) -> StoredOutcome | None:
        """The case's decoded outcome, for callers that have already checked the policy."""
        if case.outcome_category is None:
            return None
        record = await self._store.get_outcome(case.case_id)
        return decode_outcome_record(record) if record else None

    # ------------------------------------------------------------------ attachments

    async def upload(
        self,
        actor: Actor,
        case_id: str,
        attachment_id: str,
        declared_sha256: bytes,
        chunks: AsyncIterable[bytes],
        *,
        declared_length: int,
        max_size: int,
        client: str | None,
    ) -> Stored:
        """Store a photo's *ciphertext* (the server never decodes an
        image). Streamed into the blob store with a size cap; the SHA-256 the client
        declared (the one inside its photo-reference message) must match what arrived.
        Checks and idempotent retry: ``server.domain.attachments``."""
        case, _parties, _ = await self.load(actor, case_id, CaseAction.MESSAGE)
        await self._check_epoch(case, None)
        stored = await store_attachment(
            self._store,
            attachment_id=attachment_id,
            case_id=case_id,
            uploader_id=actor.user_id,
            declared_sha256=declared_sha256,
            declared_length=declared_length,
            chunks=chunks,
            max_size=max_size,
            now=self._clock.now(),
        )
        if stored.created:
            await self._audit("attachment.upload", actor, case_id, client)
        return stored

    async def attachments(self, actor: Actor, case_id: str) -> list[storage.Attachment]:
        await self.load(actor, case_id, CaseAction.VIEW)
        return await self._store.list_attachments(case_id)

    async def download(
        self, actor: Actor, case_id: str, attachment_id: str, client: str | None
    ) -> tuple[storage.Attachment, AsyncIterator[bytes]]:
        await self.load(actor, case_id, CaseAction.VIEW)
        try:
            attachment = await self._store.get_attachment(attachment_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if attachment.case_id != case_id:
            raise NotFound()
        await self._audit("attachment.download", actor, case_id, client)
        return attachment, self._store.blobs.open(attachment.blob_id)

    async def receipt(self, actor: Actor, case_id: str, kind: str, seq: int) -> storage.Receipt:
        case, parties, _ = await self.load(actor, case_id, CaseAction.VIEW)
        if not parties:
            # Records officers and auditors may read a case but are not in its thread.
            raise Forbidden("only participants send receipts")
        if seq > case.last_seq:
            raise InvalidInput("no message has this sequence number yet")
        return await self._store.record_receipt(
            case_id, actor.user_id, storage.ReceiptKind(kind), seq, self._clock.now()
        )
