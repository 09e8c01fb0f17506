"""The narrow async storage interface the server codes against.

Rules of this module (read first):

* One method per unit of work (Synapse style). Each write method is one transaction: it
  either happens completely or not at all, and it has happened durably (fsync on SQLite with
  ``synchronous=FULL``, commit on PostgreSQL) when the awaitable returns.
* Ids are opaque strings chosen by the caller (UUIDs, UUIDv7 for message ids):
  1..64 characters from ``[A-Za-z0-9._:-]``. Anything else raises :class:`InvalidArgument`.
* Times are timezone-aware ``datetime`` values passed in by the caller (the server owns the
  clock; tests use a fake one). They are stored with microsecond precision in UTC.
* Byte strings the server hands over (envelopes, wrapped keys, sealed private keys, TOTP
  secrets, ...) are opaque to storage. They are encrypted again at rest (see
  ``docs/storage.md`` for the list of what stays in the clear and why).
* Errors are the typed ones of :mod:`storage.errors`; driver exceptions never leak.
* The case state machine lives in the server domain. Storage only offers a compare-and-set
  transition (:meth:`Storage.transition_case`) so that two racing moves cannot both win.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar, runtime_checkable

__all__ = [
    "AppendResult",
    "Attachment",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditEvent",
    "AuditVerification",
    "AuthFailureState",
    "BlobInfo",
    "BlobStore",
    "Case",
    "CaseState",
    "Invite",
    "KeyRecipientKind",
    "Membership",
    "Message",
    "NewCase",
    "NewUser",
    "OrgKind",
    "Organisation",
    "Outcome",
    "OutcomeCategory",
    "Page",
    "Participant",
    "Priority",
    "Receipt",
    "ReceiptKind",
    "Role",
    "RotationReport",
    "Session",
    "Storage",
    "User",
    "WrappedCaseKey",
]


T = TypeVar("T")

# --------------------------------------------------------------------------- enumerations


class OrgKind(StrEnum):
    """A GP practice refers; a dermatology (or skin-surgery) service responds."""

    PRACTICE = "practice"
    SERVICE = "service"


class Role(StrEnum):
    """Role of a user in one organisation (issue 4, "Accounts")."""

    GP = "gp"
    DERMATOLOGIST = "dermatologist"
    ADMIN = "admin"
    RECORDS_OFFICER = "records_officer"
    AUDITOR = "auditor"


class CaseState(StrEnum):
    """Case states of DESIGN.md section 2 (transitions are the server's table)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    AWAITING_GP = "awaiting_gp"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Priority(StrEnum):
    """Routing priority (DESIGN.md section 3). The triage queue shows ``urgent`` first."""

    URGENT = "urgent"
    ROUTINE = "routine"


class OutcomeCategory(StrEnum):
    """Outcome category (DESIGN.md section 2); the clinical content is an E2EE payload."""

    ADVICE_AND_GUIDANCE = "advice_and_guidance"
    REFERRAL = "referral"
    IMAGE_REJECTED = "image_rejected"


class KeyRecipientKind(StrEnum):
    """A case key is wrapped to a user's account key or to an organisation's records key."""

    USER = "user"
    ORGANISATION = "organisation"


class ReceiptKind(StrEnum):
    """Stored receipts (typing indicators are ephemeral and never stored)."""

    DELIVERED = "delivered"
    READ = "read"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Organisation:
    """A practice or a service. ``records_public_key`` is the HPKE public key of the
    organisation's records key (DESIGN.md section 4); a practice needs one before it can
    open cases."""

    org_id: str
    kind: OrgKind
    name: str
    records_public_key: bytes | None
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class Membership:
    """One role of a user in one organisation."""

    org_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class NewUser:
    """What accepting an invite (or the first-admin setup) stores for a new account.

    ``kdf_params`` is the server's serialisation of the client KDF parameters (salt,
    iterations, ...); ``auth_key_hash`` the Argon2id PHC string of the auth key;
    ``wrapped_usk`` the USK wrapped by the KEK; the optional recovery wraps are the USK
    under the printed recovery key and HPKE-wrapped to the organisation's recovery key;
    ``sealed_private_keys`` the account private keys encrypted under the USK.
    """

    user_id: str
    login_name: str
    display_name: str
    kdf_params: bytes
    auth_key_hash: str
    wrapped_usk: bytes
    encryption_public_key: bytes
    signing_public_key: bytes
    sealed_private_keys: bytes
    created_at: _dt.datetime
    recovery_wrapped_usk: bytes | None = None
    org_wrapped_usk: bytes | None = None


@dataclass(frozen=True, slots=True)
class User:
    """A stored account with its credentials, second factor and lockout state.

    ``totp_secret`` is set at enrolment and ``totp_confirmed`` once a confirming code was
    accepted; ``totp_last_timecode`` is the last RFC 6238 time step accepted (a code whose
    step is not newer is a replay); ``recovery_code_hashes`` the unused recovery codes,
    hashed by the server; ``failed_logins`` / ``locked_until`` the backoff state.
    """

    user_id: str
    login_name: str
    display_name: str
    kdf_params: bytes
    auth_key_hash: str
    wrapped_usk: bytes
    encryption_public_key: bytes
    signing_public_key: bytes
    sealed_private_keys: bytes
    recovery_wrapped_usk: bytes | None
    org_wrapped_usk: bytes | None
    memberships: tuple[Membership, ...]
    totp_secret: bytes | None
    totp_confirmed: bool
    totp_last_timecode: int | None
    recovery_code_hashes: tuple[str, ...]
    failed_logins: int
    locked_until: _dt.datetime | None
    disabled: bool
    created_at: _dt.datetime
    updated_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class AuthFailureState:
    """Result of :meth:`Storage.record_auth_failure`."""

    failed_logins: int
    locked_until: _dt.datetime | None


@dataclass(frozen=True, slots=True)
class Session:
    """A login session. Only a hash of the session id is stored (``session_id_hash``,
    e.g. SHA-256 of the cookie value), so a stolen database cannot be replayed as cookies.
    ``mfa_verified`` is false between the password step and the TOTP step."""

    session_id_hash: bytes
    user_id: str
    created_at: _dt.datetime
    last_seen_at: _dt.datetime
    expires_at: _dt.datetime
    client_address: str
    user_agent: str = ""
    mfa_verified: bool = False
    revoked_at: _dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    """A single-use invitation to a role in an organisation. Only the token's hash is stored.
    ``login_name`` optionally pins the invited login (e.g. an e-mail address)."""

    token_hash: bytes
    org_id: str
    role: Role
    created_by: str | None
    created_at: _dt.datetime
    expires_at: _dt.datetime
    login_name: str | None = None
    used_at: _dt.datetime | None = None
    used_by: str | None = None
    revoked_at: _dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PatientLink:
    """A one-time link for a patient to send photos to a case (docs/protocol.md section 17).

    Only the SHA-256 of the link's token is stored. ``uploads`` counts attachment blobs the
    patient has uploaded through it (photos and thumbnails); ``used_at`` is set by the one
    completed submission, whose drop records are kept (sealed) with the link."""

    link_id: str
    case_id: str
    token_hash: bytes
    created_by: str
    created_at: _dt.datetime
    expires_at: _dt.datetime
    max_photos: int
    uploads: int = 0
    used_at: _dt.datetime | None = None
    revoked_at: _dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class NewCase:
    """Routing metadata of a new case (DESIGN.md section 3). No clinical content here:
    that travels end-to-end encrypted in messages and attachments."""

    case_id: str
    practice_id: str
    service_id: str
    created_by: str
    priority: Priority
    created_at: _dt.datetime
    state: CaseState = CaseState.SUBMITTED


@dataclass(frozen=True, slots=True)
class Case:
    """A stored case. ``last_seq`` is the highest message sequence number (0: none yet);
    ``key_epoch`` the newest case-key epoch; ``submitted_at`` orders the triage queue;
    ``first_response_at`` is set by the first message from someone other than the creator
    (for the "answered the same day" figure)."""

    case_id: str
    practice_id: str
    service_id: str
    created_by: str
    state: CaseState
    priority: Priority
    created_at: _dt.datetime
    updated_at: _dt.datetime
    submitted_at: _dt.datetime | None
    claimed_by: str | None
    claimed_at: _dt.datetime | None
    first_response_at: _dt.datetime | None
    closed_at: _dt.datetime | None
    outcome_category: OutcomeCategory | None
    last_seq: int
    key_epoch: int


@dataclass(frozen=True, slots=True)
class Participant:
    """A user taking part in a case (``role`` is the role they act in)."""

    case_id: str
    user_id: str
    role: Role
    added_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class WrappedCaseKey:
    """A case key of one epoch, HPKE-wrapped to one recipient (a user or an organisation's
    records key). Opaque bytes to storage."""

    case_id: str
    epoch: int
    recipient_kind: KeyRecipientKind
    recipient_id: str
    wrapped_key: bytes
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message: the client's envelope bytes, unique ``client_msg_id`` per case,
    and the per-case ``seq`` (1, 2, 3, ... with no gaps) assigned at insert."""

    case_id: str
    seq: int
    client_msg_id: str
    sender_id: str
    envelope: bytes
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Result of :meth:`Storage.append_message`: ``created`` is false when the client
    message id was already stored (the original message is returned unchanged)."""

    message: Message
    created: bool


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata of an encrypted photo or file. ``ciphertext_sha256`` and ``size`` refer to
    the client's (E2EE) ciphertext as stored in the blob store under ``blob_id``;
    ``metadata`` is an opaque client-encrypted blob (tags, thumbnail reference, ...)."""

    attachment_id: str
    case_id: str
    uploader_id: str
    blob_id: str
    ciphertext_sha256: bytes
    size: int
    content_type: str
    metadata: bytes
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """A case outcome: the category in the clear for the service figures, the clinical
    content as an end-to-end encrypted payload."""

    case_id: str
    category: OutcomeCategory
    payload: bytes
    author_id: str
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class Receipt:
    """The highest message ``seq`` a user has had delivered (or has read) in a case.
    Receipts only move forward."""

    case_id: str
    user_id: str
    kind: ReceiptKind
    seq: int
    updated_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What happened: ``actor_id`` (user id or None for the system), ``action`` (a stable
    code such as ``login.ok``), ``target`` (an opaque id), ``client_address``, ``detail``
    (small, non-clinical bytes; optional)."""

    action: str
    occurred_at: _dt.datetime
    actor_id: str | None = None
    target: str | None = None
    client_address: str | None = None
    detail: bytes = b""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audit event in the chain: ``entry_hash`` = SHA-256 over the previous hash and the
    entry's canonical binary form (see ``docs/storage.md``)."""

    seq: int
    event: AuditEvent
    prev_hash: bytes
    entry_hash: bytes


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """A signed statement "the chain up to ``seq`` has head ``entry_hash``" (ECDSA P-256,
    DER signature over the checkpoint's canonical form, by the server's audit key)."""

    seq: int
    entry_hash: bytes
    signature: bytes
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """A successful verification: how many entries and checkpoints were checked, and the
    head hash."""

    entries: int
    checkpoints: int
    head_seq: int
    head_hash: bytes


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated listing; pass ``next_cursor`` back to continue
    (None: this was the last page). Cursors are opaque strings."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What a key rotation did (``dermline keys rotate`` prints it)."""

    master_key_rotated: bool
    new_data_key_ids: tuple[int, ...]
    rows_reencrypted: int
    blobs_reencrypted: int
    retired_data_key_ids: tuple[int, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A stored blob: ``size`` and ``sha256`` describe the bytes as the caller streamed them
    in (i.e. the client's ciphertext, before at-rest encryption)."""

    blob_id: str
    size: int
    sha256: bytes


# --------------------------------------------------------------------------- blob store


@runtime_checkable
class BlobStore(Protocol):
    """Streamed, encrypted, atomic blob storage. The filesystem store is the default; an
    S3-compatible store can implement the same four methods (multipart upload for ``put``,
    ranged GET for ``open``)."""

    async def put(self, chunks: AsyncIterable[bytes], *, max_size: int) -> BlobInfo:
        """Store the stream under a new random id and return it. Never holds the whole
        stream in memory. Raises :class:`BlobTooLarge` (and stores nothing) when the stream
        exceeds ``max_size`` bytes. The blob is durable when this returns."""
        ...

    def open(self, blob_id: str) -> AsyncIterator[bytes]:
        """Stream the blob's bytes back in chunks. Raises :class:`NotFound` (on first
        iteration) for an unknown id and :class:`CorruptRecord` if the file was tampered
        with, including truncation."""
        ...

    async def size(self, blob_id: str) -> int:
        """The blob's size in bytes as it was streamed in; :class:`NotFound` if absent."""
        ...

    async def delete(self, blob_id: str) -> None:
        """Delete the blob (idempotent)."""
        ...


# --------------------------------------------------------------------------- storage


@runtime_checkable
class Storage(Protocol):
    """Everything the server persists. Implementations: ``storage.sqlite.SqliteStorage``,
    ``storage.postgres.PostgresStorage``; build one with :func:`storage.open_storage`."""

    @property
    def blobs(self) -> BlobStore:
        """The blob store that belongs to this storage (same at-rest keys)."""
        ...

    # ---- lifecycle

    async def close(self) -> None:
        """Flush pending writes and close every connection. Idempotent."""
        ...

    async def check_health(self) -> None:
        """Raise :class:`Unavailable` unless a read and a write round trip succeed."""
        ...

    async def schema_version(self) -> int:
        """The highest migration applied."""
        ...

    # ---- organisations

    async def create_organisation(self, org: Organisation) -> Organisation:
        """Store a new practice or service. :class:`Conflict` ("duplicate") if the id exists."""
        ...

    async def get_organisation(self, org_id: str) -> Organisation:
        """:class:`NotFound` if absent."""
        ...

    async def list_organisations(self, kind: OrgKind | None = None) -> list[Organisation]:
        """All organisations (optionally of one kind), ordered by id."""
        ...

    async def set_records_public_key(self, org_id: str, public_key: bytes) -> Organisation:
        """Set (or replace) the organisation's records public key."""
        ...

    # ---- users

    async def create_user(self, user: NewUser, memberships: Sequence[Membership] = ()) -> User:
        """Store a new account (first-admin setup, tests). :class:`Conflict` ("duplicate")
        if the user id or the login name is taken; :class:`NotFound` for an unknown org."""
        ...

    async def get_user(self, user_id: str) -> User:
        """:class:`NotFound` if absent."""
        ...

    async def find_user_by_login(self, login_name: str) -> User | None:
        """Look the user up by login name (through a blind index: the name itself is
        encrypted at rest). Returns None rather than raising, so that the pre-login path
        can answer the same shape for unknown users."""
        ...

    async def list_users(self, org_id: str | None = None) -> list[User]:
        """All users, or those with a membership in ``org_id``; ordered by user id."""
        ...

    async def count_users_with_role(self, role: Role) -> int:
        """How many users hold ``role`` anywhere (first-admin detection)."""
        ...

    async def add_membership(self, user_id: str, membership: Membership) -> User:
        """Give the user a role in an organisation (idempotent)."""
        ...

    async def remove_membership(self, user_id: str, membership: Membership) -> User:
        """Remove one role membership (idempotent)."""
        ...

    async def set_user_disabled(self, user_id: str, disabled: bool, now: _dt.datetime) -> User:
        """Disable or re-enable an account."""
        ...

    async def update_credentials(
        self,
        user_id: str,
        *,
        kdf_params: bytes,
        auth_key_hash: str,
        wrapped_usk: bytes,
        now: _dt.datetime,
        expected_auth_key_hash: str | None = None,
    ) -> User:
        """Change password: replace KDF parameters, auth-key hash and the KEK-wrapped USK in
        one transaction. With ``expected_auth_key_hash``, :class:`Conflict`
        ("state_changed") if the stored hash differs (a concurrent change won)."""
        ...

    async def update_auth_key_hash(self, user_id: str, auth_key_hash: str) -> None:
        """Replace only the Argon2id hash (rehash on login after a parameter upgrade)."""
        ...

    async def begin_totp_enrolment(self, user_id: str, secret: bytes, now: _dt.datetime) -> User:
        """Store a new, unconfirmed TOTP secret (replaces an unconfirmed one)."""
        ...

    async def confirm_totp(
        self,
        user_id: str,
        timecode: int,
        recovery_code_hashes: Sequence[str],
        now: _dt.datetime,
    ) -> User:
        """Mark TOTP confirmed, record ``timecode`` as used and store the hashed recovery
        codes, in one transaction. :class:`Conflict` ("totp_replay") if ``timecode`` is not
        newer than the last one used."""
        ...

    async def use_totp_timecode(self, user_id: str, timecode: int, now: _dt.datetime) -> User:
        """Compare-and-set the last used TOTP time step: succeeds only if ``timecode`` is
        strictly greater than the stored one, so the same code can never be accepted twice
        (not even by two racing requests). :class:`Conflict` ("totp_replay") otherwise."""
        ...

    async def consume_recovery_code(self, user_id: str, code_hash: str, now: _dt.datetime) -> User:
        """Remove ``code_hash`` from the unused recovery codes (exact match). The server
        hashes recovery codes deterministically (they are high-entropy). :class:`NotFound`
        ("recovery_code") if it is not there, so each code works once."""
        ...

    async def reset_totp(self, user_id: str, now: _dt.datetime) -> User:
        """Admin reset of the second factor: clear secret, timecode and recovery codes.
        (The server writes the audit entry.)"""
        ...

    async def record_auth_failure(
        self,
        user_id: str,
        now: _dt.datetime,
        *,
        lock_after: int,
        lock_for: _dt.timedelta,
    ) -> AuthFailureState:
        """Atomically increment the failure counter; when it reaches ``lock_after`` set
        ``locked_until = now + lock_for``. Returns the new state."""
        ...

    async def reset_auth_failures(self, user_id: str) -> None:
        """Clear the failure counter and any lockout (after a successful login)."""
        ...

    # ---- sessions

    async def create_session(self, session: Session) -> Session:
        """Store a new session. :class:`Conflict` ("duplicate") if the hash exists."""
        ...

    async def get_session(self, session_id_hash: bytes) -> Session | None:
        """The session (revoked or expired ones included: the caller checks), or None."""
        ...

    async def touch_session(
        self,
        session_id_hash: bytes,
        now: _dt.datetime,
        *,
        expires_at: _dt.datetime | None = None,
        mfa_verified: bool | None = None,
    ) -> Session:
        """Update ``last_seen_at`` (and optionally the expiry or the MFA flag).
        :class:`NotFound` if absent or revoked."""
        ...

    async def list_sessions(self, user_id: str, *, include_revoked: bool = False) -> list[Session]:
        """The user's sessions, newest first."""
        ...

    async def revoke_session(self, session_id_hash: bytes, now: _dt.datetime) -> None:
        """Revoke one session (idempotent; :class:`NotFound` if it never existed)."""
        ...

    async def revoke_user_sessions(
        self,
        user_id: str,
        now: _dt.datetime,
        *,
        except_hash: bytes | None = None,
    ) -> int:
        """Revoke every live session of the user (except ``except_hash``); returns how many."""
        ...

    async def delete_expired_sessions(self, now: _dt.datetime) -> int:
        """Housekeeping: delete sessions expired before ``now``; returns how many."""
        ...

    # ---- invites

    async def create_invite(self, invite: Invite) -> Invite:
        """Store an invite. :class:`NotFound` for an unknown organisation."""
        ...

    async def get_invite(self, token_hash: bytes) -> Invite:
        """:class:`NotFound` if absent."""
        ...

    async def list_invites(self, org_id: str) -> list[Invite]:
        """The organisation's invites, newest first."""
        ...

    async def revoke_invite(self, token_hash: bytes, now: _dt.datetime) -> Invite:
        """Revoke an unused invite (:class:`Conflict` "invite_used" if already used,
        "invite_revoked" if already revoked: of two racing revokes exactly one succeeds)."""
        ...

    async def accept_invite(self, token_hash: bytes, user: NewUser, now: _dt.datetime) -> User:
        """In one transaction: check the invite is unused, unrevoked and unexpired at
        ``now``, create the user with the invite's role membership, and mark the invite
        used. :class:`NotFound` (unknown token), :class:`Conflict` with ``invite_used`` /
        ``invite_expired`` / ``invite_revoked`` / ``duplicate``. Two racing accepts of the
        same token: exactly one succeeds."""
        ...

    # ---- patient links

    async def create_patient_link(self, link: PatientLink) -> PatientLink:
        """Store a new link (``uploads`` 0, unused, unrevoked). :class:`NotFound` for an
        unknown case, :class:`Conflict` "duplicate" for a reused id or token hash."""
        ...

    async def get_patient_link(self, link_id: str) -> PatientLink:
        """:class:`NotFound` if absent."""
        ...

    async def find_patient_link(self, token_hash: bytes) -> PatientLink:
        """The link whose token hashes to ``token_hash``; :class:`NotFound` if none."""
        ...

    async def list_patient_links(self, case_id: str) -> list[PatientLink]:
        """The case's links, newest first."""
        ...

    async def revoke_patient_link(self, link_id: str, now: _dt.datetime) -> PatientLink:
        """Revoke an unused link (idempotent); :class:`Conflict` "patient_link_used" if a
        submission already used it; :class:`NotFound`."""
        ...

    async def count_patient_upload(
        self, link_id: str, now: _dt.datetime, max_uploads: int
    ) -> PatientLink:
        """In one transaction: check the link is unused, unrevoked and unexpired at ``now``
        and has had fewer than ``max_uploads`` uploads, then add one. :class:`Conflict`
        "patient_link_invalid" or "patient_link_full"; :class:`NotFound`."""
        ...

    async def submit_patient_link(
        self, link_id: str, records: Sequence[bytes], now: _dt.datetime
    ) -> PatientLink:
        """Compare-and-set: mark the link used at ``now`` and keep ``records`` (1..100 drop
        records, each 1..70,000 bytes) if it is unused, unrevoked and unexpired. Two racing
        submissions: exactly one succeeds, the other gets :class:`Conflict`
        "patient_link_invalid"."""
        ...

    async def get_patient_submission(self, link_id: str) -> list[bytes]:
        """The drop records of the link's submission, in order; empty if unused."""
        ...

    # ---- cases

    async def create_case(
        self,
        case: NewCase,
        participants: Sequence[Participant],
        case_keys: Sequence[WrappedCaseKey],
    ) -> Case:
        """Create a case with its participants and its epoch-0 wrapped keys in one
        transaction. :class:`Conflict` ("duplicate") if the id exists; :class:`NotFound`
        for an unknown organisation or user. (Whether the keys include the practice's
        records key is a domain rule the server checks before calling.)"""
        ...

    async def get_case(self, case_id: str) -> Case:
        """:class:`NotFound` if absent."""
        ...

    async def transition_case(
        self,
        case_id: str,
        expected_state: CaseState,
        new_state: CaseState,
        now: _dt.datetime,
        *,
        claimed_by: str | None = None,
        outcome: Outcome | None = None,
    ) -> Case:
        """Compare-and-set the case state: move ``expected_state`` -> ``new_state`` only if
        the case is still in ``expected_state``; :class:`Conflict` ("state_changed")
        otherwise, so two racing moves cannot both win. In the same transaction:
        ``claimed_by`` records the claim (and adds the claimant as a dermatologist
        participant); ``outcome`` stores the outcome and its category; a move to
        ``submitted`` sets ``submitted_at`` if unset; a move to ``closed`` or
        ``withdrawn`` sets ``closed_at``."""
        ...

    async def triage_queue(
        self,
        service_id: str,
        *,
        states: Sequence[CaseState] = (CaseState.SUBMITTED,),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        """The service's queue: cases in ``states``, urgent before routine, then oldest
        ``submitted_at`` first (ties by case id). Keyset-paginated."""
        ...

    async def list_cases_for_user(
        self,
        user_id: str,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        """Cases the user participates in, most recently updated first."""
        ...

    async def list_cases_for_organisation(
        self,
        org_id: str,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        """Cases of a practice or a service (admins, figures), most recently updated first."""
        ...

    # ---- participants and case keys

    async def add_participant(self, participant: Participant) -> None:
        """Add a participant (idempotent)."""
        ...

    async def remove_participant(self, case_id: str, user_id: str) -> None:
        """Remove a participant (idempotent)."""
        ...

    async def list_participants(self, case_id: str) -> list[Participant]:
        """The case's participants, ordered by ``added_at``."""
        ...

    async def is_participant(self, case_id: str, user_id: str) -> bool:
        """Whether the user participates in the case (access checks)."""
        ...

    async def add_case_keys(self, keys: Sequence[WrappedCaseKey]) -> None:
        """Store wrapped case keys (a new epoch after a membership change). All keys must
        belong to one case; :class:`Conflict` ("duplicate") if one exists; the case's
        ``key_epoch`` is raised to the highest epoch stored."""
        ...

    async def add_participants_with_keys(
        self, participants: Sequence[Participant], keys: Sequence[WrappedCaseKey]
    ) -> None:
        """Add new participants and their wrapped case keys in one transaction (a participant
        shares the case key of an existing epoch with colleagues, docs/protocol.md section
        8). All rows must belong to one case (:class:`InvalidArgument` otherwise, or if
        ``participants`` is empty); :class:`NotFound` if the case or a user does not exist;
        :class:`Conflict` ("duplicate") if a user already participates or a key exists, and
        then nothing is stored. The case's ``key_epoch`` is not changed."""
        ...

    async def get_case_keys(
        self,
        case_id: str,
        *,
        recipient_kind: KeyRecipientKind | None = None,
        recipient_id: str | None = None,
    ) -> list[WrappedCaseKey]:
        """Wrapped keys of the case (optionally for one recipient), by epoch."""
        ...

    # ---- messages

    async def append_message(
        self,
        case_id: str,
        client_msg_id: str,
        sender_id: str,
        envelope: bytes,
        now: _dt.datetime,
    ) -> AppendResult:
        """Insert a message and assign the next per-case sequence number in the same
        transaction. A repeated ``client_msg_id`` returns the stored original with
        ``created=False`` (idempotent retry); the same id from another sender raises
        :class:`Conflict` ("message_id_taken"). :class:`NotFound` for an unknown case.
        Sequence numbers have no gaps and no duplicates under any concurrency."""
        ...

    async def list_messages(
        self, case_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Message]:
        """Replay: messages with ``seq > after_seq`` in order, at most ``limit``."""
        ...

    async def get_message(self, case_id: str, client_msg_id: str) -> Message:
        """:class:`NotFound` if absent."""
        ...

    # ---- attachments

    async def create_attachment(self, attachment: Attachment) -> Attachment:
        """Record an uploaded blob as an attachment of the case."""
        ...

    async def get_attachment(self, attachment_id: str) -> Attachment:
        """:class:`NotFound` if absent."""
        ...

    async def list_attachments(self, case_id: str) -> list[Attachment]:
        """The case's attachments in upload order."""
        ...

    # ---- outcomes

    async def get_outcome(self, case_id: str) -> Outcome | None:
        """The case's outcome, or None."""
        ...

    async def update_outcome(
        self, case_id: str, expected: bytes, new: Outcome, now: _dt.datetime
    ) -> Case:
        """Compare-and-set a closed case's outcome (the two-week-wait downgrade): replace it
        with ``new`` (category and payload sealed at rest like the original) only if the
        stored payload is still exactly ``expected``; :class:`Conflict` ("outcome_changed")
        otherwise, or if the case has no outcome; :class:`NotFound` for an unknown case.
        The case's ``updated_at`` becomes ``now``; its state does not change."""
        ...

    async def outcome_counts(
        self, service_id: str, since: _dt.datetime | None = None
    ) -> dict[OutcomeCategory, int]:
        """Service figures: closed cases per outcome category (optionally since a time)."""
        ...

    # ---- receipts

    async def record_receipt(
        self,
        case_id: str,
        user_id: str,
        kind: ReceiptKind,
        seq: int,
        now: _dt.datetime,
    ) -> Receipt:
        """Raise the user's receipt to ``seq`` (never lowers it); returns the stored one."""
        ...

    async def list_receipts(self, case_id: str) -> list[Receipt]:
        """All stored receipts of the case."""
        ...

    # ---- audit log

    async def append_audit(self, event: AuditEvent) -> AuditEntry:
        """Append an event to the hash chain (its content is encrypted at rest)."""
        ...

    async def list_audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries with ``seq > after_seq`` in order."""
        ...

    async def checkpoint_audit(self, now: _dt.datetime) -> AuditCheckpoint:
        """Sign the current head of the chain with the server's audit key and store the
        checkpoint. :class:`NotFound` ("audit_entry") if the log is empty."""
        ...

    async def audit_public_key(self) -> bytes:
        """The audit signing public key (SubjectPublicKeyInfo DER), for offline checks."""
        ...

    async def verify_audit(self) -> AuditVerification:
        """Re-derive the whole chain and check every checkpoint signature. Raises
        :class:`AuditIntegrityError` naming the first entry that is edited, missing, out of
        order, or beyond which the log was truncated."""
        ...

    # ---- at-rest keys

    async def rotate_keys(
        self,
        *,
        new_master_key: bytes | None = None,
        rotate_data_keys: bool = True,
        batch_size: int = 500,
    ) -> RotationReport:
        """Rotate at-rest keys while serving: optionally re-wrap every data key under a new
        master key; optionally make new data keys and re-encrypt every row and blob in
        batches (each batch its own transaction, resumable: running it again continues where
        an interrupted run stopped). Old data keys are retired once nothing uses them."""
        ...
