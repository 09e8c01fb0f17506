"""Dermline storage: one narrow async interface, SQLite and PostgreSQL backends, encrypted
at rest, a streamed blob store and a hash-chained audit log (issue 3; ``docs/storage.md``).

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
from storage.interface import (
    AppendResult,
    Attachment,
    AuditCheckpoint,
    AuditEntry,
    AuditEvent,
    AuditVerification,
    AuthFailureState,
    BlobInfo,
    BlobStore,
    Case,
    CaseState,
    Invite,
    KeyRecipientKind,
    Membership,
    Message,
    NewCase,
    NewUser,
    Organisation,
    OrgKind,
    Outcome,
    OutcomeCategory,
    Page,
    Participant,
    PatientLink,
    Priority,
    Receipt,
    ReceiptKind,
    Role,
    RotationReport,
    Session,
    Storage,
    User,
    WrappedCaseKey,
)

__all__ = [
    "AppendResult",
    "AtRestKeyError",
    "Attachment",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditEvent",
    "AuditIntegrityError",
    "AuditVerification",
    "AuthFailureState",
    "BlobInfo",
    "BlobStore",
    "BlobTooLarge",
    "Case",
    "CaseState",
    "Conflict",
    "CorruptRecord",
    "InvalidArgument",
    "Invite",
    "KeyRecipientKind",
    "Membership",
    "Message",
    "NewCase",
    "NewUser",
    "NotFound",
    "OrgKind",
    "Organisation",
    "Outcome",
    "OutcomeCategory",
    "Page",
    "Participant",
    "PatientLink",
    "Priority",
    "Receipt",
    "ReceiptKind",
    "Role",
    "RotationReport",
    "Session",
    "Storage",
    "StorageConfig",
    "StorageError",
    "Unavailable",
    "User",
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
