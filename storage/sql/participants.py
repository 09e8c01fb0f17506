# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Participants and case keys in SQL (:class:`storage.interface.ParticipantStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage._engine import Txn
from storage._values import check_id, dt_of, us
from storage.errors import InvalidArgument
from storage.records import KeyRecipientKind, Participant, Role, WrappedCaseKey
from storage.sql._base import SqlBase, rid_case_key, unit
from storage.sql.cases import case_key_values, get_case_txn, insert_case_keys_txn

__all__ = ["ParticipantsSql"]


class ParticipantsSql(SqlBase):
    """:class:`storage.interface.ParticipantStore` over the engine."""

    @unit
    async def list_participants(self, case_id: str) -> list[Participant]:
        check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT case_id, user_id, role, added_at FROM participants WHERE case_id = ?"
                " ORDER BY added_at, user_id",
                case_id,
            )
        )
        return [Participant(str(r[0]), str(r[1]), Role(r[2]), dt_of(r[3])) for r in rows]

    @unit
    async def add_participants_with_keys(
        self, participants: Sequence[Participant], keys: Sequence[WrappedCaseKey]
    ) -> None:
        if not participants:
            raise InvalidArgument("no participants")
        cid = check_id(participants[0].case_id, "case_id")
        people = [
            (
                check_id(p.case_id, "case_id"),
                check_id(p.user_id, "user_id"),
                Role(p.role).value,
                us(p.added_at),
            )
            for p in participants
        ]
        rows = [case_key_values(self, k) for k in keys]
        if any(p[0] != cid for p in people) or any(r[0] != cid for r in rows):
            raise InvalidArgument("participants or case keys of more than one case")

        async def add_txn(txn: Txn) -> None:
            await get_case_txn(self, txn, cid)
            for values in people:
                # No ON CONFLICT: an existing participant is a Conflict, and the whole unit
                # is rolled back.
                await txn.execute(
                    "INSERT INTO participants (case_id, user_id, role, added_at)"
                    " VALUES (?, ?, ?, ?)",
                    *values,
                )
            await insert_case_keys_txn(txn, rows)

        await self._write(add_txn)

    @unit
    async def get_case_keys(
        self,
        case_id: str,
        *,
        recipient_kind: KeyRecipientKind | None = None,
        recipient_id: str | None = None,
    ) -> list[WrappedCaseKey]:
        check_id(case_id, "case_id")
        where, args = "case_id = ?", [case_id]
        if recipient_kind is not None:
            where += " AND recipient_kind = ?"
            args.append(KeyRecipientKind(recipient_kind).value)
        if recipient_id is not None:
            where += " AND recipient_id = ?"
            args.append(check_id(recipient_id, "recipient_id"))
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT case_id, epoch, recipient_kind, recipient_id, wrapped_sealed, created_at"
                f" FROM case_keys WHERE {where} ORDER BY epoch, recipient_kind, recipient_id",
                *args,
            )
        )
        return [self._case_key(r) for r in rows]

    def _case_key(self, r: Any) -> WrappedCaseKey:
        cid, epoch, kind, rec = str(r[0]), int(r[1]), str(r[2]), str(r[3])
        return WrappedCaseKey(
            case_id=cid,
            epoch=epoch,
            recipient_kind=KeyRecipientKind(kind),
            recipient_id=rec,
            wrapped_key=self._open(
                "case_keys", "wrapped_sealed", rid_case_key(cid, epoch, kind, rec), r[4]
            ),
            created_at=dt_of(r[5]),
        )
