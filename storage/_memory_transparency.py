"""The transparency log and the directory keys in the memory store (``storage.memory``;
tests and development only), with the semantics of ``storage.sql.transparency``: a
:class:`crypto.merkle.MerkleTree` stands in for the stored nodes."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Sequence

from crypto import merkle, tree_head
from crypto.account import key_pair_from_seed
from storage import transparency as tree
from storage._memory_base import MemoryBase, op, utc
from storage._values import check_bytes, check_id, check_int64, us
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import (
    LogAppend,
    LogRecord,
    Organisation,
    OrgKey,
    OrgKeyWrap,
    RecordsKeyApproval,
    RecordsKeyPending,
    SignedTreeHead,
)

__all__ = ["MemoryTransparency"]


class MemoryTransparency(MemoryBase):
    """Both transparency protocols in memory."""

    def __init__(self) -> None:
        super().__init__()
        self._log: list[LogRecord] = []
        self._tree = merkle.MerkleTree()
        self._heads: dict[int, SignedTreeHead] = {}
        self._log_key = key_pair_from_seed(os.urandom(32))
        self._org_keys: dict[str, OrgKey] = {}
        self._org_key_wraps: dict[tuple[str, str], OrgKeyWrap] = {}
        self._pending: dict[tuple[str, bytes], RecordsKeyPending] = {}

    def _append_log_now(self, entries: Sequence[LogAppend]) -> list[int]:
        """Append checked entries inside an operation (with its directory change)."""
        out = []
        for e in entries:
            index = self._tree.append_entry(e.entry)
            self._log.append(LogRecord(index, e.entry, e.kind, e.org_id, e.user_id, e.ref))
            out.append(index)
        return out

    @op
    async def append_log(self, entries: Sequence[LogAppend]) -> list[int]:
        return self._append_log_now(tree.check_appends(entries))

    @op
    async def log_size(self) -> int:
        return len(self._log)

    @op
    async def list_log(self, start: int, end: int) -> list[LogRecord]:
        a = check_int64(start, "start")
        b = check_int64(end, "end")
        if b < a or b - a > tree.MAX_PAGE:
            raise InvalidArgument("a page is start <= end, at most 1000 entries")
        return self._log[a:b]

    @op
    async def find_log(
        self,
        *,
        org_id: str | None = None,
        user_id: str | None = None,
        ref: str | None = None,
    ) -> list[LogRecord]:
        if org_id is None and user_id is None and ref is None:
            raise InvalidArgument("find_log needs a filter")
        if org_id is not None:
            check_id(org_id, "org_id")
        if user_id is not None:
            check_id(user_id, "user_id")
        return [
            r
            for r in self._log
            if (org_id is None or r.org_id == org_id)
            and (user_id is None or r.user_id == user_id)
            and (ref is None or r.ref == ref)
        ]

    @op
    async def log_inclusion_proofs(
        self, indices: Sequence[int], tree_size: int
    ) -> list[list[bytes]]:
        checked = tree.check_proof_request(list(indices), tree_size, len(self._log))
        return [self._tree.inclusion_proof(i, tree_size) for i in checked]

    @op
    async def log_consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        old = check_int64(old_size, "old_size")
        new = check_int64(new_size, "new_size")
        if old > new:
            raise InvalidArgument("old_size is beyond new_size")
        if new > len(self._log):
            raise InvalidArgument("new_size is beyond the log")
        return self._tree.consistency_proof(old, new)

    @op
    async def sign_tree_head(self, now: _dt.datetime) -> SignedTreeHead:
        when = utc(now)
        size = len(self._log)
        if size not in self._heads:
            head = tree_head.sign_tree_head(
                tree_size=size,
                timestamp_ms=us(when) // 1000,
                root_hash=self._tree.root(),
                log_key=self._log_key,
            )
            self._heads[size] = SignedTreeHead(size, head, when)
        return self._heads[size]

    @op
    async def latest_tree_head(self) -> SignedTreeHead | None:
        return self._heads[max(self._heads)] if self._heads else None

    @op
    async def get_tree_head(self, tree_size: int) -> SignedTreeHead:
        head = self._heads.get(check_int64(tree_size, "tree_size"))
        if head is None:
            raise NotFound("tree_head")
        return head

    @op
    async def log_public_key(self) -> bytes:
        return self._log_key.public_key

    # ------------------------------------------------------------------ organisation keys

    def _checked_wrap(self, w: OrgKeyWrap) -> OrgKeyWrap:
        return OrgKeyWrap(
            check_id(w.org_id, "org_id"),
            check_id(w.recipient_id, "recipient_id"),
            check_id(w.wrapper_id, "wrapper_id"),
            check_bytes(w.wrap, "wrap"),
            utc(w.created_at),
        )

    def _store_wraps(self, wraps: list[OrgKeyWrap]) -> None:
        for w in wraps:
            self._referenced_user(w.recipient_id)
            self._referenced_user(w.wrapper_id)
        for w in wraps:
            self._org_key_wraps[(w.org_id, w.recipient_id)] = w

    @op
    async def set_org_key(
        self, org_key: OrgKey, wraps: Sequence[OrgKeyWrap], log: Sequence[LogAppend]
    ) -> OrgKey:
        stored = OrgKey(
            check_id(org_key.org_id, "org_id"),
            check_bytes(org_key.statement, "statement"),
            check_bytes(org_key.key_id, "key_id"),
            None if org_key.created_by is None else check_id(org_key.created_by, "created_by"),
            utc(org_key.created_at),
        )
        checked = [self._checked_wrap(w) for w in wraps]
        if any(w.org_id != stored.org_id for w in checked):
            raise InvalidArgument("every wrap is for this organisation")
        entries = tree.check_appends(log)
        self._org(stored.org_id)
        if stored.org_id in self._org_keys:
            raise Conflict("org_key_exists")
        self._store_wraps(checked)
        self._org_keys[stored.org_id] = stored
        self._orgs[stored.org_id] = dataclasses.replace(
            self._orgs[stored.org_id], org_key_id=stored.key_id
        )
        self._append_log_now(entries)
        return stored

    @op
    async def get_org_key(self, org_id: str) -> OrgKey | None:
        return self._org_keys.get(check_id(org_id, "org_id"))

    @op
    async def put_org_key_wraps(self, wraps: Sequence[OrgKeyWrap]) -> None:
        checked = [self._checked_wrap(w) for w in wraps]
        if any(w.org_id not in self._org_keys for w in checked):
            raise NotFound("org_key")
        self._store_wraps(checked)

    @op
    async def get_org_key_wrap(self, org_id: str, recipient_id: str) -> OrgKeyWrap:
        key = (check_id(org_id, "org_id"), check_id(recipient_id, "recipient_id"))
        wrap = self._org_key_wraps.get(key)
        if wrap is None:
            raise NotFound("org_key_wrap")
        return wrap

    @op
    async def list_org_key_wraps(self, org_id: str) -> list[OrgKeyWrap]:
        check_id(org_id, "org_id")
        return [w for (o, _), w in sorted(self._org_key_wraps.items()) if o == org_id]

    # ------------------------------------------------------------------ records keys

    def _next_sequence(self, org: Organisation) -> int:
        return 0 if org.records_key_sequence is None else org.records_key_sequence + 1

    def _set_records_key_now(
        self, org_id: str, public_key: bytes, sequence: int, log: Sequence[LogAppend]
    ) -> Organisation:
        org = self._org(org_id)
        if sequence != self._next_sequence(org):
            raise Conflict("records_key_sequence")
        org = dataclasses.replace(org, records_public_key=public_key, records_key_sequence=sequence)
        self._orgs[org_id] = org
        for key in [k for k, p in self._pending.items() if k[0] == org_id]:
            if self._pending[key].sequence <= sequence:
                del self._pending[key]
        self._append_log_now(log)
        return org

    @op
    async def set_records_key(
        self,
        org_id: str,
        public_key: bytes,
        *,
        sequence: int,
        log: Sequence[LogAppend],
    ) -> Organisation:
        check_id(org_id, "org_id")
        key = check_bytes(public_key, "public_key")
        seq = check_int64(sequence, "sequence")
        entries = tree.check_appends(log)
        return self._set_records_key_now(org_id, key, seq, entries)

    @op
    async def propose_records_key(self, pending: RecordsKeyPending) -> RecordsKeyPending:
        org_id = check_id(pending.org_id, "org_id")
        sh = check_bytes(pending.statement_hash, "statement_hash")
        if len(sh) != 32:
            raise InvalidArgument("statement_hash must be 32 bytes")
        stored = RecordsKeyPending(
            org_id,
            sh,
            check_bytes(pending.statement, "statement"),
            check_int64(pending.sequence, "sequence"),
            check_bytes(pending.public_key, "public_key"),
            check_id(pending.proposed_by, "proposed_by"),
            utc(pending.proposed_at),
        )
        org = self._org(org_id)
        if stored.sequence != self._next_sequence(org):
            raise Conflict("records_key_sequence")
        if (org_id, sh) in self._pending:
            raise Conflict("duplicate")
        self._user(stored.proposed_by)
        self._pending[(org_id, sh)] = stored
        return stored

    @op
    async def list_records_key_pending(self, org_id: str) -> list[RecordsKeyPending]:
        check_id(org_id, "org_id")
        out = [p for (o, _), p in sorted(self._pending.items()) if o == org_id]
        out.sort(key=lambda p: p.proposed_at)
        return out

    @op
    async def approve_records_key(
        self,
        org_id: str,
        statement_hash: bytes,
        approval: RecordsKeyApproval,
        *,
        threshold: int,
        now: _dt.datetime,
    ) -> tuple[RecordsKeyPending | None, Organisation]:
        check_id(org_id, "org_id")
        sh = check_bytes(statement_hash, "statement_hash")
        given = RecordsKeyApproval(
            check_id(approval.approver_id, "approver_id"),
            check_bytes(approval.approval, "approval"),
            utc(approval.created_at),
        )
        need = check_int64(threshold, "threshold", minimum=1)
        now_ms = us(now) // 1000
        org = self._org(org_id)
        pending = self._pending.get((org_id, sh))
        if pending is None:
            raise NotFound("records_key_pending")
        if any(a.approver_id == given.approver_id for a in pending.approvals):
            raise Conflict("duplicate")
        self._user(given.approver_id)
        approvals = sorted((*pending.approvals, given), key=lambda a: (a.created_at, a.approver_id))
        pending = dataclasses.replace(pending, approvals=tuple(approvals))
        if len({a.approver_id for a in pending.approvals}) < need:
            self._pending[(org_id, sh)] = pending
            return pending, org
        if pending.sequence != self._next_sequence(org):
            raise Conflict("records_key_sequence")
        log = tree.records_key_change_entries(pending, now_ms)
        return None, self._set_records_key_now(org_id, pending.public_key, pending.sequence, log)
