"""The storage contract implemented in SQL, once for both engines (``docs/storage.md``).

Rules of this package:

* One module per feature (``accounts``, ``passkeys``, ``organisations``, ``sessions``, ``invites``,
  ``patient_links``, ``cases``, ``participants``, ``epochs``, ``outcomes`` (with receipts),
  ``thread``, ``attachments``, ``audit``, ``rotation``, ``retention``, ``figures``,
  ``notifications``), each a mixin over :class:`~._base.SqlBase`; :class:`SqlStorage`
  composes them. The engines (``storage.sqlite``, ``storage.postgres``) subclass it and
  implement ``_write`` / ``_read``; what differs between the dialects is in
  ``storage/_engine.py``.
* Every public method is one unit of work marked with :func:`~._base.unit`: it prepares what
  it can outside the transaction (validation, sealing of values whose row id is known), then
  hands one ``*_txn`` function to the engine. SQLite batches write units into one
  group-committed transaction with a SAVEPOINT each, PostgreSQL runs each in its own
  transaction.
* Sealed columns end in ``_sealed`` and are sealed with the table, column and row id bound as
  associated data (``rid_*`` in ``_base``, also used by the rotation).
* Times are stored as integer microseconds since the epoch (UTC) in both backends.
"""

from __future__ import annotations

from storage.sql._base import unit
from storage.sql.accounts import AccountsSql
from storage.sql.attachments import AttachmentsSql
from storage.sql.audit import AuditSql
from storage.sql.cases import CasesSql
from storage.sql.epochs import EpochsSql
from storage.sql.figures import FiguresSql
from storage.sql.invites import InvitesSql
from storage.sql.notifications import NotificationsSql
from storage.sql.organisations import OrganisationsSql
from storage.sql.outcomes import OutcomesSql, ReceiptsSql
from storage.sql.participants import ParticipantsSql
from storage.sql.passkeys import PasskeysSql
from storage.sql.patient_links import PatientLinksSql
from storage.sql.retention import RetentionSql
from storage.sql.rotation import RotationSql
from storage.sql.sessions import SessionsSql
from storage.sql.thread import ThreadSql
from storage.sql.transparency import TransparencySql

__all__ = ["SqlStorage"]


class SqlStorage(
    OrganisationsSql,
    AccountsSql,
    PasskeysSql,
    NotificationsSql,
    SessionsSql,
    InvitesSql,
    PatientLinksSql,
    CasesSql,
    ParticipantsSql,
    EpochsSql,
    OutcomesSql,
    ReceiptsSql,
    ThreadSql,
    AttachmentsSql,
    # Retention (docs/storage.md, "Retention and disposal"): a subclass of AuditSql (it
    # appends its audit entry inside its own transaction), so it comes first.
    RetentionSql,
    AuditSql,
    RotationSql,
    # Operational figures for /metrics (docs/operations.md, "Metrics").
    FiguresSql,
    # The key transparency log and the directory keys (docs/storage.md, "Transparency log").
    TransparencySql,
):
    """Implements :class:`storage.interface.Storage` over an engine's ``_write``/``_read``
    (the engine also implements ``close``)."""

    async def _init_keys(self) -> None:
        """Create missing data keys, load the ring, finish an interrupted master-key
        rotation, and create the audit signing key and head on first start."""
        await self._ensure_data_keys()
        if self._cipher.enabled:
            await self._init_audit()
        await self._init_transparency()

    @unit
    async def check_health(self) -> None:
        await self._read(lambda txn: txn.fetchone("SELECT 1"))
        await self._write(lambda txn: txn.fetchone("SELECT 1"))

    @unit
    async def schema_version(self) -> int:
        row = await self._read(
            lambda txn: txn.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        )
        assert row is not None
        return int(row[0])
