"""The narrow async storage interface the server codes against: small per-feature protocols,
and :class:`Storage`, their union (``docs/storage.md``, "The interface").

Rules every protocol here follows (read first):

* One method per unit of work. Each write method is one transaction: it either happens
  completely or not at all, and it has happened durably (fsync on SQLite with
  ``synchronous=FULL``, commit on PostgreSQL) when the awaitable returns.
* Ids are opaque strings chosen by the caller (UUIDs, UUIDv7 for message ids):
  1..64 characters from ``[A-Za-z0-9._:-]``. Anything else raises :class:`InvalidArgument`.
* Times are timezone-aware ``datetime`` values passed in by the caller (the server owns the
  clock; tests use a fake one). They are stored with microsecond precision in UTC.
* Byte strings the server hands over (envelopes, wrapped keys, sealed private keys, TOTP
  secrets, ...) are opaque to storage. The SQL backends encrypt them again at rest (see
  ``docs/storage.md`` for the list of what stays in the clear and why).
* Errors are the typed ones of :mod:`storage.errors`; driver exceptions never leak.
* The case state machine lives in the server domain. Storage only offers a compare-and-set
  transition (:meth:`CaseStore.transition_case`) so that two racing moves cannot both win.

Records and enumerations are in :mod:`storage.records`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from storage.interface.accounts import AccountStore
from storage.interface.attachments import AttachmentStore
from storage.interface.audit import AuditStore
from storage.interface.blobs import BlobStore
from storage.interface.cases import CaseStore, OutcomeStore, ParticipantStore, ReceiptStore
from storage.interface.epochs import EpochStore
from storage.interface.figures import FigureStore
from storage.interface.invites import InviteStore
from storage.interface.lifecycle import StorageLifecycle
from storage.interface.notifications import NotificationStore
from storage.interface.organisations import OrganisationStore
from storage.interface.passkeys import PasskeyStore
from storage.interface.patient_links import PatientLinkStore
from storage.interface.retention import RetentionStore
from storage.interface.rotation import KeyRotationStore
from storage.interface.sessions import SessionStore
from storage.interface.thread import ThreadStore
from storage.interface.transparency import DirectoryKeyStore, TransparencyStore

__all__ = [
    "FEATURE_PROTOCOLS",
    "AccountStore",
    "AttachmentStore",
    "AuditStore",
    "BlobStore",
    "CaseStore",
    "DirectoryKeyStore",
    "EpochStore",
    "FigureStore",
    "InviteStore",
    "KeyRotationStore",
    "NotificationStore",
    "OrganisationStore",
    "OutcomeStore",
    "ParticipantStore",
    "PasskeyStore",
    "PatientLinkStore",
    "ReceiptStore",
    "RetentionStore",
    "SessionStore",
    "Storage",
    "StorageLifecycle",
    "ThreadStore",
    "TransparencyStore",
]


@runtime_checkable
class Storage(
    StorageLifecycle,
    OrganisationStore,
    AccountStore,
    PasskeyStore,
    SessionStore,
    InviteStore,
    PatientLinkStore,
    CaseStore,
    ParticipantStore,
    EpochStore,
    OutcomeStore,
    ReceiptStore,
    ThreadStore,
    AttachmentStore,
    AuditStore,
    KeyRotationStore,
    RetentionStore,
    FigureStore,
    TransparencyStore,
    DirectoryKeyStore,
    NotificationStore,
    Protocol,
):
    """Everything the server persists. Implementations: ``storage.sqlite.SqliteStorage``
    and ``storage.postgres.PostgresStorage`` (built by :func:`storage.open_storage`), and
    ``storage.memory.MemoryStorage`` (tests and development only)."""


#: The per-feature protocols :class:`Storage` unites (the unit-of-work marker test walks
#: every method of each).
FEATURE_PROTOCOLS: tuple[type, ...] = (
    StorageLifecycle,
    OrganisationStore,
    AccountStore,
    PasskeyStore,
    SessionStore,
    InviteStore,
    PatientLinkStore,
    CaseStore,
    ParticipantStore,
    EpochStore,
    OutcomeStore,
    ReceiptStore,
    ThreadStore,
    AttachmentStore,
    AuditStore,
    KeyRotationStore,
    RetentionStore,
    FigureStore,
    TransparencyStore,
    DirectoryKeyStore,
    NotificationStore,
)
