"""The in-memory reference store: the whole :class:`storage.interface.Storage` union in
Python dictionaries, with the same semantics as the SQL backends (``docs/storage.md``,
"The memory store").

FOR TESTS AND DEVELOPMENT ONLY. Nothing is encrypted at rest and nothing survives the
process; ``rotate_keys`` answers :class:`AtRestKeyError`. :func:`storage.open_storage`
refuses it, and the server only ever opens storage through that function, so the server
runs on this store only when a test builds one and passes it in
(``create_app(settings, store=MemoryStorage())``).

What it keeps identical to SQL: the value checks (:mod:`storage._values`, before a unit
touches anything), the typed errors (a missing referenced row is :class:`NotFound`, as a
foreign key would answer), compare-and-set moves, idempotent appends with gap-free sequence
numbers, keyset pagination with the same cursors, the audit chain with signed checkpoints
(:mod:`storage.audit`, :mod:`crypto.audit_checkpoint`) and blobs with the same size cap.
Every operation runs without awaiting inside, so on one event loop it is atomic: a unit of
work, as a transaction would be.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Sequence
from pathlib import Path

from crypto import audit_checkpoint
from crypto.errors import AuditCheckpointError
from storage import audit as audit_fmt
from storage._memory_accounts import MemoryAccounts
from storage._memory_base import op, utc
from storage._memory_blobs import MemoryBlobStore
from storage._memory_epochs import MemoryEpochs
from storage._memory_notifications import MemoryNotifications
from storage._memory_passkeys import MemoryPasskeys
from storage._memory_retention import MemoryRetention
from storage._values import (
    MAX_DROP_RECORDS,
    MAX_LIMIT,
    check_audit_event,
    check_bytes,
    check_id,
    check_int64,
    check_limit,
    check_text,
    dt_of,
    pack_records,
    unpack_records,
    us,
)
from storage.errors import (
    AtRestKeyError,
    AuditIntegrityError,
    Conflict,
    InvalidArgument,
    NotFound,
)
from storage.interface import BlobStore
from storage.records import (
    AuditCheckpoint,
    AuditEntry,
    AuditEvent,
    AuditVerification,
    LogAppend,
    Membership,
    Organisation,
    OrgKind,
    PatientLink,
    Role,
    RotationReport,
    User,
)
from storage.transparency import check_appends

__all__ = ["MemoryStorage"]

_MIGRATIONS = Path(__file__).parent / "migrations" / "sqlite"
_TEXT = 1 << 20  # the longest text value the SQL backends seal


class MemoryStorage(
    MemoryAccounts, MemoryPasskeys, MemoryRetention, MemoryEpochs, MemoryNotifications
):
    """:class:`storage.interface.Storage` in memory (tests and development only)."""

    def __init__(self) -> None:
        super().__init__()
        self._blob_store = MemoryBlobStore()
        self._links: dict[str, PatientLink] = {}
        self._submissions: dict[str, bytes] = {}
        # audit: (prev_hash, entry_hash, canonical) by seq - 1; checkpoints by seq
        self._audit: list[tuple[bytes, bytes, bytes]] = []
        self._checkpoints: dict[int, AuditCheckpoint] = {}
        self._audit_sk = audit_checkpoint.load_signing_key(
            audit_checkpoint.new_signing_key(os.urandom(32))
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def blobs(self) -> BlobStore:
        return self._blob_store

    async def close(self) -> None:
        self._closed = True
        self._blob_store.closed = True

    @op
    async def check_health(self) -> None:
        return None

    @op
    async def schema_version(self) -> int:
        """The SQL schema version whose records this store holds."""
        return max(int(p.name[:4]) for p in _MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))

    # ------------------------------------------------------------------ organisations

    @op
    async def create_organisation(self, org: Organisation) -> Organisation:
        org_id = check_id(org.org_id, "org_id")
        kind = OrgKind(org.kind)
        if org.records_public_key is not None:
            check_bytes(org.records_public_key, "records_public_key")
        check_text(org.name, "name", max_bytes=_TEXT)
        stored = Organisation(org_id, kind, org.name, org.records_public_key, utc(org.created_at))
        if org_id in self._orgs:
            raise Conflict("duplicate")
        self._orgs[org_id] = stored
        return stored

    @op
    async def get_organisation(self, org_id: str) -> Organisation:
        return self._org(org_id)

    @op
    async def list_organisations(self, kind: OrgKind | None = None) -> list[Organisation]:
        k = None if kind is None else OrgKind(kind)
        return [o for _, o in sorted(self._orgs.items()) if k is None or o.kind is k]

    @op
    async def set_records_public_key(self, org_id: str, public_key: bytes) -> Organisation:
        check_id(org_id, "org_id")
        check_bytes(public_key, "public_key")
        if self._org(org_id).records_public_key is not None:
            raise Conflict("records_key_exists")
        org = dataclasses.replace(self._org(org_id), records_public_key=public_key)
        self._orgs[org_id] = org
        return org

    @op
    async def list_users(self, org_id: str | None = None) -> list[User]:
        if org_id is not None:
            check_id(org_id, "org_id")
        return [
            u
            for _, u in sorted(self._users.items())
            if org_id is None or any(m.org_id == org_id for m in u.memberships)
        ]

    @op
    async def count_users_with_role(self, role: Role) -> int:
        r = Role(role)
        return sum(1 for u in self._users.values() if any(m.role is r for m in u.memberships))

    @op
    async def add_membership(
        self, user_id: str, membership: Membership, log: Sequence[LogAppend] = ()
    ) -> User:
        entries = check_appends(log)
        user = self._with_memberships(self._user(user_id), [membership])
        self._users[user.user_id] = user
        self._append_log_now(entries)
        return user

    # ------------------------------------------------------------------ patient links

    @op
    async def create_patient_link(self, link: PatientLink) -> PatientLink:
        if not isinstance(link, PatientLink):
            raise InvalidArgument("link must be a PatientLink")
        lid = check_id(link.link_id, "link_id")
        cid = check_id(link.case_id, "case_id")
        th = check_bytes(link.token_hash, "token_hash")
        if len(th) != 32:
            raise InvalidArgument("token_hash must be 32 bytes")
        if not 1 <= check_int64(link.max_photos, "max_photos") <= MAX_DROP_RECORDS:
            raise InvalidArgument("max_photos out of range")
        stored = PatientLink(
            lid,
            cid,
            th,
            check_id(link.created_by, "created_by"),
            utc(link.created_at),
            utc(link.expires_at),
            link.max_photos,
        )
        self._case_row(cid)
        if lid in self._links or any(x.token_hash == th for x in self._links.values()):
            raise Conflict("duplicate")
        self._referenced_user(stored.created_by)
        self._links[lid] = stored
        return stored

    def _link(self, link_id: str) -> PatientLink:
        link = self._links.get(check_id(link_id, "link_id"))
        if link is None:
            raise NotFound("patient_link")
        return link

    @op
    async def get_patient_link(self, link_id: str) -> PatientLink:
        return self._link(link_id)

    @op
    async def find_patient_link(self, token_hash: bytes) -> PatientLink:
        th = check_bytes(token_hash, "token_hash")
        for link in self._links.values():
            if link.token_hash == th:
                return link
        raise NotFound("patient_link")

    @op
    async def list_patient_links(self, case_id: str) -> list[PatientLink]:
        check_id(case_id, "case_id")
        out = sorted((x for x in self._links.values() if x.case_id == case_id), key=_link_id)
        out.sort(key=lambda x: x.created_at, reverse=True)
        return out

    @op
    async def revoke_patient_link(self, link_id: str, now: _dt.datetime) -> PatientLink:
        check_id(link_id, "link_id")
        when = utc(now)
        link = self._link(link_id)
        if link.used_at is not None:
            raise Conflict("patient_link_used")
        if link.revoked_at is None:
            link = self._links[link_id] = dataclasses.replace(link, revoked_at=when)
        return link

    @staticmethod
    def _usable(link: PatientLink, when: _dt.datetime) -> bool:
        return link.used_at is None and link.revoked_at is None and link.expires_at > when

    @op
    async def count_patient_upload(
        self, link_id: str, now: _dt.datetime, max_uploads: int
    ) -> PatientLink:
        check_id(link_id, "link_id")
        when = utc(now)
        limit = check_int64(max_uploads, "max_uploads")
        link = self._link(link_id)
        if not self._usable(link, when):
            raise Conflict("patient_link_invalid")
        if link.uploads >= limit:
            raise Conflict("patient_link_full")
        link = self._links[link_id] = dataclasses.replace(link, uploads=link.uploads + 1)
        return link

    @op
    async def submit_patient_link(
        self, link_id: str, records: Sequence[bytes], now: _dt.datetime
    ) -> PatientLink:
        check_id(link_id, "link_id")
        when = utc(now)
        packed = pack_records(records)
        link = self._link(link_id)
        if not self._usable(link, when):
            raise Conflict("patient_link_invalid")
        link = self._links[link_id] = dataclasses.replace(link, used_at=when)
        self._submissions[link_id] = packed
        return link

    @op
    async def get_patient_submission(self, link_id: str) -> list[bytes]:
        self._link(link_id)
        packed = self._submissions.get(link_id)
        return [] if packed is None else unpack_records(packed)

    # ------------------------------------------------------------------ audit

    @op
    async def append_audit(self, event: AuditEvent) -> AuditEntry:
        check_audit_event(event)
        return self._append_audit_now(event, os.urandom(16))

    def _append_audit_now(self, event: AuditEvent, salt: bytes) -> AuditEntry:
        """Append inside an operation (a disposal records its own entry atomically)."""
        seq = len(self._audit) + 1
        prev = self._audit[-1][1] if self._audit else audit_fmt.GENESIS
        canonical = audit_fmt.encode_canonical(seq, event, salt)
        entry_hash = audit_fmt.chain_hash(prev, canonical)
        self._audit.append((prev, entry_hash, canonical))
        return AuditEntry(seq, event, prev, entry_hash)

    @op
    async def list_audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        n = check_limit(limit)
        check_int64(after_seq, "after_seq")
        out = []
        for seq in range(after_seq + 1, min(after_seq + n, len(self._audit)) + 1):
            prev, entry_hash, canonical = self._audit[seq - 1]
            out.append(AuditEntry(seq, audit_fmt.decode_canonical(canonical)[1], prev, entry_hash))
        return out

    @op
    async def checkpoint_audit(self, now: _dt.datetime) -> AuditCheckpoint:
        when = us(now)
        seq = len(self._audit)
        if seq == 0:
            raise NotFound("audit_entry")
        if seq not in self._checkpoints:
            head = self._audit[-1][1]
            sig = audit_checkpoint.sign_checkpoint(self._audit_sk, seq, head, when)
            self._checkpoints[seq] = AuditCheckpoint(seq, head, sig, dt_of(when))
        return self._checkpoints[seq]

    @op
    async def verify_audit(self) -> AuditVerification:
        pk = audit_checkpoint.public_key(self._audit_sk)
        for cp in self._checkpoints.values():
            try:
                audit_checkpoint.verify_checkpoint(
                    pk, cp.seq, cp.entry_hash, us(cp.created_at), cp.signature
                )
            except AuditCheckpointError:
                raise AuditIntegrityError(cp.seq, "bad_checkpoint") from None
        head_seq = len(self._audit)
        head_hash = self._audit[-1][1] if self._audit else audit_fmt.GENESIS
        check = audit_fmt.ChainCheck(
            {s: cp.entry_hash for s, cp in self._checkpoints.items()}, head_seq, head_hash
        )
        for seq, (prev, entry_hash, canonical) in enumerate(self._audit, start=1):
            check.entry(seq, prev, entry_hash, canonical)
        return check.finish()

    # ------------------------------------------------------------------ at-rest keys

    @op
    async def rotate_keys(
        self,
        *,
        new_master_key: bytes | None = None,
        rotate_data_keys: bool = True,
        batch_size: int = 500,
    ) -> RotationReport:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool):
            raise InvalidArgument("batch_size must be an int")
        if not 1 <= batch_size <= MAX_LIMIT:
            raise InvalidArgument("batch_size out of range")
        raise AtRestKeyError("the memory store keeps nothing at rest")


def _link_id(link: PatientLink) -> str:
    return link.link_id
