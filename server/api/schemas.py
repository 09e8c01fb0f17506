"""Request and response schemas of the HTTP API (pydantic), the single source of truth.

The same models validate requests, serialise responses and generate
``/api/v1/openapi.json`` (``server.api.openapi``), so the document cannot drift from what
the server accepts and returns. Binary values (key records, envelopes) travel as unpadded
base64url strings. Models forbid unknown fields: a typo is an error, not silently ignored.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from server.domain.lifecycle import CaseState
from server.domain.outcomes import Destination, OutcomeCategory, RejectionReason, Urgency
from server.domain.policy import OrgKind, Role

__all__ = ["B64", "Model"]


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


# ---------------------------------------------------------------- accounts


class PreloginRequest(Model):
    login_name: Name


class PreloginResponse(Model):
    kdf_params: B64


class LoginRequest(Model):
    login_name: Name
    auth_key: B64


class LoginResponse(Model):
    next: Literal["totp", "enrol", "done"]
    csrf_token: str | None = None


class TotpRequest(Model):
    code: Annotated[str | None, Field(max_length=12)] = None
    recovery_code: Annotated[str | None, Field(max_length=32)] = None


class EnrolmentResponse(Model):
    otpauth_uri: str
    qr_svg: str


class ConfirmEnrolmentRequest(Model):
    code: Annotated[str, Field(max_length=12)]


class ConfirmEnrolmentResponse(Model):
    next: Literal["done"]
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


class AcceptInviteRequest(Model):
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


# ---------------------------------------------------------------- organisations


class OrganisationOut(Model):
    org_id: str
    kind: OrgKind
    name: str
    records_public_key: B64 | None


class OrganisationList(Model):
    organisations: list[OrganisationOut]


class CreateOrganisationRequest(Model):
    kind: OrgKind
    name: Name
    records_public_key: B64 | None = None


class RecordsKeyRequest(Model):
    records_public_key: B64


class CreateInviteRequest(Model):
    role: Role
    login_name: Name | None = None


class InviteOut(Model):
    token: str
    org_id: str
    role: Role
    expires_at: dt.datetime


class UserList(Model):
    users: list[AdminUserOut]


class DirectoryResponse(Model):
    org: OrganisationOut
    members: list[UserOut]


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
                " refused (422 validation_failed)."
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
    """A participant with the public keys a reader needs to verify their signatures."""

    user_id: str
    role: Role
    display_name: str
    encryption_public_key: B64
    signing_public_key: B64


class WrappedKeyOut(Model):
    epoch: int
    recipient_kind: Literal["user", "organisation"]
    recipient_id: str
    wrapped_key: B64


class CaseDetail(Model):
    case: CaseOut
    participants: list[ParticipantOut]
    case_keys: list[WrappedKeyOut]
    outcome: OutcomeOut | None


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


class OutcomeOut(Model):
    category: OutcomeCategory
    urgency: Urgency | None
    destination: Destination | None
    reasons: list[RejectionReason]
    payload: B64
    author_id: str
    created_at: dt.datetime
    downgrade: DowngradeOut | None = None


class CloseRequest(Model):
    outcome: OutcomeIn


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
