"""The records and enumerations the domain hands to the transports.

They are storage's own types (one definition: ``storage``'s records module), re-exported
here so that ``server/api`` and ``server/realtime`` never import ``storage``
(``tests/test_layers.py``): a transport sees what the domain answers, not where it is kept.

``StorageUnavailable`` is the one storage error a transport handles itself: the database
or disk failed and the request may be retried (``503 unavailable``); every other storage
error becomes a domain error inside the domain.
"""

from storage import (
    AppendResult,
    Attachment,
    Case,
    CaseRetention,
    CaseState,
    Invite,
    KeyRecipientKind,
    LegalHold,
    LegalHoldReason,
    Membership,
    Message,
    NotificationSettings,
    Organisation,
    OrgKind,
    OrgRetention,
    OutcomeCategory,
    Page,
    Participant,
    Passkey,
    PatientLink,
    Priority,
    PushSubscription,
    Receipt,
    ReceiptKind,
    RecordsKeyPending,
    RetentionCandidate,
    Role,
    Session,
    User,
    WrappedCaseKey,
)
from storage import Unavailable as StorageUnavailable

__all__ = [
    "AppendResult",
    "Attachment",
    "Case",
    "CaseRetention",
    "CaseState",
    "Invite",
    "KeyRecipientKind",
    "LegalHold",
    "LegalHoldReason",
    "Membership",
    "Message",
    "NotificationSettings",
    "OrgKind",
    "OrgRetention",
    "Organisation",
    "OutcomeCategory",
    "Page",
    "Participant",
    "Passkey",
    "PatientLink",
    "Priority",
    "PushSubscription",
    "Receipt",
    "ReceiptKind",
    "RecordsKeyPending",
    "RetentionCandidate",
    "Role",
    "Session",
    "StorageUnavailable",
    "User",
    "WrappedCaseKey",
]
