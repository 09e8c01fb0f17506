# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Passkeys in SQL (:class:`storage.interface.PasskeyStore`): credentials (sealed but for
their lookup hash, owner, counter and times), single-use challenges (taken with
``DELETE ... RETURNING``, so racing takers cannot both get one) and organisations'
requirements."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence

from storage._engine import Row, Txn
from storage._passkey_values import (
    check_challenge,
    check_credential_id,
    check_hash,
    check_name,
    check_passkey,
    check_prf_wrap,
    credential_hash,
    pack_details,
    role_key,
    role_of,
    unpack_details,
)
from storage._values import check_id, check_int64, dt_of, dt_opt, us
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import (
    Passkey,
    PasskeyChallenge,
    PasskeyPurpose,
    PasskeyRequirement,
    Role,
)
from storage.sql._base import SqlBase, unit

__all__ = ["PasskeysSql"]

_T = "passkeys"
_COLS = (
    "passkey_id, user_id, sign_count, created_at, last_used_at, credential_id_sealed,"
    " public_key_sealed, name_sealed, details_sealed, prf_wrap_sealed"
)
_CHALLENGE_COLS = "challenge_hash, purpose, user_id, session_hash, created_at, expires_at"


def _challenge(r: Row) -> PasskeyChallenge:
    return PasskeyChallenge(
        challenge_hash=bytes(r[0]),
        purpose=PasskeyPurpose(str(r[1])),
        user_id=None if r[2] is None else str(r[2]),
        session_hash=None if r[3] is None else bytes(r[3]),
        created_at=dt_of(r[4]),
        expires_at=dt_of(r[5]),
    )


def _requirement(r: Row) -> PasskeyRequirement:
    return PasskeyRequirement(
        org_id=str(r[0]),
        role=role_of(str(r[1])),
        created_by=None if r[2] is None else str(r[2]),
        created_at=dt_of(r[3]),
    )


class PasskeysSql(SqlBase):
    """:class:`storage.interface.PasskeyStore` over the engine."""

    def _passkey(self, r: Row) -> Passkey:
        pid = str(r[0])
        details = unpack_details(self._open(_T, "details_sealed", pid, r[8]))
        return Passkey(
            passkey_id=pid,
            user_id=str(r[1]),
            sign_count=int(r[2]),
            created_at=dt_of(r[3]),
            last_used_at=dt_opt(r[4]),
            credential_id=self._open(_T, "credential_id_sealed", pid, r[5]),
            public_key=self._open(_T, "public_key_sealed", pid, r[6]),
            name=self._open_text(_T, "name_sealed", pid, r[7]),
            prf_wrap=self._open_opt(_T, "prf_wrap_sealed", pid, r[9]),
            aaguid=str(details["aaguid"]),
            transports=details["transports"],  # type: ignore[arg-type]
            backup_eligible=bool(details["backup_eligible"]),
            backed_up=bool(details["backed_up"]),
        )

    async def _update(self, passkey_id: str, sets: str, *values: object) -> Passkey:
        pid = check_id(passkey_id, "passkey_id")

        async def update_txn(txn: Txn) -> Row:
            row = await txn.fetchone(
                f"UPDATE passkeys SET {sets} WHERE passkey_id = ? RETURNING {_COLS}", *values, pid
            )
            if row is None:
                raise NotFound("passkey")
            return row

        return self._passkey(await self._write(update_txn))

    # ------------------------------------------------------------------ credentials

    @unit
    async def add_passkey(self, passkey: Passkey) -> Passkey:
        p = check_passkey(passkey)
        pid = p.passkey_id
        values = [
            pid,
            p.user_id,
            credential_hash(p.credential_id),
            p.sign_count,
            us(p.created_at),
            None if p.last_used_at is None else us(p.last_used_at),
            self._seal(_T, "credential_id_sealed", pid, p.credential_id),
            self._seal(_T, "public_key_sealed", pid, p.public_key),
            self._seal_text(_T, "name_sealed", pid, p.name),
            self._seal(_T, "details_sealed", pid, pack_details(p)),
            self._seal_opt(_T, "prf_wrap_sealed", pid, p.prf_wrap),
        ]

        async def add_txn(txn: Txn) -> Row:
            dup = await txn.fetchone(
                "SELECT 1 FROM passkeys WHERE passkey_id = ? OR credential_hash = ?",
                pid,
                values[2],
            )
            if dup is not None:
                raise Conflict("duplicate")
            if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", p.user_id) is None:
                raise NotFound("user")
            row = await txn.fetchone(
                "INSERT INTO passkeys (passkey_id, user_id, credential_hash, sign_count,"
                " created_at, last_used_at, credential_id_sealed, public_key_sealed, name_sealed,"
                f" details_sealed, prf_wrap_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" RETURNING {_COLS}",
                *values,
            )
            assert row is not None
            return row

        return self._passkey(await self._write(add_txn))

    @unit
    async def find_passkey(self, credential_id: bytes) -> Passkey:
        h = credential_hash(check_credential_id(credential_id))
        row = await self._read(
            lambda txn: txn.fetchone(f"SELECT {_COLS} FROM passkeys WHERE credential_hash = ?", h)
        )
        if row is None:
            raise NotFound("passkey")
        return self._passkey(row)

    @unit
    async def list_passkeys(self, user_id: str) -> list[Passkey]:
        uid = check_id(user_id, "user_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_COLS} FROM passkeys WHERE user_id = ? ORDER BY created_at, passkey_id",
                uid,
            )
        )
        return [self._passkey(r) for r in rows]

    @unit
    async def use_passkey(
        self,
        passkey_id: str,
        *,
        expected_sign_count: int,
        sign_count: int,
        backed_up: bool,
        now: _dt.datetime,
    ) -> Passkey:
        pid = check_id(passkey_id, "passkey_id")
        expected = check_int64(expected_sign_count, "expected_sign_count")
        new = check_int64(sign_count, "sign_count")
        if new >= 2**32 or not isinstance(backed_up, bool):
            raise InvalidArgument("sign_count or backed_up out of range")
        at = us(now)

        async def use_txn(txn: Txn) -> Row:
            row = await txn.fetchone(
                f"SELECT {_COLS} FROM passkeys WHERE passkey_id = ?{txn.dialect.for_update}", pid
            )
            if row is None:
                raise NotFound("passkey")
            if int(row[2]) != expected:
                raise Conflict("state_changed")
            old = self._passkey(row)
            details = pack_details(dataclasses.replace(old, backed_up=backed_up))
            out = await txn.fetchone(
                "UPDATE passkeys SET sign_count = ?, last_used_at = ?, details_sealed = ?"
                f" WHERE passkey_id = ? AND sign_count = ? RETURNING {_COLS}",
                new,
                at,
                self._seal(_T, "details_sealed", pid, details),
                pid,
                expected,
            )
            if out is None:  # pragma: no cover - the row lock (or the single writer) holds
                raise Conflict("state_changed")
            return out

        return self._passkey(await self._write(use_txn))

    @unit
    async def rename_passkey(self, passkey_id: str, name: str) -> Passkey:
        pid = check_id(passkey_id, "passkey_id")
        sealed = self._seal_text(_T, "name_sealed", pid, check_name(name))
        return await self._update(pid, "name_sealed = ?", sealed)

    @unit
    async def set_passkey_prf_wrap(self, passkey_id: str, prf_wrap: bytes | None) -> Passkey:
        pid = check_id(passkey_id, "passkey_id")
        sealed = self._seal_opt(_T, "prf_wrap_sealed", pid, check_prf_wrap(prf_wrap))
        return await self._update(pid, "prf_wrap_sealed = ?", sealed)

    @unit
    async def delete_passkey(self, passkey_id: str) -> None:
        pid = check_id(passkey_id, "passkey_id")

        async def delete_txn(txn: Txn) -> None:
            row = await txn.fetchone(
                "DELETE FROM passkeys WHERE passkey_id = ? RETURNING passkey_id", pid
            )
            if row is None:
                raise NotFound("passkey")

        await self._write(delete_txn)

    @unit
    async def delete_user_passkeys(self, user_id: str) -> int:
        uid = check_id(user_id, "user_id")
        rows = await self._write(
            lambda txn: txn.fetchall(
                "DELETE FROM passkeys WHERE user_id = ? RETURNING passkey_id", uid
            )
        )
        return len(rows)

    # ------------------------------------------------------------------ challenges

    @unit
    async def put_passkey_challenge(self, challenge: PasskeyChallenge) -> None:
        c = check_challenge(challenge)
        values = [
            c.challenge_hash,
            c.purpose.value,
            c.user_id,
            c.session_hash,
            us(c.created_at),
            us(c.expires_at),
        ]

        async def put_txn(txn: Txn) -> None:
            await txn.execute("DELETE FROM passkey_challenges WHERE expires_at <= ?", values[4])
            if (
                await txn.fetchone(
                    "SELECT 1 FROM passkey_challenges WHERE challenge_hash = ?", values[0]
                )
                is not None
            ):
                raise Conflict("duplicate")
            await txn.execute(
                f"INSERT INTO passkey_challenges ({_CHALLENGE_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                *values,
            )

        await self._write(put_txn)

    @unit
    async def get_passkey_challenge(self, challenge_hash: bytes) -> PasskeyChallenge:
        h = check_hash(challenge_hash, "challenge_hash")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_CHALLENGE_COLS} FROM passkey_challenges WHERE challenge_hash = ?", h
            )
        )
        if row is None:
            raise NotFound("passkey_challenge")
        return _challenge(row)

    @unit
    async def take_passkey_challenge(self, challenge_hash: bytes) -> PasskeyChallenge:
        h = check_hash(challenge_hash, "challenge_hash")
        row = await self._write(
            lambda txn: txn.fetchone(
                "DELETE FROM passkey_challenges WHERE challenge_hash = ?"
                f" RETURNING {_CHALLENGE_COLS}",
                h,
            )
        )
        if row is None:
            raise NotFound("passkey_challenge")
        return _challenge(row)

    # ------------------------------------------------------------------ requirements

    @unit
    async def set_passkey_requirement(
        self, org_id: str, role: Role | None, *, created_by: str | None, now: _dt.datetime
    ) -> PasskeyRequirement:
        oid = check_id(org_id, "org_id")
        key = role_key(role)
        by = None if created_by is None else check_id(created_by, "created_by")
        at = us(now)

        async def set_txn(txn: Txn) -> Row:
            if await txn.fetchone("SELECT 1 FROM organisations WHERE org_id = ?", oid) is None:
                raise NotFound("organisation")
            sql = "SELECT org_id, role, created_by, created_at FROM passkey_requirements"
            row = await txn.fetchone(f"{sql} WHERE org_id = ? AND role = ?", oid, key)
            if row is not None:
                return row
            await txn.execute(
                "INSERT INTO passkey_requirements (org_id, role, created_by, created_at)"
                " VALUES (?, ?, ?, ?)",
                oid,
                key,
                by,
                at,
            )
            return (oid, key, by, at)

        return _requirement(await self._write(set_txn))

    @unit
    async def clear_passkey_requirement(self, org_id: str, role: Role | None) -> None:
        oid = check_id(org_id, "org_id")
        key = role_key(role)
        await self._write(
            lambda txn: txn.execute(
                "DELETE FROM passkey_requirements WHERE org_id = ? AND role = ?", oid, key
            )
        )

    @unit
    async def list_passkey_requirements(self, org_ids: Sequence[str]) -> list[PasskeyRequirement]:
        if isinstance(org_ids, str):
            raise InvalidArgument("org_ids must be a sequence of ids")
        ids = sorted({check_id(o, "org_id") for o in org_ids})
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT org_id, role, created_by, created_at FROM passkey_requirements"
                f" WHERE org_id IN ({marks}) ORDER BY org_id, role",
                *ids,
            )
        )
        return [_requirement(r) for r in rows]
