"""Dermline storage: one narrow async interface (per-feature protocols united in
:class:`Storage`), SQLite and PostgreSQL backends encrypted at rest, an in-memory reference
store for tests, a streamed blob store and a hash-chained audit log (``docs/storage.md``).

Usage::

    from storage import StorageConfig, open_storage

    store = await open_storage(StorageConfig(data_dir=Path("var")))
    try:
        result = await store.append_message(case_id, msg_id, sender_id, envelope, now)
    finally:
        await store.close()
"""

from storage.config import StorageConfig
from storage.errors import (
    AtRestKeyError,
    AuditIntegrityError,
    BlobTooLarge,
    Conflict,
    CorruptRecord,
    InvalidArgument,
    NotFound,
    StorageError,
    Unavailable,
)
from storage.figures import WaitingCount
from storage.interface import (
    AccountStore,
    AttachmentStore,
    AuditStore,
    BlobStore,
    CaseStore,
    EpochStore,
    FigureStore,
    InviteStore,
    KeyRotationStore,
    OrganisationStore,
    OutcomeStore,
    ParticipantStore,
    PasskeyStore,
    PatientLinkStore,
    ReceiptStore,
    RetentionStore,
    SessionStore,
    Storage,
    StorageLifecycle,
    ThreadStore,
)
from storage.records import (
    AppendResult,
    Attachment,
    AuditCheckpoint,
    AuditEntry,
    AuditEvent,
    AuditVerification,
    AuthFailureState,
    BlobInfo,
    Case,
    CaseRemoval,
    CaseState,
    Invite,
    KeyRecipientKind,
    Membership,
    Message,
    NewCase,
    NewMessage,
    NewUser,
    Organisation,
    OrgKind,
    Outcome,
    OutcomeCategory,
    Page,
    Participant,
    Passkey,
    PasskeyChallenge,
    PasskeyPurpose,
    PasskeyRequirement,
    PatientLink,
    Priority,
    Receipt,
    ReceiptKind,
    RemovalReason,
    Role,
    RotationReport,
    Session,
    TransitionResult,
    User,
    WrappedCaseKey,
)
from storage.retention import (
    CaseRetention,
    Disposal,
    DisposalBasis,
    LegalHold,
    LegalHoldReason,
    OrgRetention,
    RetentionCandidate,
)

__all__ = [
    "AccountStore",
    "AppendResult",
    "AtRestKeyError",
    "Attachment",
    "AttachmentStore",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditEvent",
    "AuditIntegrityError",
    "AuditStore",
    "AuditVerification",
    "AuthFailureState",
    "BlobInfo",
    "BlobStore",
    "BlobTooLarge",
    "Case",
    "CaseRemoval",
    "CaseRetention",
    "CaseState",
    "CaseStore",
    "Conflict",
    "CorruptRecord",
    "Disposal",
    "DisposalBasis",
    "EpochStore",
    "FigureStore",
    "InvalidArgument",
    "Invite",
    "InviteStore",
    "KeyRecipientKind",
    "KeyRotationStore",
    "LegalHold",
    "LegalHoldReason",
    "Membership",
    "Message",
    "NewCase",
    "NewMessage",
    "NewUser",
    "NotFound",
    "OrgKind",
    "OrgRetention",
    "Organisation",
    "OrganisationStore",
    "Outcome",
    "OutcomeCategory",
    "OutcomeStore",
    "Page",
    "Participant",
    "ParticipantStore",
    "Passkey",
    "PasskeyChallenge",
    "PasskeyPurpose",
    "PasskeyRequirement",
    "PasskeyStore",
    "PatientLink",
    "PatientLinkStore",
    "Priority",
    "Receipt",
    "ReceiptKind",
    "ReceiptStore",
    "RemovalReason",
    "RetentionCandidate",
    "RetentionStore",
    "Role",
    "RotationReport",
    "Session",
    "SessionStore",
    "Storage",
    "StorageConfig",
    "StorageError",
    "StorageLifecycle",
    "ThreadStore",
    "TransitionResult",
    "Unavailable",
    "User",
    "WaitingCount",
    "WrappedCaseKey",
    "open_storage",
]


async def open_storage(config: StorageConfig, *, migrate: bool = True) -> Storage:
    """Open the configured backend: load (or create) the master key, apply migrations (unless
    ``migrate`` is false), load the data keys, start the writer. Raises
    :class:`AtRestKeyError` for an unsafe or missing key, :class:`Unavailable` if the
    database cannot be reached."""
    from storage._open import open_backend

    return await open_backend(config, migrate=migrate)
