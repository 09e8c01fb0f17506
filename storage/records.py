"""Every record and enumeration the storage interface speaks (``docs/storage.md``).

Frozen dataclasses for what is stored and returned, ``StrEnum``s for roles, states,
priorities, outcome categories and receipt kinds. The protocols in
:mod:`storage.interface` and both implementations (:mod:`storage.sql`,
:mod:`storage.memory`) use these; :mod:`storage` re-exports every name, so callers write
``from storage import CaseState``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

__all__ = [
    "AppendResult",
    "Attachment",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditEvent",
    "AuditVerification",
    "AuthFailureState",
    "BlobInfo",
    "Case",
    "CaseRemoval",
    "CaseState",
    "Invite",
    "KeyRecipientKind",
    "LogAppend",
    "LogKind",
    "LogRecord",
    "Membership",
    "Message",
    "NewCase",
    "NewMessage",
    "NewUser",
    "NotificationSettings",
    "OrgKey",
    "OrgKeyWrap",
    "OrgKind",
    "Organisation",
    "Outcome",
    "OutcomeCategory",
    "Page",
    "Participant",
    "Passkey",
    "PasskeyChallenge",
    "PasskeyPurpose",
    "PasskeyRequirement",
    "PatientLink",
    "Priority",
    "PushSubscription",
    "Receipt",
    "ReceiptKind",
    "RecordsKeyApproval",
    "RecordsKeyPending",
    "RemovalReason",
    "Role",
    "RotationReport",
    "Session",
    "SignedTreeHead",
    "TransitionResult",
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
    """Role of a user in one organisation (``docs/architecture.md``, "Access policy")."""

    GP = "gp"
    DERMATOLOGIST = "dermatologist"
    ADMIN = "admin"
    RECORDS_OFFICER = "records_officer"
    AUDITOR = "auditor"


class PasskeyPurpose(StrEnum):
    """What a stored WebAuthn challenge (or grant) is for (``docs/architecture.md``,
    "Passkeys")."""

    REGISTER = "register"  # registering a passkey (a signed-in or granted session)
    SECOND_FACTOR = "second_factor"  # a pending session's second factor
    SIGN_IN = "sign_in"  # a sign-in with a discoverable passkey alone (no session yet)
    ENROL_GRANT = "enrol_grant"  # a pending session that must register a passkey to finish


class CaseState(StrEnum):
    """Case states (``docs/architecture.md``, "The case lifecycle": the server's table)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    AWAITING_GP = "awaiting_gp"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Priority(StrEnum):
    """Routing priority (``docs/architecture.md``, "What the server sees"). The triage queue
    shows ``urgent`` first."""

    URGENT = "urgent"
    ROUTINE = "routine"


class OutcomeCategory(StrEnum):
    """Outcome category (``docs/architecture.md``); the clinical content is an E2EE payload."""

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
    organisation's records key (``docs/protocol.md``); a practice needs one before it can
    open cases."""

    org_id: str
    kind: OrgKind
    name: str
    records_public_key: bytes | None
    created_at: _dt.datetime
    #: the sequence of the current certified records key (its statement is in the
    #: transparency log); None for none or for a legacy, uncertified first key
    records_key_sequence: int | None = None
    #: the key id of the organisation key (``OrgKey``), None before it has one
    org_key_id: bytes | None = None


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
    """Result of :meth:`~storage.interface.AccountStore.record_auth_failure`."""

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
    #: a certified invite's signed invite statement (0x0c kind 0x02) and, for an
    #: administrator's invite, the organisation key handover (0x10); opaque to storage
    statement: bytes | None = None
    handover: bytes | None = None


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
    """Routing metadata of a new case (``docs/architecture.md``, "What the server sees"). No
    clinical content here: that travels end-to-end encrypted in messages and attachments."""

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


class RemovalReason(StrEnum):
    """Why someone stopped being a participant of a case (docs/protocol.md section 24)."""

    CASE = "case"  # taken off this one case by the referrer or the responder
    ACCOUNT = "account"  # their account was disabled
    MEMBERSHIP = "membership"  # they lost the role or membership the case needs


@dataclass(frozen=True, slots=True)
class CaseRemoval:
    """A person taken off a case. ``epoch`` is the case's key epoch when it happened: while
    the case's ``key_epoch`` still equals it, the case needs a new epoch (a rotation) before
    anything more is sent; a rotation (``rotate_case_key``) moves the case past it."""

    case_id: str
    user_id: str
    epoch: int
    reason: RemovalReason
    removed_by: str | None
    removed_at: _dt.datetime


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
class NewMessage:
    """A message to append together with a case move (``transition_case(message=...)``):
    the same fields :meth:`Storage.append_message` takes, minus the case and the time."""

    client_msg_id: str
    sender_id: str
    envelope: bytes


@dataclass(frozen=True, slots=True)
class TransitionResult:
    """Result of :meth:`Storage.transition_case`: the case after the move, and the appended
    message (None when the move carried none). ``message.created`` is false when the
    request was a retry of a move already applied (``docs/storage.md``, "Move with a
    message")."""

    case: Case
    message: AppendResult | None = None


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


@dataclass(frozen=True, slots=True)
class Passkey:
    """A WebAuthn credential registered to a user (``storage.interface.PasskeyStore``).

    ``public_key`` is the COSE_Key the authenticator made; ``prf_wrap`` the user's USK
    wrapped under the passkey's PRF output (record 0x11, docs/protocol.md section 25), if the
    client made one. ``aaguid``, ``transports`` and the backup flags are what the
    authenticator said at registration (the flags are refreshed at each use)."""

    passkey_id: str
    user_id: str
    credential_id: bytes
    public_key: bytes
    sign_count: int
    name: str
    created_at: _dt.datetime
    aaguid: str = ""
    transports: tuple[str, ...] = ()
    backup_eligible: bool = False
    backed_up: bool = False
    prf_wrap: bytes | None = None
    last_used_at: _dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PasskeyChallenge:
    """A single-use WebAuthn challenge (or an enrolment grant), stored by the SHA-256 of its
    bytes; bound to the user and session it was issued to, when there is one."""

    challenge_hash: bytes
    purpose: PasskeyPurpose
    created_at: _dt.datetime
    expires_at: _dt.datetime
    user_id: str | None = None
    session_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class PasskeyRequirement:
    """An organisation requires passkeys of its members in ``role`` (None: every role)."""

    org_id: str
    role: Role | None
    created_at: _dt.datetime
    created_by: str | None = None


# --------------------------------------------------------------------------- transparency


class LogKind(StrEnum):
    """What a transparency-log entry is about (how the directory finds it; the entry itself
    says the same, ``crypto.log_entry``)."""

    ORG_KEY = "org_key"
    INVITE = "invite"
    MEMBER = "member"
    UNCERTIFIED = "uncertified"
    RECORDS_KEY = "records_key"
    APPROVAL = "approval"
    REMOVAL = "removal"


@dataclass(frozen=True, slots=True)
class LogAppend:
    """One entry to append to the transparency log (``docs/protocol.md`` section 19), with
    what it is looked up by: the organisation and the person it is about and ``ref`` (the
    hex statement hash of a statement entry)."""

    entry: bytes
    kind: LogKind
    org_id: str | None = None
    user_id: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A stored log entry at leaf ``index``."""

    index: int
    entry: bytes
    kind: LogKind
    org_id: str | None
    user_id: str | None
    ref: str | None


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A signed tree head (record 0x0d) the log made for its first ``tree_size`` entries."""

    tree_size: int
    head: bytes
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class OrgKey:
    """An organisation's key: its self-signed statement (0x0c kind 0x01), in the log."""

    org_id: str
    statement: bytes
    key_id: bytes
    created_by: str | None
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class OrgKeyWrap:
    """The organisation key's private scalar wrapped to one administrator (record 0x0f)."""

    org_id: str
    recipient_id: str
    wrapper_id: str
    wrap: bytes
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class RecordsKeyApproval:
    """One administrator's approval (0x0c kind 0x05) of a pending records-key change."""

    approver_id: str
    approval: bytes
    created_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class RecordsKeyPending:
    """A records-key statement signed by the organisation key, waiting for two approvals
    (``docs/protocol.md`` section 20). ``public_key`` and ``sequence`` are the statement's."""

    org_id: str
    statement_hash: bytes
    statement: bytes
    sequence: int
    public_key: bytes
    proposed_by: str
    proposed_at: _dt.datetime
    approvals: tuple[RecordsKeyApproval, ...] = ()


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A browser's Web Push subscription (RFC 8030): where to push (``endpoint``, a URL of
    the browser's push service) and the keys to encrypt to (RFC 8291: ``p256dh`` a P-256
    point, ``auth`` 16 bytes). ``counter`` counts the pushes sent to it (the opaque number a
    push carries)."""

    subscription_id: str
    user_id: str
    endpoint: str
    p256dh: bytes
    auth: bytes
    created_at: _dt.datetime
    counter: int = 0


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """A person's notification choices (``docs/api.md``, "Notifications"): a sound in the
    page, and e-mail notices (to the login name). Push is per device (a subscription)."""

    user_id: str
    sound: bool = False
    email: bool = False
