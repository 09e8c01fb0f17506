# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Accounts in SQL: users, credentials, TOTP, recovery codes, lockout
(:class:`storage.interface.AccountStore`).

The helpers ending in ``_txn`` read or write users inside another unit's transaction (an
invite's acceptance creates its user; the directory lists users)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from typing import Any

from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, check_int64, dt_of, dt_opt, us
from storage.errors import Conflict, CorruptRecord, InvalidArgument, NotFound
from storage.keys import normalise_login
from storage.records import AuthFailureState, LogAppend, Membership, NewUser, Role, User
from storage.sql._base import SqlBase, unit
from storage.sql._log import append_log_txn
from storage.transparency import check_appends

__all__ = [
    "USER_COLS",
    "AccountsSql",
    "add_membership_txn",
    "create_user_txn",
    "get_user_txn",
    "memberships_txn",
    "user_insert",
    "user_of",
]

USER_COLS = (
    "user_id, login_sealed, display_name_sealed, kdf_params_sealed, auth_hash_sealed, "
    "wrapped_usk_sealed, recovery_usk_sealed, org_usk_sealed, enc_pub_sealed, sign_pub_sealed, "
    "private_keys_sealed, totp_secret_sealed, totp_confirmed, totp_last_timecode, "
    "recovery_codes_sealed, failed_logins, locked_until, disabled, created_at, updated_at"
)


def user_of(base: SqlBase, r: Row, memberships: Sequence[Membership]) -> User:
    uid = str(r[0])
    t = "users"
    codes_raw = base._open_opt(t, "recovery_codes_sealed", uid, r[14])
    codes: tuple[str, ...] = ()
    if codes_raw is not None:
        try:
            loaded = json.loads(codes_raw)
        except ValueError:
            raise CorruptRecord("users.recovery_codes_sealed") from None
        codes = tuple(str(c) for c in loaded)
    return User(
        user_id=uid,
        login_name=base._open_text(t, "login_sealed", uid, r[1]),
        display_name=base._open_text(t, "display_name_sealed", uid, r[2]),
        kdf_params=base._open(t, "kdf_params_sealed", uid, r[3]),
        auth_key_hash=base._open_text(t, "auth_hash_sealed", uid, r[4]),
        wrapped_usk=base._open(t, "wrapped_usk_sealed", uid, r[5]),
        recovery_wrapped_usk=base._open_opt(t, "recovery_usk_sealed", uid, r[6]),
        org_wrapped_usk=base._open_opt(t, "org_usk_sealed", uid, r[7]),
        encryption_public_key=base._open(t, "enc_pub_sealed", uid, r[8]),
        signing_public_key=base._open(t, "sign_pub_sealed", uid, r[9]),
        sealed_private_keys=base._open(t, "private_keys_sealed", uid, r[10]),
        totp_secret=base._open_opt(t, "totp_secret_sealed", uid, r[11]),
        totp_confirmed=bool(r[12]),
        totp_last_timecode=None if r[13] is None else int(r[13]),
        recovery_code_hashes=codes,
        failed_logins=int(r[15]),
        locked_until=dt_opt(r[16]),
        disabled=bool(r[17]),
        created_at=dt_of(r[18]),
        updated_at=dt_of(r[19]),
        memberships=tuple(memberships),
    )


async def memberships_txn(txn: Txn, user_id: str) -> list[Membership]:
    rows = await txn.fetchall(
        "SELECT org_id, role FROM memberships WHERE user_id = ? ORDER BY org_id, role",
        user_id,
    )
    return [Membership(str(r[0]), Role(r[1])) for r in rows]


async def get_user_txn(base: SqlBase, txn: Txn, user_id: str, *, lock: bool = False) -> User:
    # ``lock``: read-modify-write units take the row lock first (PostgreSQL's READ
    # COMMITTED would otherwise let concurrent units all read the same old value; SQLite's
    # single writer serialises them anyway).
    lock_clause = txn.dialect.for_update if lock else ""
    row = await txn.fetchone(
        f"SELECT {USER_COLS} FROM users WHERE user_id = ?{lock_clause}", user_id
    )
    if row is None:
        raise NotFound("user")
    return user_of(base, row, await memberships_txn(txn, user_id))


def user_insert(base: SqlBase, user: NewUser) -> tuple[str, list[Any]]:
    """The INSERT of a new user and its (sealed) values, prepared outside the unit."""
    uid = check_id(user.user_id, "user_id")
    for name in (
        "kdf_params",
        "wrapped_usk",
        "encryption_public_key",
        "signing_public_key",
        "sealed_private_keys",
    ):
        check_bytes(getattr(user, name), name)
    if not user.login_name or not isinstance(user.login_name, str):
        raise InvalidArgument("login_name must be a non-empty string")
    t = "users"
    created = us(user.created_at)
    values: list[Any] = [
        uid,
        base._cipher.index("login", normalise_login(user.login_name)),
        base._seal_text(t, "login_sealed", uid, user.login_name),
        base._seal_text(t, "display_name_sealed", uid, user.display_name),
        base._seal(t, "kdf_params_sealed", uid, user.kdf_params),
        base._seal_text(t, "auth_hash_sealed", uid, user.auth_key_hash),
        base._seal(t, "wrapped_usk_sealed", uid, user.wrapped_usk),
        base._seal_opt(t, "recovery_usk_sealed", uid, user.recovery_wrapped_usk),
        base._seal_opt(t, "org_usk_sealed", uid, user.org_wrapped_usk),
        base._seal(t, "enc_pub_sealed", uid, user.encryption_public_key),
        base._seal(t, "sign_pub_sealed", uid, user.signing_public_key),
        base._seal(t, "private_keys_sealed", uid, user.sealed_private_keys),
        created,
        created,
    ]
    sql = (
        "INSERT INTO users (user_id, login_index, login_sealed, display_name_sealed,"
        " kdf_params_sealed, auth_hash_sealed, wrapped_usk_sealed, recovery_usk_sealed,"
        " org_usk_sealed, enc_pub_sealed, sign_pub_sealed, private_keys_sealed,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    return sql, values


async def add_membership_txn(txn: Txn, user_id: str, m: Membership) -> None:
    org = check_id(m.org_id, "org_id")
    exists = await txn.fetchone("SELECT 1 FROM organisations WHERE org_id = ?", org)
    if exists is None:
        raise NotFound("organisation")
    await txn.execute(
        "INSERT INTO memberships (user_id, org_id, role) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, org_id, role) DO NOTHING",
        user_id,
        org,
        Role(m.role).value,
    )


async def create_user_txn(
    base: SqlBase,
    txn: Txn,
    sql: str,
    values: list[Any],
    memberships: Sequence[Membership],
    log: Sequence[LogAppend] = (),
) -> User:
    uid = values[0]
    dup = await txn.fetchone(
        "SELECT 1 FROM users WHERE user_id = ? OR login_index = ?", uid, values[1]
    )
    if dup is not None:
        raise Conflict("duplicate")
    await txn.execute(sql, *values)
    for m in memberships:
        await add_membership_txn(txn, uid, m)
    await append_log_txn(base, txn, log)
    return await get_user_txn(base, txn, uid)


class AccountsSql(SqlBase):
    """:class:`storage.interface.AccountStore` over the engine."""

    @unit
    async def create_user(
        self,
        user: NewUser,
        memberships: Sequence[Membership] = (),
        log: Sequence[LogAppend] = (),
    ) -> User:
        sql, values = user_insert(self, user)
        ms = list(memberships)
        entries = check_appends(log)
        return await self._write(lambda txn: create_user_txn(self, txn, sql, values, ms, entries))

    @unit
    async def get_user(self, user_id: str) -> User:
        check_id(user_id, "user_id")
        return await self._read(lambda txn: get_user_txn(self, txn, user_id), snapshot=True)

    @unit
    async def find_user_by_login(self, login_name: str) -> User | None:
        if not isinstance(login_name, str) or not login_name:
            return None
        index = self._cipher.index("login", normalise_login(login_name))

        async def find_txn(txn: Txn) -> User | None:
            row = await txn.fetchone(f"SELECT {USER_COLS} FROM users WHERE login_index = ?", index)
            if row is None:
                return None
            return user_of(self, row, await memberships_txn(txn, str(row[0])))

        return await self._read(find_txn, snapshot=True)

    async def _update_user(self, user_id: str, sets: str, *args: Any) -> User:
        """``UPDATE users SET <sets> WHERE user_id = ?`` then return the user."""
        check_id(user_id, "user_id")

        async def update_txn(txn: Txn) -> User:
            row = await txn.fetchone(
                f"UPDATE users SET {sets} WHERE user_id = ? RETURNING user_id", *args, user_id
            )
            if row is None:
                raise NotFound("user")
            return await get_user_txn(self, txn, user_id)

        return await self._write(update_txn)

    @unit
    async def update_credentials(
        self,
        user_id: str,
        *,
        kdf_params: bytes,
        auth_key_hash: str,
        wrapped_usk: bytes,
        now: _dt.datetime,
        expected_auth_key_hash: str | None = None,
    ) -> User:
        uid = check_id(user_id, "user_id")
        t = "users"
        kdf = self._seal(t, "kdf_params_sealed", uid, check_bytes(kdf_params, "kdf_params"))
        ah = self._seal_text(t, "auth_hash_sealed", uid, auth_key_hash)
        usk = self._seal(t, "wrapped_usk_sealed", uid, check_bytes(wrapped_usk, "wrapped_usk"))
        when = us(now)

        async def credentials_txn(txn: Txn) -> User:
            current = await get_user_txn(self, txn, uid, lock=True)
            if (
                expected_auth_key_hash is not None
                and current.auth_key_hash != expected_auth_key_hash
            ):
                raise Conflict("state_changed")
            await txn.execute(
                "UPDATE users SET kdf_params_sealed = ?, auth_hash_sealed = ?,"
                " wrapped_usk_sealed = ?, updated_at = ? WHERE user_id = ?",
                kdf,
                ah,
                usk,
                when,
                uid,
            )
            return await get_user_txn(self, txn, uid)

        return await self._write(credentials_txn)

    @unit
    async def update_auth_key_hash(self, user_id: str, auth_key_hash: str) -> None:
        uid = check_id(user_id, "user_id")
        ah = self._seal_text("users", "auth_hash_sealed", uid, auth_key_hash)
        await self._update_user(uid, "auth_hash_sealed = ?", ah)

    @unit
    async def begin_totp_enrolment(self, user_id: str, secret: bytes, now: _dt.datetime) -> User:
        uid = check_id(user_id, "user_id")
        sealed = self._seal("users", "totp_secret_sealed", uid, check_bytes(secret, "secret"))
        return await self._update_user(
            uid,
            "totp_secret_sealed = ?, totp_confirmed = 0, totp_last_timecode = NULL,"
            " recovery_codes_sealed = NULL, updated_at = ?",
            sealed,
            us(now),
        )

    def _seal_codes(self, uid: str, codes: Sequence[str]) -> bytes:
        if not all(isinstance(c, str) and c for c in codes):
            raise InvalidArgument("recovery code hashes must be non-empty strings")
        return self._seal(
            "users", "recovery_codes_sealed", uid, json.dumps(list(codes)).encode("utf-8")
        )

    @unit
    async def confirm_totp(
        self,
        user_id: str,
        timecode: int,
        recovery_code_hashes: Sequence[str],
        now: _dt.datetime,
    ) -> User:
        uid = check_id(user_id, "user_id")
        check_int64(timecode, "timecode")
        codes = self._seal_codes(uid, recovery_code_hashes)
        when = us(now)

        async def confirm_txn(txn: Txn) -> User:
            row = await txn.fetchone(
                "UPDATE users SET totp_confirmed = 1, totp_last_timecode = ?,"
                " recovery_codes_sealed = ?, updated_at = ? WHERE user_id = ?"
                " AND totp_secret_sealed IS NOT NULL"
                " AND (totp_last_timecode IS NULL OR totp_last_timecode < ?) RETURNING user_id",
                timecode,
                codes,
                when,
                uid,
                timecode,
            )
            if row is None:
                user = await get_user_txn(self, txn, uid)
                if user.totp_secret is None:
                    raise Conflict("state_changed")
                raise Conflict("totp_replay")
            return await get_user_txn(self, txn, uid)

        return await self._write(confirm_txn)

    @unit
    async def use_totp_timecode(self, user_id: str, timecode: int, now: _dt.datetime) -> User:
        uid = check_id(user_id, "user_id")
        check_int64(timecode, "timecode")
        when = us(now)

        async def use_txn(txn: Txn) -> User:
            # The compare-and-set that makes a TOTP code single-use (RFC 6238 section 5.2:
            # "the verifier MUST NOT accept the second attempt of the OTP").
            row = await txn.fetchone(
                "UPDATE users SET totp_last_timecode = ?, updated_at = ? WHERE user_id = ?"
                " AND (totp_last_timecode IS NULL OR totp_last_timecode < ?) RETURNING user_id",
                timecode,
                when,
                uid,
                timecode,
            )
            if row is None:
                await get_user_txn(self, txn, uid)
                raise Conflict("totp_replay")
            return await get_user_txn(self, txn, uid)

        return await self._write(use_txn)

    @unit
    async def consume_recovery_code(self, user_id: str, code_hash: str, now: _dt.datetime) -> User:
        uid = check_id(user_id, "user_id")
        when = us(now)

        async def consume_txn(txn: Txn) -> User:
            # Single use across nodes: the row lock makes concurrent consumers of the same
            # code queue up, and all but the first then find it gone.
            user = await get_user_txn(self, txn, uid, lock=True)
            if code_hash not in user.recovery_code_hashes:
                raise NotFound("recovery_code")
            rest = [c for c in user.recovery_code_hashes if c != code_hash]
            await txn.execute(
                "UPDATE users SET recovery_codes_sealed = ?, updated_at = ? WHERE user_id = ?",
                self._seal_codes(uid, rest),
                when,
                uid,
            )
            return await get_user_txn(self, txn, uid)

        return await self._write(consume_txn)

    @unit
    async def reset_totp(self, user_id: str, now: _dt.datetime) -> User:
        return await self._update_user(
            user_id,
            "totp_secret_sealed = NULL, totp_confirmed = 0, totp_last_timecode = NULL,"
            " recovery_codes_sealed = NULL, updated_at = ?",
            us(now),
        )

    @unit
    async def record_auth_failure(
        self,
        user_id: str,
        now: _dt.datetime,
        *,
        lock_after: int,
        lock_for: _dt.timedelta,
    ) -> AuthFailureState:
        uid = check_id(user_id, "user_id")
        check_int64(lock_after, "lock_after", minimum=1)
        if not isinstance(lock_for, _dt.timedelta):
            raise InvalidArgument("lock_for must be a timedelta")
        until = us(now + lock_for)

        async def failure_txn(txn: Txn) -> AuthFailureState:
            row = await txn.fetchone(
                "UPDATE users SET failed_logins = failed_logins + 1 WHERE user_id = ?"
                " RETURNING failed_logins, locked_until",
                uid,
            )
            if row is None:
                raise NotFound("user")
            count, locked = int(row[0]), row[1]
            if count >= lock_after:
                await txn.execute("UPDATE users SET locked_until = ? WHERE user_id = ?", until, uid)
                locked = until
            return AuthFailureState(count, dt_opt(locked))

        return await self._write(failure_txn)

    @unit
    async def reset_auth_failures(self, user_id: str) -> None:
        await self._update_user(user_id, "failed_logins = 0, locked_until = NULL")
