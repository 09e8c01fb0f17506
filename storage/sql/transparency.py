# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""The transparency log and the directory keys in SQL
(:class:`storage.interface.TransparencyStore`, :class:`storage.interface.DirectoryKeyStore`;
``docs/storage.md``, "Transparency log"). The tree over stored nodes is
:mod:`storage.transparency`; the log key is kept sealed in ``server_keys`` like the audit key.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence

from crypto import tree_head
from crypto.account import KeyPair, key_pair_from_private, key_pair_from_seed
from storage import transparency as tree
from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, check_int64, dt_of, us
from storage.errors import Conflict, CorruptRecord, InvalidArgument, NotFound
from storage.records import (
    LogAppend,
    LogKind,
    LogRecord,
    Membership,
    Organisation,
    OrgKey,
    OrgKeyWrap,
    OrgKind,
    RecordsKeyApproval,
    RecordsKeyPending,
    Role,
    SignedTreeHead,
)
from storage.sql._base import SqlBase, unit
from storage.sql._log import ENTRY_COLS, append_log_txn
from storage.sql.accounts import USER_COLS, user_of

__all__ = ["TransparencySql"]

_LOG_KEY_NAME = "transparency_log_key"
_ORG_COLS = (
    "org_id, kind, name_sealed, records_key_sealed, created_at, records_key_seq,"
    " (SELECT k.key_id FROM org_keys k WHERE k.org_id = organisations.org_id)"
)


class TransparencySql(SqlBase):
    """Both protocols over the engine."""

    _log_key: KeyPair | None = None

    # ------------------------------------------------------------------ start

    async def _init_transparency(self) -> None:
        """Create the log key and the empty log on first start, and put every membership
        that exists then into the log as an uncertified member (so that the log covers the
        directory from the start); load the key."""
        sealed_key = self._seal(
            "server_keys",
            "value_sealed",
            _LOG_KEY_NAME,
            key_pair_from_seed(os.urandom(32)).private_key,
        )
        now_ms = us(_dt.datetime.now(_dt.UTC)) // 1000

        async def init_txn(txn: Txn) -> bytes:
            await txn.execute(
                "INSERT INTO server_keys (name, value_sealed) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                _LOG_KEY_NAME,
                sealed_key,
            )
            row = await txn.fetchone(
                "SELECT value_sealed FROM server_keys WHERE name = ?", _LOG_KEY_NAME
            )
            assert row is not None
            created = await txn.fetchall(
                "INSERT INTO transparency_state (id, size, frontier) VALUES (1, 0, ?)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                b"",
            )
            if created:
                await self._backfill_txn(txn, now_ms)
            return bytes(row[0])

        stored = await self._write(init_txn)
        scalar = self._open("server_keys", "value_sealed", _LOG_KEY_NAME, stored)
        try:
            self._log_key = key_pair_from_private(scalar)
        except ValueError:
            raise CorruptRecord("server_keys.value_sealed") from None

    async def _backfill_txn(self, txn: Txn, now_ms: int) -> None:
        rows = await txn.fetchall(f"SELECT {USER_COLS} FROM users ORDER BY user_id")
        ms = await txn.fetchall(
            "SELECT user_id, org_id, role FROM memberships ORDER BY user_id, org_id, role"
        )
        by_user: dict[str, list[Membership]] = {}
        for uid, org, role in ms:
            by_user.setdefault(str(uid), []).append(Membership(str(org), Role(role)))
        entries = []
        for r in rows:
            user = user_of(self, r, by_user.get(str(r[0]), []))
            if user.disabled:
                continue
            for m in user.memberships:
                try:
                    entries.append(tree.uncertified_member(user, m, now_ms))
                except ValueError:  # not made by this server (ids that are not UUIDs)
                    continue
        await append_log_txn(self, txn, entries)

    def _require_log_key(self) -> KeyPair:
        if self._log_key is None:
            raise CorruptRecord("transparency log key not loaded")
        return self._log_key

    # ------------------------------------------------------------------ the log

    def _record(self, r: Row) -> LogRecord:
        idx = int(r[0])
        return LogRecord(
            index=idx,
            entry=self._open("transparency_entries", "entry_sealed", str(idx), r[5]),
            kind=LogKind(r[1]),
            org_id=r[2],
            user_id=r[3],
            ref=r[4],
        )

    @unit
    async def append_log(self, entries: Sequence[LogAppend]) -> list[int]:
        checked = tree.check_appends(entries)
        return await self._write(lambda txn: append_log_txn(self, txn, checked))

    @unit
    async def log_size(self) -> int:
        row = await self._read(
            lambda txn: txn.fetchone("SELECT size FROM transparency_state WHERE id = 1")
        )
        return 0 if row is None else int(row[0])

    @unit
    async def list_log(self, start: int, end: int) -> list[LogRecord]:
        a = check_int64(start, "start")
        b = check_int64(end, "end")
        if b < a or b - a > tree.MAX_PAGE:
            raise InvalidArgument("a page is start <= end, at most 1000 entries")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {ENTRY_COLS} FROM transparency_entries WHERE idx >= ? AND idx < ?"
                " ORDER BY idx",
                a,
                b,
            )
        )
        return [self._record(r) for r in rows]

    @unit
    async def find_log(
        self,
        *,
        org_id: str | None = None,
        user_id: str | None = None,
        ref: str | None = None,
    ) -> list[LogRecord]:
        where: list[str] = []
        args: list[object] = []
        for column, value in (("org_id", org_id), ("user_id", user_id), ("ref", ref)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(check_id(value, column) if column != "ref" else str(value))
        if not where:
            raise InvalidArgument("find_log needs a filter")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {ENTRY_COLS} FROM transparency_entries WHERE {' AND '.join(where)}"
                " ORDER BY idx",
                *args,
            )
        )
        return [self._record(r) for r in rows]

    async def _nodes_txn(
        self, txn: Txn, keys: set[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        ordered = sorted(keys)
        for i in range(0, len(ordered), 200):
            chunk = ordered[i : i + 200]
            cond = " OR ".join("(level = ? AND idx = ?)" for _ in chunk)
            args = [v for key in chunk for v in key]
            for level, idx, value in await txn.fetchall(
                f"SELECT level, idx, hash FROM transparency_nodes WHERE {cond}", *args
            ):
                out[(int(level), int(idx))] = bytes(value)
        if len(out) != len(keys):
            raise CorruptRecord("transparency_nodes")
        return out

    async def _size_txn(self, txn: Txn) -> int:
        row = await txn.fetchone("SELECT size FROM transparency_state WHERE id = 1")
        return 0 if row is None else int(row[0])

    @unit
    async def log_inclusion_proofs(
        self, indices: Sequence[int], tree_size: int
    ) -> list[list[bytes]]:
        wanted = list(indices)

        async def proofs_txn(txn: Txn) -> list[list[bytes]]:
            checked = tree.check_proof_request(wanted, tree_size, await self._size_txn(txn))
            nodes = await self._nodes_txn(txn, tree.plan(inclusions=(checked, tree_size)))
            return [tree.inclusion_proof(nodes, i, tree_size) for i in checked]

        return await self._read(proofs_txn, snapshot=True)

    @unit
    async def log_consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        old = check_int64(old_size, "old_size")
        new = check_int64(new_size, "new_size")
        if old > new:
            raise InvalidArgument("old_size is beyond new_size")

        async def proof_txn(txn: Txn) -> list[bytes]:
            if new > await self._size_txn(txn):
                raise InvalidArgument("new_size is beyond the log")
            nodes = await self._nodes_txn(txn, tree.plan(consistency=(old, new)))
            return tree.consistency_proof(nodes, old, new)

        return await self._read(proof_txn, snapshot=True)

    @staticmethod
    def _head(r: Row) -> SignedTreeHead:
        return SignedTreeHead(int(r[0]), bytes(r[1]), dt_of(r[2]))

    @unit
    async def sign_tree_head(self, now: _dt.datetime) -> SignedTreeHead:
        key = self._require_log_key()
        when = us(now)

        async def sign_txn(txn: Txn) -> SignedTreeHead:
            size = await self._size_txn(txn)
            have = await txn.fetchone(
                "SELECT tree_size, head, created_at FROM transparency_heads WHERE tree_size = ?",
                size,
            )
            if have is not None:
                return self._head(have)
            nodes = await self._nodes_txn(txn, tree.plan(root_size=size))
            head = tree_head.sign_tree_head(
                tree_size=size,
                timestamp_ms=when // 1000,
                root_hash=tree.root(nodes, size),
                log_key=key,
            )
            # Another node may sign the same size meanwhile: the first head stays.
            await txn.execute(
                "INSERT INTO transparency_heads (tree_size, head, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (tree_size) DO NOTHING",
                size,
                head,
                when,
            )
            kept = await txn.fetchone(
                "SELECT tree_size, head, created_at FROM transparency_heads WHERE tree_size = ?",
                size,
            )
            assert kept is not None
            return self._head(kept)

        return await self._write(sign_txn)

    @unit
    async def latest_tree_head(self) -> SignedTreeHead | None:
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT tree_size, head, created_at FROM transparency_heads"
                " ORDER BY tree_size DESC LIMIT 1"
            )
        )
        return None if row is None else self._head(row)

    @unit
    async def get_tree_head(self, tree_size: int) -> SignedTreeHead:
        size = check_int64(tree_size, "tree_size")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT tree_size, head, created_at FROM transparency_heads WHERE tree_size = ?",
                size,
            )
        )
        if row is None:
            raise NotFound("tree_head")
        return self._head(row)

    @unit
    async def log_public_key(self) -> bytes:
        return self._require_log_key().public_key

    # ------------------------------------------------------------------ organisation keys

    def _org_key(self, r: Row) -> OrgKey:
        org_id = str(r[0])
        return OrgKey(
            org_id=org_id,
            statement=self._open("org_keys", "statement_sealed", org_id, r[4]),
            key_id=bytes(r[1]),
            created_by=r[2],
            created_at=dt_of(r[3]),
        )

    def _wrap(self, r: Row) -> OrgKeyWrap:
        rid = f"{r[0]}/{r[1]}"
        return OrgKeyWrap(
            org_id=str(r[0]),
            recipient_id=str(r[1]),
            wrapper_id=str(r[2]),
            wrap=self._open("org_key_wraps", "wrap_sealed", rid, r[4]),
            created_at=dt_of(r[3]),
        )

    def _wrap_row(self, w: OrgKeyWrap) -> list[object]:
        org = check_id(w.org_id, "org_id")
        rec = check_id(w.recipient_id, "recipient_id")
        return [
            org,
            rec,
            check_id(w.wrapper_id, "wrapper_id"),
            us(w.created_at),
            self._seal("org_key_wraps", "wrap_sealed", f"{org}/{rec}", check_bytes(w.wrap, "wrap")),
        ]

    _WRAP_SQL = (
        "INSERT INTO org_key_wraps (org_id, recipient_id, wrapper_id, created_at, wrap_sealed)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, recipient_id) DO UPDATE SET"
        " wrapper_id = excluded.wrapper_id, created_at = excluded.created_at,"
        " wrap_sealed = excluded.wrap_sealed"
    )

    async def _wraps_txn(self, txn: Txn, rows: list[list[object]]) -> None:
        for row in rows:
            for uid in (row[1], row[2]):
                if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", uid) is None:
                    raise NotFound("user")
            await txn.execute(self._WRAP_SQL, *row)

    @unit
    async def set_org_key(
        self, org_key: OrgKey, wraps: Sequence[OrgKeyWrap], log: Sequence[LogAppend]
    ) -> OrgKey:
        org_id = check_id(org_key.org_id, "org_id")
        key_id = check_bytes(org_key.key_id, "key_id")
        statement = self._seal(
            "org_keys", "statement_sealed", org_id, check_bytes(org_key.statement, "statement")
        )
        created_by = (
            None if org_key.created_by is None else check_id(org_key.created_by, "created_by")
        )
        created = us(org_key.created_at)
        rows = [self._wrap_row(w) for w in wraps]
        if any(r[0] != org_id for r in rows):
            raise InvalidArgument("every wrap is for this organisation")
        checked = tree.check_appends(log)

        async def set_txn(txn: Txn) -> OrgKey:
            if (
                await txn.fetchone(
                    f"SELECT 1 FROM organisations WHERE org_id = ?{txn.dialect.for_update}", org_id
                )
                is None
            ):
                raise NotFound("organisation")
            if await txn.fetchone("SELECT 1 FROM org_keys WHERE org_id = ?", org_id) is not None:
                raise Conflict("org_key_exists")
            await txn.execute(
                "INSERT INTO org_keys (org_id, key_id, created_by, created_at, statement_sealed)"
                " VALUES (?, ?, ?, ?, ?)",
                org_id,
                key_id,
                created_by,
                created,
                statement,
            )
            await self._wraps_txn(txn, rows)
            await append_log_txn(self, txn, checked)
            return OrgKey(org_id, org_key.statement, key_id, created_by, dt_of(created))

        return await self._write(set_txn)

    @unit
    async def get_org_key(self, org_id: str) -> OrgKey | None:
        check_id(org_id, "org_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT org_id, key_id, created_by, created_at, statement_sealed FROM org_keys"
                " WHERE org_id = ?",
                org_id,
            )
        )
        return None if row is None else self._org_key(row)

    @unit
    async def put_org_key_wraps(self, wraps: Sequence[OrgKeyWrap]) -> None:
        rows = [self._wrap_row(w) for w in wraps]

        async def put_txn(txn: Txn) -> None:
            for org in {str(r[0]) for r in rows}:
                if await txn.fetchone("SELECT 1 FROM org_keys WHERE org_id = ?", org) is None:
                    raise NotFound("org_key")
            await self._wraps_txn(txn, rows)

        await self._write(put_txn)

    _WRAP_COLS = "org_id, recipient_id, wrapper_id, created_at, wrap_sealed"

    @unit
    async def get_org_key_wrap(self, org_id: str, recipient_id: str) -> OrgKeyWrap:
        check_id(org_id, "org_id")
        check_id(recipient_id, "recipient_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {self._WRAP_COLS} FROM org_key_wraps WHERE org_id = ?"
                " AND recipient_id = ?",
                org_id,
                recipient_id,
            )
        )
        if row is None:
            raise NotFound("org_key_wrap")
        return self._wrap(row)

    @unit
    async def list_org_key_wraps(self, org_id: str) -> list[OrgKeyWrap]:
        check_id(org_id, "org_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {self._WRAP_COLS} FROM org_key_wraps WHERE org_id = ?"
                " ORDER BY recipient_id",
                org_id,
            )
        )
        return [self._wrap(r) for r in rows]

    # ------------------------------------------------------------------ records keys

    def _org_row(self, r: Row) -> Organisation:
        org_id = str(r[0])
        return Organisation(
            org_id=org_id,
            kind=OrgKind(r[1]),
            name=self._open_text("organisations", "name_sealed", org_id, r[2]),
            records_public_key=self._open_opt("organisations", "records_key_sealed", org_id, r[3]),
            created_at=dt_of(r[4]),
            records_key_sequence=None if r[5] is None else int(r[5]),
            org_key_id=None if r[6] is None else bytes(r[6]),
        )

    async def _set_records_key_txn(
        self,
        txn: Txn,
        org_id: str,
        sealed_key: bytes,
        sequence: int,
        log: Sequence[LogAppend],
    ) -> Organisation:
        row = await txn.fetchone(
            f"SELECT records_key_seq FROM organisations WHERE org_id = ?{txn.dialect.for_update}",
            org_id,
        )
        if row is None:
            raise NotFound("organisation")
        current = -1 if row[0] is None else int(row[0])
        if sequence != current + 1:
            raise Conflict("records_key_sequence")
        out = await txn.fetchone(
            "UPDATE organisations SET records_key_sealed = ?, records_key_seq = ?"
            f" WHERE org_id = ? RETURNING {_ORG_COLS}",
            sealed_key,
            sequence,
            org_id,
        )
        assert out is not None
        await txn.execute(
            "DELETE FROM records_key_approvals WHERE org_id = ? AND statement_hash IN"
            " (SELECT statement_hash FROM records_key_pending WHERE org_id = ? AND sequence <= ?)",
            org_id,
            org_id,
            sequence,
        )
        await txn.execute(
            "DELETE FROM records_key_pending WHERE org_id = ? AND sequence <= ?",
            org_id,
            sequence,
        )
        await append_log_txn(self, txn, log)
        return self._org_row(out)

    @unit
    async def set_records_key(
        self,
        org_id: str,
        public_key: bytes,
        *,
        sequence: int,
        log: Sequence[LogAppend],
    ) -> Organisation:
        check_id(org_id, "org_id")
        seq = check_int64(sequence, "sequence")
        sealed = self._seal(
            "organisations", "records_key_sealed", org_id, check_bytes(public_key, "public_key")
        )
        checked = tree.check_appends(log)
        return await self._write(
            lambda txn: self._set_records_key_txn(txn, org_id, sealed, seq, checked)
        )

    @unit
    async def propose_records_key(self, pending: RecordsKeyPending) -> RecordsKeyPending:
        org_id = check_id(pending.org_id, "org_id")
        sh = check_bytes(pending.statement_hash, "statement_hash")
        if len(sh) != 32:
            raise InvalidArgument("statement_hash must be 32 bytes")
        seq = check_int64(pending.sequence, "sequence")
        rid = f"{org_id}/{sh.hex()}"
        values = [
            org_id,
            sh,
            seq,
            check_id(pending.proposed_by, "proposed_by"),
            us(pending.proposed_at),
            self._seal(
                "records_key_pending",
                "statement_sealed",
                rid,
                check_bytes(pending.statement, "statement"),
            ),
            self._seal(
                "records_key_pending",
                "public_key_sealed",
                rid,
                check_bytes(pending.public_key, "public_key"),
            ),
        ]

        async def propose_txn(txn: Txn) -> RecordsKeyPending:
            row = await txn.fetchone(
                "SELECT records_key_seq FROM organisations WHERE org_id = ?"
                + txn.dialect.for_update,
                org_id,
            )
            if row is None:
                raise NotFound("organisation")
            if seq != (-1 if row[0] is None else int(row[0])) + 1:
                raise Conflict("records_key_sequence")
            if (
                await txn.fetchone(
                    "SELECT 1 FROM records_key_pending WHERE org_id = ? AND statement_hash = ?",
                    org_id,
                    sh,
                )
                is not None
            ):
                raise Conflict("duplicate")
            if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", values[3]) is None:
                raise NotFound("user")
            await txn.execute(
                "INSERT INTO records_key_pending (org_id, statement_hash, sequence, proposed_by,"
                " proposed_at, statement_sealed, public_key_sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                *values,
            )
            return (await self._pending_txn(txn, org_id, sh))[0]

        return await self._write(propose_txn)

    async def _pending_txn(
        self, txn: Txn, org_id: str, statement_hash: bytes | None = None
    ) -> list[RecordsKeyPending]:
        cond, args = "org_id = ?", [org_id]
        if statement_hash is not None:
            cond += " AND statement_hash = ?"
            args.append(statement_hash)  # type: ignore[arg-type]
        rows = await txn.fetchall(
            "SELECT org_id, statement_hash, sequence, proposed_by, proposed_at, statement_sealed,"
            f" public_key_sealed FROM records_key_pending WHERE {cond}"
            " ORDER BY proposed_at, statement_hash",
            *args,
        )
        approvals = await txn.fetchall(
            "SELECT statement_hash, approver_id, created_at, approval_sealed FROM"
            f" records_key_approvals WHERE {cond} ORDER BY created_at, approver_id",
            *args,
        )
        out = []
        for r in rows:
            sh = bytes(r[1])
            rid = f"{org_id}/{sh.hex()}"
            mine = tuple(
                RecordsKeyApproval(
                    approver_id=str(a[1]),
                    approval=self._open(
                        "records_key_approvals", "approval_sealed", f"{rid}/{a[1]}", a[3]
                    ),
                    created_at=dt_of(a[2]),
                )
                for a in approvals
                if bytes(a[0]) == sh
            )
            out.append(
                RecordsKeyPending(
                    org_id=org_id,
                    statement_hash=sh,
                    statement=self._open("records_key_pending", "statement_sealed", rid, r[5]),
                    sequence=int(r[2]),
                    public_key=self._open("records_key_pending", "public_key_sealed", rid, r[6]),
                    proposed_by=str(r[3]),
                    proposed_at=dt_of(r[4]),
                    approvals=mine,
                )
            )
        return out

    @unit
    async def list_records_key_pending(self, org_id: str) -> list[RecordsKeyPending]:
        check_id(org_id, "org_id")
        return await self._read(lambda txn: self._pending_txn(txn, org_id), snapshot=True)

    @unit
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
        approver = check_id(approval.approver_id, "approver_id")
        need = check_int64(threshold, "threshold", minimum=1)
        created = us(approval.created_at)
        sealed = self._seal(
            "records_key_approvals",
            "approval_sealed",
            f"{org_id}/{sh.hex()}/{approver}",
            check_bytes(approval.approval, "approval"),
        )
        now_ms = us(now) // 1000

        async def approve_txn(txn: Txn) -> tuple[RecordsKeyPending | None, Organisation]:
            org = await txn.fetchone(
                f"SELECT {_ORG_COLS} FROM organisations WHERE org_id = ?{txn.dialect.for_update}",
                org_id,
            )
            if org is None:
                raise NotFound("organisation")
            found = await self._pending_txn(txn, org_id, sh)
            if not found:
                raise NotFound("records_key_pending")
            pending = found[0]
            if any(a.approver_id == approver for a in pending.approvals):
                raise Conflict("duplicate")
            if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", approver) is None:
                raise NotFound("user")
            await txn.execute(
                "INSERT INTO records_key_approvals (org_id, statement_hash, approver_id,"
                " created_at, approval_sealed) VALUES (?, ?, ?, ?, ?)",
                org_id,
                sh,
                approver,
                created,
                sealed,
            )
            pending = (await self._pending_txn(txn, org_id, sh))[0]
            if len({a.approver_id for a in pending.approvals}) < need:
                return pending, self._org_row(org)
            log = tree.records_key_change_entries(pending, now_ms)
            changed = await self._set_records_key_txn(
                txn,
                org_id,
                self._seal("organisations", "records_key_sealed", org_id, pending.public_key),
                pending.sequence,
                log,
            )
            return None, changed

        return await self._write(approve_txn)
