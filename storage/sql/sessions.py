# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Sessions in SQL (:class:`storage.interface.SessionStore`)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, dt_of, dt_opt, us, us_opt
from storage.errors import InvalidArgument, NotFound
from storage.records import Session
from storage.sql._base import SqlBase, rid_session, unit

__all__ = ["SessionsSql"]

_SESSION_COLS = (
    "session_hash, user_id, created_at, last_seen_at, expires_at, address_sealed, "
    "user_agent_sealed, mfa_verified, revoked_at"
)


class SessionsSql(SqlBase):
    """:class:`storage.interface.SessionStore` over the engine."""

    def _session(self, r: Row) -> Session:
        sh = bytes(r[0])
        rid = rid_session(sh)
        return Session(
            session_id_hash=sh,
            user_id=str(r[1]),
            created_at=dt_of(r[2]),
            last_seen_at=dt_of(r[3]),
            expires_at=dt_of(r[4]),
            client_address=self._open_text("sessions", "address_sealed", rid, r[5]),
            user_agent=self._open_text("sessions", "user_agent_sealed", rid, r[6]),
            mfa_verified=bool(r[7]),
            revoked_at=dt_opt(r[8]),
        )

    @unit
    async def create_session(self, session: Session) -> Session:
        sh = check_bytes(session.session_id_hash, "session_id_hash")
        if not 16 <= len(sh) <= 64:
            raise InvalidArgument("session_id_hash must be 16..64 bytes")
        rid = rid_session(sh)
        values = [
            sh,
            check_id(session.user_id, "user_id"),
            us(session.created_at),
            us(session.last_seen_at),
            us(session.expires_at),
            self._seal_text("sessions", "address_sealed", rid, session.client_address),
            self._seal_text("sessions", "user_agent_sealed", rid, session.user_agent),
            1 if session.mfa_verified else 0,
            us_opt(session.revoked_at),
        ]

        async def create_txn(txn: Txn) -> Session:
            if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", values[1]) is None:
                raise NotFound("user")
            row = await txn.fetchone(
                f"INSERT INTO sessions ({_SESSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" RETURNING {_SESSION_COLS}",
                *values,
            )
            assert row is not None
            return self._session(row)

        return await self._write(create_txn)

    @unit
    async def get_session(self, session_id_hash: bytes) -> Session | None:
        sh = check_bytes(session_id_hash, "session_id_hash")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE session_hash = ?", sh
            )
        )
        return None if row is None else self._session(row)

    @unit
    async def touch_session(
        self,
        session_id_hash: bytes,
        now: _dt.datetime,
        *,
        expires_at: _dt.datetime | None = None,
        mfa_verified: bool | None = None,
    ) -> Session:
        sh = check_bytes(session_id_hash, "session_id_hash")
        sets = ["last_seen_at = ?"]
        args: list[Any] = [us(now)]
        if expires_at is not None:
            sets.append("expires_at = ?")
            args.append(us(expires_at))
        if mfa_verified is not None:
            sets.append("mfa_verified = ?")
            args.append(1 if mfa_verified else 0)

        async def touch_txn(txn: Txn) -> Session:
            row = await txn.fetchone(
                f"UPDATE sessions SET {', '.join(sets)} WHERE session_hash = ?"
                f" AND revoked_at IS NULL RETURNING {_SESSION_COLS}",
                *args,
                sh,
            )
            if row is None:
                raise NotFound("session")
            return self._session(row)

        return await self._write(touch_txn)

    @unit
    async def list_sessions(self, user_id: str, *, include_revoked: bool = False) -> list[Session]:
        check_id(user_id, "user_id")
        extra = "" if include_revoked else " AND revoked_at IS NULL"
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE user_id = ?{extra}"
                " ORDER BY created_at DESC, session_hash",
                user_id,
            )
        )
        return [self._session(r) for r in rows]

    @unit
    async def revoke_session(self, session_id_hash: bytes, now: _dt.datetime) -> None:
        sh = check_bytes(session_id_hash, "session_id_hash")
        when = us(now)

        async def revoke_txn(txn: Txn) -> None:
            row = await txn.fetchone(
                "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE session_hash = ?"
                " RETURNING session_hash",
                when,
                sh,
            )
            if row is None:
                raise NotFound("session")

        await self._write(revoke_txn)

    @unit
    async def revoke_user_sessions(
        self, user_id: str, now: _dt.datetime, *, except_hash: bytes | None = None
    ) -> int:
        check_id(user_id, "user_id")
        keep = b"" if except_hash is None else check_bytes(except_hash, "except_hash")
        when = us(now)

        async def revoke_all_txn(txn: Txn) -> int:
            rows = await txn.fetchall(
                "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
                " AND session_hash <> ? RETURNING session_hash",
                when,
                user_id,
                keep,
            )
            return len(rows)

        return await self._write(revoke_all_txn)
