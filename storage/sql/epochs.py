# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Removals and case key epochs in SQL (:class:`storage.interface.EpochStore`)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from storage._engine import Row, Txn
from storage._values import check_epoch, check_id, dt_of, us
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import (
    Case,
    CaseRemoval,
    LogAppend,
    Membership,
    RemovalReason,
    Role,
    User,
)
from storage.records import WrappedCaseKey as _Key
from storage.sql._base import SqlBase, unit
from storage.sql._log import append_log_txn
from storage.sql.accounts import get_user_txn
from storage.sql.cases import case_key_values, get_case_txn, insert_case_keys_txn
from storage.transparency import check_appends

__all__ = ["EpochsSql"]

_REMOVAL_COLS = "case_id, user_id, epoch, reason, removed_by, removed_at"


def _removal_of(r: Row) -> CaseRemoval:
    return CaseRemoval(
        str(r[0]),
        str(r[1]),
        int(r[2]),
        RemovalReason(r[3]),
        None if r[4] is None else str(r[4]),
        dt_of(r[5]),
    )


async def remove_txn(
    txn: Txn,
    case_id: str,
    user_id: str,
    reason: RemovalReason,
    removed_by: str | None,
    when: int,
) -> CaseRemoval | None:
    """Take one participant off one case at its current epoch; None if not a participant."""
    gone = await txn.fetchone(
        "DELETE FROM participants WHERE case_id = ? AND user_id = ? RETURNING user_id",
        case_id,
        user_id,
    )
    if gone is None:
        return None
    epoch_row = await txn.fetchone(
        "UPDATE cases SET updated_at = ? WHERE case_id = ? RETURNING key_epoch", when, case_id
    )
    assert epoch_row is not None  # the participant row referenced it
    row = await txn.fetchone(
        f"INSERT INTO case_removals ({_REMOVAL_COLS}) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (case_id, user_id) DO UPDATE SET epoch = excluded.epoch,"
        " reason = excluded.reason, removed_by = excluded.removed_by,"
        f" removed_at = excluded.removed_at RETURNING {_REMOVAL_COLS}",
        case_id,
        user_id,
        int(epoch_row[0]),
        reason.value,
        removed_by,
        when,
    )
    assert row is not None
    return _removal_of(row)


class EpochsSql(SqlBase):
    """:class:`storage.interface.EpochStore` over the engine."""

    @unit
    async def remove_participant(
        self, case_id: str, user_id: str, *, removed_by: str, now: _dt.datetime
    ) -> CaseRemoval:
        cid, uid = check_id(case_id, "case_id"), check_id(user_id, "user_id")
        by, when = check_id(removed_by, "removed_by"), us(now)

        async def remove(txn: Txn) -> CaseRemoval:
            await get_case_txn(self, txn, cid)
            done = await remove_txn(txn, cid, uid, RemovalReason.CASE, by, when)
            if done is None:
                raise NotFound("participant")
            return done

        return await self._write(remove)

    @unit
    async def list_case_removals(self, case_id: str) -> list[CaseRemoval]:
        cid = check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_REMOVAL_COLS} FROM case_removals WHERE case_id = ?"
                " ORDER BY removed_at, user_id",
                cid,
            )
        )
        return [_removal_of(r) for r in rows]

    @unit
    async def rotate_case_key(
        self, case_id: str, expected_epoch: int, keys: Sequence[_Key], now: _dt.datetime
    ) -> Case:
        cid = check_id(case_id, "case_id")
        expected = check_epoch(expected_epoch)
        when = us(now)
        if not keys:
            raise InvalidArgument("a new epoch needs its wraps")
        rows = [case_key_values(self, k) for k in keys]
        if any(r[0] != cid or r[1] != expected + 1 for r in rows):
            raise InvalidArgument("case keys of another case or epoch")

        async def rotate(txn: Txn) -> Case:
            moved = await txn.fetchone(
                "UPDATE cases SET key_epoch = ?, updated_at = ? WHERE case_id = ?"
                " AND key_epoch = ? RETURNING case_id",
                expected + 1,
                when,
                cid,
                expected,
            )
            if moved is None:
                await get_case_txn(self, txn, cid)  # NotFound if absent
                raise Conflict("epoch_changed")
            await insert_case_keys_txn(txn, rows)
            return await get_case_txn(self, txn, cid)

        return await self._write(rotate)

    @unit
    async def disable_user(
        self, user_id: str, now: _dt.datetime, log: Sequence[LogAppend] = ()
    ) -> tuple[User, list[str]]:
        uid, when = check_id(user_id, "user_id"), us(now)
        entries = check_appends(log)

        async def disable(txn: Txn) -> tuple[User, list[str]]:
            await get_user_txn(self, txn, uid, lock=True)
            await txn.execute(
                "UPDATE users SET disabled = 1, updated_at = ? WHERE user_id = ?", when, uid
            )
            rows = await txn.fetchall(
                "SELECT case_id FROM participants WHERE user_id = ? ORDER BY case_id", uid
            )
            marked = [str(r[0]) for r in rows]
            for cid in marked:
                await remove_txn(txn, cid, uid, RemovalReason.ACCOUNT, None, when)
            await append_log_txn(self, txn, entries)
            return await get_user_txn(self, txn, uid), marked

        return await self._write(disable)

    @unit
    async def remove_membership(
        self,
        user_id: str,
        membership: Membership,
        now: _dt.datetime,
        log: Sequence[LogAppend] = (),
    ) -> tuple[User, list[str]]:
        uid, when = check_id(user_id, "user_id"), us(now)
        org, role = check_id(membership.org_id, "org_id"), Role(membership.role)
        entries = check_appends(log)

        async def remove(txn: Txn) -> tuple[User, list[str]]:
            await get_user_txn(self, txn, uid, lock=True)
            gone = await txn.fetchone(
                "DELETE FROM memberships WHERE user_id = ? AND org_id = ? AND role = ?"
                " RETURNING role",
                uid,
                org,
                role.value,
            )
            if gone is None:
                raise NotFound("membership")
            marked: list[str] = []
            if role in (Role.GP, Role.DERMATOLOGIST):
                column = "practice_id" if role is Role.GP else "service_id"
                rows = await txn.fetchall(
                    f"SELECT p.case_id FROM participants p JOIN cases c ON c.case_id = p.case_id"
                    f" WHERE p.user_id = ? AND p.role = ? AND c.{column} = ? ORDER BY p.case_id",
                    uid,
                    role.value,
                    org,
                )
                marked = [str(r[0]) for r in rows]
                for cid in marked:
                    await remove_txn(txn, cid, uid, RemovalReason.MEMBERSHIP, None, when)
            await append_log_txn(self, txn, entries)
            return await get_user_txn(self, txn, uid), marked

        return await self._write(remove)
