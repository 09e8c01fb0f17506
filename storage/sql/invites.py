# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Invites in SQL (:class:`storage.interface.InviteStore`)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, dt_of, dt_opt, us
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import Invite, LogAppend, Membership, NewUser, Role, User
from storage.sql._base import SqlBase, unit
from storage.sql._log import append_log_txn
from storage.sql.accounts import create_user_txn, user_insert
from storage.transparency import check_appends

__all__ = ["InvitesSql"]

_INVITE_COLS = (
    "token_hash, org_id, role, created_by, created_at, expires_at, login_sealed, used_at, "
    "used_by, revoked_at, statement_sealed, handover_sealed"
)


class InvitesSql(SqlBase):
    """:class:`storage.interface.InviteStore` over the engine."""

    def _invite(self, r: Row) -> Invite:
        th = bytes(r[0])
        login = self._open_opt("invites", "login_sealed", th.hex(), r[6])
        return Invite(
            token_hash=th,
            org_id=str(r[1]),
            role=Role(r[2]),
            created_by=r[3],
            created_at=dt_of(r[4]),
            expires_at=dt_of(r[5]),
            login_name=None if login is None else login.decode("utf-8"),
            used_at=dt_opt(r[7]),
            used_by=r[8],
            revoked_at=dt_opt(r[9]),
            statement=self._open_opt("invites", "statement_sealed", th.hex(), r[10]),
            handover=self._open_opt("invites", "handover_sealed", th.hex(), r[11]),
        )

    @unit
    async def create_invite(self, invite: Invite, log: Sequence[LogAppend] = ()) -> Invite:
        th = check_bytes(invite.token_hash, "token_hash")
        if not 16 <= len(th) <= 64:
            raise InvalidArgument("token_hash must be 16..64 bytes")
        org = check_id(invite.org_id, "org_id")
        login = (
            None
            if invite.login_name is None
            else self._seal_text("invites", "login_sealed", th.hex(), invite.login_name)
        )
        values = [
            th,
            org,
            Role(invite.role).value,
            None if invite.created_by is None else check_id(invite.created_by, "created_by"),
            us(invite.created_at),
            us(invite.expires_at),
            login,
            self._seal_opt(
                "invites",
                "statement_sealed",
                th.hex(),
                None if invite.statement is None else check_bytes(invite.statement, "statement"),
            ),
            self._seal_opt(
                "invites",
                "handover_sealed",
                th.hex(),
                None if invite.handover is None else check_bytes(invite.handover, "handover"),
            ),
        ]
        entries = check_appends(log)

        async def create_txn(txn: Txn) -> Invite:
            if await txn.fetchone("SELECT 1 FROM organisations WHERE org_id = ?", org) is None:
                raise NotFound("organisation")
            row = await txn.fetchone(
                "INSERT INTO invites (token_hash, org_id, role, created_by, created_at,"
                " expires_at, login_sealed, statement_sealed, handover_sealed)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_INVITE_COLS}",
                *values,
            )
            assert row is not None
            await append_log_txn(self, txn, entries)
            return self._invite(row)

        return await self._write(create_txn)

    @unit
    async def get_invite(self, token_hash: bytes) -> Invite:
        th = check_bytes(token_hash, "token_hash")
        row = await self._read(
            lambda txn: txn.fetchone(f"SELECT {_INVITE_COLS} FROM invites WHERE token_hash = ?", th)
        )
        if row is None:
            raise NotFound("invite")
        return self._invite(row)

    @unit
    async def list_invites(self, org_id: str) -> list[Invite]:
        check_id(org_id, "org_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_INVITE_COLS} FROM invites WHERE org_id = ?"
                " ORDER BY created_at DESC, token_hash",
                org_id,
            )
        )
        return [self._invite(r) for r in rows]

    @unit
    async def revoke_invite(self, token_hash: bytes, now: _dt.datetime) -> Invite:
        th = check_bytes(token_hash, "token_hash")
        when = us(now)

        async def revoke_txn(txn: Txn) -> Invite:
            row = await txn.fetchone(
                f"SELECT {_INVITE_COLS} FROM invites WHERE token_hash = ?{txn.dialect.for_update}",
                th,
            )
            if row is None:
                raise NotFound("invite")
            if row[7] is not None:
                raise Conflict("invite_used")
            if row[9] is not None:  # two admins cancelling at once: one wins, one is told
                raise Conflict("invite_revoked")
            out = await txn.fetchone(
                f"UPDATE invites SET revoked_at = ? WHERE token_hash = ? RETURNING {_INVITE_COLS}",
                when,
                th,
            )
            assert out is not None
            return self._invite(out)

        return await self._write(revoke_txn)

    @unit
    async def accept_invite(
        self,
        token_hash: bytes,
        user: NewUser,
        now: _dt.datetime,
        log: Sequence[LogAppend] = (),
    ) -> User:
        th = check_bytes(token_hash, "token_hash")
        entries = check_appends(log)
        sql, values = user_insert(self, user)
        when = us(now)
        uid = values[0]

        async def accept_txn(txn: Txn) -> User:
            row = await txn.fetchone(
                "SELECT org_id, role, expires_at, used_at, revoked_at FROM invites"
                f" WHERE token_hash = ?{txn.dialect.for_update}",
                th,
            )
            if row is None:
                raise NotFound("invite")
            org_id, role, expires, used, revoked = row
            if used is not None:
                raise Conflict("invite_used")
            if revoked is not None:
                raise Conflict("invite_revoked")
            if when >= int(expires):
                raise Conflict("invite_expired")
            # Mark used first (compare-and-set) so two racing accepts cannot both pass.
            won = await txn.fetchone(
                "UPDATE invites SET used_at = ?, used_by = ? WHERE token_hash = ?"
                " AND used_at IS NULL RETURNING token_hash",
                when,
                uid,
                th,
            )
            if won is None:
                raise Conflict("invite_used")
            return await create_user_txn(
                self, txn, sql, values, [Membership(str(org_id), Role(role))], entries
            )

        return await self._write(accept_txn)
