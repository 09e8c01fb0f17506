"""Wire shapes of the HTTP API and the Socket.IO events (pydantic), the single source of
truth for both transports.

The same models validate requests, serialise responses and events, and generate
``/api/v1/openapi.json`` (``server.api.openapi``), so the document cannot drift from what
the server accepts and returns, and a resource has the same fields over HTTP and Socket.IO
(a ``case`` event is a :class:`CaseOut` plus the outcome's coded part). Binary values (key
records, envelopes) travel as unpadded base64url strings. Models forbid unknown fields: a
typo is an error, not silently ignored. ``server.wire.render`` builds them from domain
records.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from server.domain.outcomes import Destination, RejectionReason, Urgency
from server.domain.records import CaseState, OrgKind, OutcomeCategory, Role

__all__ = ["B64", "Id", "Model", "Uuid"]


def _decode_b64(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str) or len(value) > 2_000_000:
        raise ValueError("expected a base64url string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("expected a base64url string") from None


def _encode_b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


B64 = Annotated[
    bytes,
    BeforeValidator(_decode_b64),
    PlainSerializer(_encode_b64, return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64url"}),
]

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
Uuid = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Token = Annotated[str, Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- common


class ErrorBody(Model):
    code: str
    message: str


class ErrorResponse(Model):
    error: ErrorBody


class Health(Model):
    status: Literal["ok"]


# ---------------------------------------------------------------- transparency log


class LogRefOut(Model):
    """An entry of the transparency log with its inclusion proof against the ``tree_head``
    of the same answer (``docs/api.md``, "Transparency log"). Clients take facts from the
    entry, never from neighbouring fields."""

    index: int
    entry: B64
    proof: list[B64]


class TreeHeadOut(Model):
    tree_head: B64
    log_public_key: B64


class ConsistencyOut(Model):
    model_config = ConfigDict(
        extra="forbid", frozen=True, serialize_by_alias=True, validate_by_name=True
    )

    from_: int = Field(alias="from")
    to: int
    proof: list[B64]


class InclusionOut(Model):
    index: int
    size: int
    proof: list[B64]


class LogEntryOut(Model):
    index: int
    entry: B64


class LogEntriesOut(Model):
    entries: list[LogEntryOut]
    tree_head: B64


# ---------------------------------------------------------------- accounts


class PreloginRequest(Model):
    login_name: Name


class PreloginResponse(Model):
    kdf_params: B64


class LoginRequest(Model):
    login_name: Name
    auth_key: B64


class LoginResponse(Model):
    next: Literal["totp", "enrol", "passkey", "passkey_only", "passkey_enrol", "done"]
    csrf_token: str | None = None
    #: after the second step: failed attempts on the account (password or second factor,
    #: from any address) since the previous sign-in, to show the person
    failed_attempts: int | None = None


class TotpRequest(Model):
    code: Annotated[str | None, Field(max_length=12)] = None
    recovery_code: Annotated[str | None, Field(max_length=32)] = None


class EnrolmentResponse(Model):
    otpauth_uri: str
    qr_svg: str


class ConfirmEnrolmentRequest(Model):
    code: Annotated[str, Field(max_length=12)]


class ConfirmEnrolmentResponse(Model):
    next: Literal["done", "passkey_enrol"]
    csrf_token: str
    recovery_codes: list[str]


class InviteInspectRequest(Model):
    token: Token


class InviteInspectResponse(Model):
    org_id: str
    org_name: str
    org_kind: OrgKind
    role: Role
    expires_at: dt.datetime
    login_name: str | None
    invite_statement: LogRefOut | None
    org_key: LogRefOut | None
    handover: B64 | None
    tree_head: B64
    log_public_key: B64


class AcceptInviteRequest(Model):
    #: the member statement signed with the invite key (required for a certified invite)
    member_statement: B64 | None = None
    token: Token
    user_id: Uuid
    login_name: Name
    display_name: Name
    kdf_params: B64
    auth_key: B64
    wrapped_usk: B64
    encryption_public_key: B64
    signing_public_key: B64
    sealed_private_keys: B64
    recovery_wrapped_usk: B64 | None = None
    org_wrapped_usk: B64 | None = None


class MembershipOut(Model):
    org_id: str
    role: Role


class UserOut(Model):
    user_id: str
    display_name: str
    memberships: list[MembershipOut]
    encryption_public_key: B64
    signing_public_key: B64
    totp_enrolled: bool


class AdminUserOut(UserOut):
    login_name: str
    locked: bool
    disabled: bool


class MeResponse(UserOut):
    login_name: str
    kdf_params: B64
    wrapped_usk: B64
    sealed_private_keys: B64
    recovery_wrapped_usk: B64 | None
    org_wrapped_usk: B64 | None


class SessionOut(Model):
    session_ref: str
    current: bool
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    client_address: str
    user_agent: str


class SessionList(Model):
    sessions: list[SessionOut]


class ChangePasswordRequest(Model):
    current_auth_key: B64
    kdf_params: B64
    auth_key: B64
    wrapped_usk: B64


# ---------------------------------------------------------------- passkeys (WebAuthn)

#: A WebAuthn answer in its JSON form (``PublicKeyCredential.toJSON()``, WebAuthn Level 3
#: ``RegistrationResponseJSON`` / ``AuthenticationResponseJSON``); checked by the domain.
WebAuthnCredential = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "description": "PublicKeyCredential.toJSON()"}),
]


class WebAuthnOptions(Model):
    """``PublicKeyCredentialCreationOptionsJSON`` or ``...RequestOptionsJSON``: pass to
    ``PublicKeyCredential.parseCreationOptionsFromJSON`` / ``parseRequestOptionsFromJSON``
    (the client adds the PRF extension)."""

    options: dict[str, Any]


class PasskeyAssertionRequest(Model):
    credential: WebAuthnCredential


class PasskeyRegisterRequest(Model):
    credential: WebAuthnCredential
    name: Annotated[str, Field(min_length=1, max_length=100)]
    #: the USK wrapped under the passkey's PRF output (record 0x11), if the client made one
    prf_wrap: B64 | None = None


class PasskeyOut(Model):
    passkey_id: str
    name: str
    credential_id: B64
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    transports: list[str]
    backup_eligible: bool
    backed_up: bool
    aaguid: str
    prf_wrap: B64 | None


class PasskeyList(Model):
    passkeys: list[PasskeyOut]


class PasskeyRegistered(Model):
    passkey: PasskeyOut
    #: "done" when this registration finished a sign-in under a passkey requirement
    next: Literal["done"] | None = None
    csrf_token: str | None = None


class PasskeyRenameRequest(Model):
    name: Annotated[str, Field(min_length=1, max_length=100)]


class PasskeyUnlockRequest(Model):
    prf_wrap: B64 | None


class PasskeyLoginResponse(Model):
    next: Literal["done"]
    csrf_token: str | None = None
    #: failed attempts on the account since the previous sign-in (as ``LoginResponse``)
    failed_attempts: int | None = None
    #: the passkey that signed in, with its USK wrap (unlock without the password)
    passkey: PasskeyOut


class PasskeyPolicyRequest(Model):
    everyone: bool
    roles: Annotated[list[Role], Field(max_length=8)]


class PasskeyPolicyOut(Model):
    org_id: str
    everyone: bool
    roles: list[Role]


# ---------------------------------------------------------------- organisations


class OrganisationOut(Model):
    org_id: str
    kind: OrgKind
    name: str
    records_public_key: B64 | None
    #: hex of the organisation key's 16-byte key id, for display (the key itself is in the
    #: directory's ``org_key`` log reference)
    org_key_id: str | None = None


class OrganisationList(Model):
    organisations: list[OrganisationOut]


class CreateOrganisationRequest(Model):
    kind: OrgKind
    name: Name
    records_public_key: B64 | None = None


class RecordsKeyRequest(Model):
    """Exactly one: a raw key (the legacy, uncertified first key) or a records-key
    statement (0x0c kind 0x04)."""

    records_public_key: B64 | None = None
    statement: B64 | None = None


class RecordsKeyPendingOut(Model):
    statement: B64
    statement_hash: str
    approvals: list[B64]
    proposed_by: str
    proposed_at: dt.datetime


class RecordsKeyOut(OrganisationOut):
    """The organisation after the change; ``pending`` set (status 202) when a change signed
    by the organisation key waits for approvals."""

    pending: RecordsKeyPendingOut | None = None


class RecordsKeyPendingList(Model):
    pending: list[RecordsKeyPendingOut]


class ApprovalRequest(Model):
    approval: B64


class ApprovalOut(Model):
    pending: RecordsKeyPendingOut | None
    current_sequence: int | None


class OrgKeyRequest(Model):
    statement: B64
    wraps: Annotated[list[B64], Field(min_length=1, max_length=100)]


class OrgKeyOut(Model):
    org_id: str
    org_key: LogRefOut
    tree_head: B64


class OrgKeyWrapOut(Model):
    wrap: B64
    wrapper_user_id: str
    wrapper_signing_public_key: B64


class OrgKeyWrapsRequest(Model):
    wraps: Annotated[list[B64], Field(min_length=1, max_length=100)]


class CertificationRequest(Model):
    statement: B64


class CertificationOut(Model):
    member: LogRefOut
    invite: LogRefOut | None


class CertifiedOut(Model):
    certification: CertificationOut
    tree_head: B64


class CreateInviteRequest(Model):
    role: Role
    login_name: Name | None = None
    #: a certified invite: the token the client made (43 base64url characters), the
    #: invite statement signed by the organisation key and, for an administrator, the
    #: organisation key handover (``docs/api.md``, "Invites")
    token: Token | None = None
    invite_statement: B64 | None = None
    handover: B64 | None = None


class InviteOut(Model):
    token: str
    org_id: str
    role: Role
    expires_at: dt.datetime


class UserList(Model):
    users: list[AdminUserOut]


class RecordsKeyLinkOut(Model):
    statement: LogRefOut
    approvals: list[LogRefOut]


class DirectoryOrgOut(OrganisationOut):
    org_key: LogRefOut | None
    records_keys: list[RecordsKeyLinkOut]


class DirectoryMemberOut(UserOut):
    certification: CertificationOut | None
    uncertified: LogRefOut | None


class DirectoryResponse(Model):
    tree_head: B64
    org: DirectoryOrgOut
    members: list[DirectoryMemberOut]
    removals: list[LogRefOut]


class RevokedCount(Model):
    revoked: int


class InviteSummaryOut(Model):
    """An invite as its organisation's admins see it. ``invite_id`` is the hex of the
    token's SHA-256 (the token itself is never shown again)."""

    invite_id: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    org_id: str
    role: Role
    login_name: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    created_by: str | None
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    status: Literal["pending", "used", "revoked", "expired"]


class InviteSummaryList(Model):
    invites: list[InviteSummaryOut]


# ---------------------------------------------------------------- cases


class WrappedKeyIn(Model):
    recipient_kind: Literal["user", "organisation"]
    recipient_id: Id
    wrapped_key: B64


class CreateCaseRequest(Model):
    case_id: Uuid
    practice_id: Id
    service_id: Id
    priority: Literal["routine", "urgent"]
    participants: Annotated[list[Id], Field(min_length=1, max_length=200)]
    case_keys: Annotated[
        list[WrappedKeyIn],
        Field(
            min_length=2,
            max_length=202,
            description=(
                "The epoch-0 case key wrapped (record type 0x0b, signed by the caller) to every"
                " participant and to the practice's records key. All wraps must carry the same"
                " key commitment: otherwise 422 case_key_mismatch. Legacy 0x06 wraps are"
                " refused (422 wrap_outdated)."
            ),
        ),
    ]
    draft: bool = False


class SharedWrapIn(Model):
    recipient_id: Id
    wrapped_key: B64


class ShareCaseKeysRequest(Model):
    case_keys: Annotated[
        list[SharedWrapIn],
        Field(
            min_length=1,
            max_length=200,
            description=(
                "The epoch-0 case key wrapped (record type 0x0b, signed by the caller, who must"
                " hold a wrap of epoch 0) to dermatologists of the case's service who are not"
                " participants yet. Each wrap's key commitment must equal the epoch's:"
                " otherwise 422 case_key_mismatch. A recipient who already participates: 409"
                " conflict; one who is not a current dermatologist of the service: 422"
                " validation_failed."
            ),
        ),
    ]


class SharedCaseKeysOut(Model):
    case_id: str
    added: list[str]


class CaseOut(Model):
    case_id: str
    practice_id: str
    service_id: str
    created_by: str
    state: CaseState
    priority: Literal["routine", "urgent"]
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    claimed_by: str | None
    closed_at: dt.datetime | None
    outcome_category: OutcomeCategory | None
    last_seq: int
    key_epoch: int


class CaseList(Model):
    cases: list[CaseOut]
    next_cursor: str | None


class ParticipantOut(Model):
    """A participant with the public keys a reader needs to verify their signatures, the
    organisation they take part for, and the log reference of their keys (their newest
    entry there: ``certification`` or ``uncertified``, as in the directory)."""

    user_id: str
    role: Role
    display_name: str
    encryption_public_key: B64
    signing_public_key: B64
    org_id: str | None = None
    certification: CertificationOut | None = None
    uncertified: LogRefOut | None = None


class CaseOrgOut(Model):
    """The practice or the service of a case with its organisation key and records-key
    chain from the log."""

    org_id: str
    kind: OrgKind
    name: str
    #: the current records key (as ``OrganisationOut``): a dermatologist who rotates the
    #: case wraps to the practice's, which no directory answer shows them
    records_public_key: B64 | None = None
    org_key_id: str | None = None
    org_key: LogRefOut | None
    records_keys: list[RecordsKeyLinkOut]


class WrappedKeyOut(Model):
    epoch: int
    recipient_kind: Literal["user", "organisation"]
    recipient_id: str
    wrapped_key: B64


class RotationOut(Model):
    """The case needs a new epoch: messages, uploads and shares wait for it
    (``docs/protocol.md`` section 24)."""

    next_epoch: int
    removed: list[str]


class RemovedOut(Model):
    """Someone taken off the case. ``log`` is the log reference of the removal when it is a
    directory change (an account disabled, a role removed); null for one case's removal."""

    user_id: str
    log: LogRefOut | None = None


class CaseDetail(Model):
    #: the signed head every log reference of this answer is proved against
    tree_head: B64 | None = None
    case: CaseOut
    participants: list[ParticipantOut]
    orgs: list[CaseOrgOut] = []
    case_keys: list[WrappedKeyOut]
    outcome: OutcomeOut | None
    rotation: RotationOut | None = None
    removed: list[RemovedOut] = []


class EpochRequest(Model):
    epoch: Annotated[int, Field(ge=1, le=2**31 - 1)]
    case_keys: Annotated[
        list[WrappedKeyIn],
        Field(
            min_length=1,
            max_length=210,
            description=(
                "The new epoch's case key wrapped (0x0b, signed by the caller, all of one key)"
                " to every remaining participant and to the records key of the practice and of"
                " the service when it has one: 422 wrap_recipients when one is missing or"
                " names a removed person or a stranger."
            ),
        ),
    ]


class RemoveRoleRequest(Model):
    role: Role


class MessageIn(Model):
    client_msg_id: Uuid
    envelope: Annotated[B64, Field(max_length=192 * 1024)]


class MessageOut(Model):
    case_id: str
    seq: int
    client_msg_id: str
    sender_id: str
    envelope: B64
    created_at: dt.datetime


class MessageList(Model):
    messages: list[MessageOut]


class SendResult(Model):
    seq: int
    duplicate: bool


class TransitionRequest(Model):
    """A state move, optionally carrying a thread message (a question, an answer)."""

    message: MessageIn | None = None


class OutcomeIn(Model):
    category: OutcomeCategory
    urgency: Urgency | None = None
    destination: Destination | None = None
    reasons: Annotated[list[RejectionReason], Field(max_length=6)] = []
    payload: Annotated[B64, Field(max_length=192 * 1024)]


class DowngradeOut(Model):
    """A two-week-wait referral lowered by the referring GP: the original decision stays."""

    from_urgency: Urgency
    by: str
    at: dt.datetime
    reason_msg_id: str  # the thread message with the GP's (encrypted) reason


class OutcomeCodesOut(Model):
    """The outcome's coded part: what the server sees of it (never the clinical payload)."""

    category: OutcomeCategory
    urgency: Urgency | None
    destination: Destination | None
    reasons: list[RejectionReason]
    downgrade: DowngradeOut | None = None


class OutcomeOut(OutcomeCodesOut):
    """The outcome as its readers fetch it: the codes, the encrypted payload, its author."""

    payload: B64
    author_id: str
    created_at: dt.datetime


class RetentionIn(Model):
    """The closing client's retention date (``client_py/retention.py``): 31 December of the
    year the Records Management Code of Practice rule gives."""

    retain_until: dt.date


class CloseRequest(Model):
    outcome: OutcomeIn
    retention: RetentionIn | None = None


class DowngradeRequest(Model):
    """Lower a two-week-wait referral; ``reason`` is an encrypted text message (type 0x01)."""

    urgency: Literal["urgent", "routine"]
    reason: MessageIn


class ReceiptIn(Model):
    kind: Literal["delivered", "read"]
    seq: Annotated[int, Field(ge=0, le=2**62)]


class ReceiptOut(Model):
    user_id: str
    kind: Literal["delivered", "read"]
    seq: int
    updated_at: dt.datetime


class ReceiptList(Model):
    receipts: list[ReceiptOut]


CaseDetail.model_rebuild()


class LiveCaseOut(CaseOut):
    """A case as the Socket.IO ``case`` and ``queue`` events, and the ``join`` and ``sync``
    answers, carry it: every :class:`CaseOut` field, and the outcome's coded part (``None``
    until the case is closed)."""

    outcome: OutcomeCodesOut | None


class AttachmentOut(Model):
    attachment_id: str
    uploader_id: str
    size: int
    ciphertext_sha256: str  # lower-case hex, as in the photo-reference message
    created_at: dt.datetime


class AttachmentList(Model):
    attachments: list[AttachmentOut]


# ---------------------------------------------------------------- patient photo links


class PatientLinkCreate(Model):
    """``ttl_minutes`` 15..4320 (3 days); ``max_photos`` 1..10."""

    ttl_minutes: int = Field(default=24 * 60, ge=15, le=3 * 24 * 60)
    max_photos: int = Field(default=6, ge=1, le=10)


class PatientLinkOut(Model):
    link_id: Uuid
    case_id: Id
    created_by: Id
    created_at: dt.datetime
    expires_at: dt.datetime
    max_photos: int
    uploads: int
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    status: Literal["active", "used", "revoked", "expired"]


class PatientLinkCreated(Model):
    """The token is shown once: the GP's client puts it in the link's URL fragment."""

    link: PatientLinkOut
    token: B64


class PatientLinkList(Model):
    links: list[PatientLinkOut]


class PatientSubmissionOut(Model):
    """The patient's drop records (type 0x0a, docs/protocol.md section 17), in order."""

    link: PatientLinkOut
    records: list[B64]


class PatientLinkInfo(Model):
    """What the patient's page learns from a valid token."""

    link_id: Uuid
    expires_at: dt.datetime
    max_photos: int


class PatientSubmitRequest(Model):
    records: list[B64] = Field(min_length=1, max_length=10)


class PatientSubmitResult(Model):
    received: int


# ---------------------------------------------------------------- Socket.IO events

# Sequence numbers are 64-bit in storage; a larger one is a validation error, not a
# storage failure answered "internal".
Seq = Annotated[int, Field(ge=0, le=2**62)]


class SendIn(Model):
    case_id: Id
    client_msg_id: Uuid
    envelope: B64


class CaseRef(Model):
    case_id: Id


class ReceiptEventIn(Model):
    case_id: Id
    kind: str
    seq: Seq


class SyncIn(Model):
    # Bounded: one sync cannot make the server load thousands of cases.
    cases: Annotated[dict[Id, Seq], Field(max_length=500)] = {}
    limit: Annotated[int, Field(ge=1, le=1000)] = 500


class SyncCaseOut(Model):
    """One case of a ``sync`` answer: the case, the messages after the asked ``seq``, and
    whether more follow (then ``sync`` again from the last one)."""

    case: LiveCaseOut
    messages: list[MessageOut]
    more: bool


class LiveReceiptOut(ReceiptOut):
    """The ``receipt`` event: a :class:`ReceiptOut` and the case it belongs to."""

    case_id: str


class TypingOut(Model):
    """The ``typing`` event (relayed, never stored)."""

    case_id: str
    user_id: str


class PatientPhotosOut(Model):
    """The ``patient_photos`` event: a patient sent photos through this link."""

    case_id: str
    link_id: str


# ---------------------------------------------------------------- notifications


class PushKey(Model):
    #: the VAPID public key (P-256 point, base64url): PushManager.subscribe's
    #: applicationServerKey
    public_key: str


class PushSubscriptionKeys(Model):
    p256dh: B64
    auth: B64


class PushSubscriptionRequest(Model):
    """A browser's ``PushSubscription.toJSON()`` (``expirationTime`` is ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint: Annotated[str, Field(min_length=8, max_length=2048)]
    keys: PushSubscriptionKeys


class PushSubscriptionOut(Model):
    subscription_id: str
    created_at: dt.datetime


class NotificationSettingsRequest(Model):
    sound: bool
    email: bool


class NotificationSettingsOut(Model):
    sound: bool
    email: bool
    #: whether the server can send e-mail notices (an SMTP server is configured)
    email_available: bool
    #: this person's push subscriptions (one per browser)
    subscriptions: list[PushSubscriptionOut]


class NoticeOut(Model):
    """The Socket.IO ``notice`` event: something new for this person (no case, no content)."""

    kind: Literal["message", "queue", "change"]
    text: str
