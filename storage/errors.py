"""Typed errors of the storage layer.

Every backend translates its driver's exceptions (``sqlite3.Error``, ``asyncpg.PostgresError``,
``OSError`` from the blob folder) into these classes; nothing from a driver leaks upwards.
Messages are fixed strings or carry only opaque ids and reason codes: never patient data,
keys, passwords, TOTP codes or login names (STYLE.md, "Errors").

Split by who is at fault (after h11):

* :class:`InvalidArgument` - our caller passed something malformed (a ``ValueError``);
* :class:`NotFound`, :class:`Conflict` - the request is well formed but the data says no;
* :class:`BlobTooLarge` - a stream exceeded its cap;
* :class:`Unavailable` - the database or disk failed; the operation may be retried;
* :class:`AtRestKeyError` - the master key is missing, malformed or too widely readable;
* :class:`CorruptRecord` - a stored record failed authentication (tampering or wrong key);
* :class:`AuditIntegrityError` - the audit chain does not verify; names the first bad entry.
"""

from __future__ import annotations

__all__ = [
    "AtRestKeyError",
    "AuditIntegrityError",
    "BlobTooLarge",
    "Conflict",
    "CorruptRecord",
    "InvalidArgument",
    "NotFound",
    "StorageError",
    "Unavailable",
]


class StorageError(Exception):
    """Base class of every error the storage layer raises."""


class InvalidArgument(StorageError, ValueError):
    """The caller passed a malformed value (bad id, negative limit, wrong type)."""


class NotFound(StorageError):
    """The addressed record does not exist.

    ``what`` names the kind of record (``"case"``, ``"user"``, ...), never its content.
    """

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what


class Conflict(StorageError):
    """The write conflicts with the current data.

    ``reason`` is a stable code the server maps to the wire:

    ``duplicate``          a record with this id (or unique key) already exists
    ``state_changed``      compare-and-set failed: the case is no longer in ``expected_state``
    ``invite_used``        the invite was already accepted
    ``invite_expired``     the invite expired
    ``invite_revoked``     the invite was revoked
    ``totp_replay``        the TOTP time step is not newer than the last one used
    ``message_id_taken``   the client message id exists in this case with another sender
    ``patient_link_used``  a patient link was already used (revoking it is refused)
    ``patient_link_invalid`` a patient link is used, revoked or expired
    ``patient_link_full``  a patient link has taken its maximum number of uploads
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"conflict: {reason}")
        self.reason = reason


class BlobTooLarge(StorageError):
    """A blob stream exceeded the size cap; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"blob exceeds the limit of {limit} bytes")
        self.limit = limit


class Unavailable(StorageError):
    """The database or the disk failed (I/O error, connection lost, locked too long)."""


class AtRestKeyError(StorageError):
    """The at-rest master key is missing, malformed, unsafe (group/world readable) or wrong."""


class CorruptRecord(StorageError):
    """A stored value failed authenticated decryption: tampering, or a key that is not ours.

    ``where`` is ``table.column`` (never the row's content).
    """

    def __init__(self, where: str) -> None:
        super().__init__(f"corrupted record in {where}")
        self.where = where


class AuditIntegrityError(StorageError):
    """The audit log failed verification.

    ``seq`` is the sequence number of the first entry that does not verify (for a deletion:
    the first sequence number that is missing); ``reason`` is a stable code:
    ``gap``, ``hash_mismatch``, ``chain_broken``, ``undecryptable``, ``bad_checkpoint``,
    ``truncated``.
    """

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit log does not verify at entry {seq}: {reason}")
        self.seq = seq
        self.reason = reason
