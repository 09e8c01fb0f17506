# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Organisations and the directory in SQL (:class:`storage.interface.OrganisationStore`)."""

from __future__ import annotations

from collections.abc import Sequence

from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, dt_of, us
from storage.errors import Conflict, NotFound
from storage.records import LogAppend, Membership, Organisation, OrgKind, Role, User
from storage.sql._base import SqlBase, unit
from storage.sql._log import append_log_txn
from storage.sql.accounts import USER_COLS, add_membership_txn, get_user_txn, user_of
from storage.transparency import check_appends

__all__ = ["OrganisationsSql"]

_ORG_COLS = (
    "org_id, kind, name_sealed, records_key_sealed, created_at, records_key_seq,"
    " (SELECT k.key_id FROM org_keys k WHERE k.org_id = organisations.org_id)"
)


class OrganisationsSql(SqlBase):
    """:class:`storage.interface.OrganisationStore` over the engine."""

    def _org(self, r: Row) -> Organisation:
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

    @unit
    async def create_organisation(self, org: Organisation) -> Organisation:
        org_id = check_id(org.org_id, "org_id")
        kind = OrgKind(org.kind)
        if org.records_public_key is not None:
            check_bytes(org.records_public_key, "records_public_key")
        name = self._seal_text("organisations", "name_sealed", org_id, org.name)
        rk = self._seal_opt("organisations", "records_key_sealed", org_id, org.records_public_key)
        created = us(org.created_at)

        async def create_txn(txn: Txn) -> None:
            await txn.execute(
                "INSERT INTO organisations (org_id, kind, name_sealed, records_key_sealed,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                org_id,
                kind.value,
                name,
                rk,
                created,
            )

        await self._write(create_txn)
        return Organisation(org_id, kind, org.name, org.records_public_key, dt_of(created))

    @unit
    async def get_organisation(self, org_id: str) -> Organisation:
        check_id(org_id, "org_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_ORG_COLS} FROM organisations WHERE org_id = ?", org_id
            )
        )
        if row is None:
            raise NotFound("organisation")
        return self._org(row)

    @unit
    async def list_organisations(self, kind: OrgKind | None = None) -> list[Organisation]:
        if kind is None:
            rows = await self._read(
                lambda txn: txn.fetchall(f"SELECT {_ORG_COLS} FROM organisations ORDER BY org_id")
            )
        else:
            k = OrgKind(kind).value
            rows = await self._read(
                lambda txn: txn.fetchall(
                    f"SELECT {_ORG_COLS} FROM organisations WHERE kind = ? ORDER BY org_id", k
                )
            )
        return [self._org(r) for r in rows]

    @unit
    async def set_records_public_key(self, org_id: str, public_key: bytes) -> Organisation:
        check_id(org_id, "org_id")
        sealed = self._seal(
            "organisations", "records_key_sealed", org_id, check_bytes(public_key, "public_key")
        )

        async def set_key_txn(txn: Txn) -> Organisation:
            row = await txn.fetchone(
                "UPDATE organisations SET records_key_sealed = ? WHERE org_id = ?"
                f" AND records_key_sealed IS NULL RETURNING {_ORG_COLS}",
                sealed,
                org_id,
            )
            if row is None:
                if await txn.fetchone("SELECT 1 FROM organisations WHERE org_id = ?", org_id):
                    raise Conflict("records_key_exists")
                raise NotFound("organisation")
            return self._org(row)

        return await self._write(set_key_txn)

    @unit
    async def list_users(self, org_id: str | None = None) -> list[User]:
        if org_id is not None:
            check_id(org_id, "org_id")

        async def list_txn(txn: Txn) -> list[User]:
            if org_id is None:
                rows = await txn.fetchall(f"SELECT {USER_COLS} FROM users ORDER BY user_id")
            else:
                rows = await txn.fetchall(
                    f"SELECT {USER_COLS} FROM users WHERE user_id IN"
                    " (SELECT user_id FROM memberships WHERE org_id = ?) ORDER BY user_id",
                    org_id,
                )
            ms = await txn.fetchall(
                "SELECT user_id, org_id, role FROM memberships ORDER BY org_id, role"
            )
            by_user: dict[str, list[Membership]] = {}
            for uid, org, role in ms:
                by_user.setdefault(str(uid), []).append(Membership(str(org), Role(role)))
            return [user_of(self, r, by_user.get(str(r[0]), [])) for r in rows]

        return await self._read(list_txn, snapshot=True)

    @unit
    async def count_users_with_role(self, role: Role) -> int:
        r = Role(role).value
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT COUNT(DISTINCT user_id) FROM memberships WHERE role = ?", r
            )
        )
        assert row is not None
        return int(row[0])

    @unit
    async def add_membership(
        self, user_id: str, membership: Membership, log: Sequence[LogAppend] = ()
    ) -> User:
        check_id(user_id, "user_id")
        entries = check_appends(log)

        async def add_txn(txn: Txn) -> User:
            await get_user_txn(self, txn, user_id)
            await add_membership_txn(txn, user_id, membership)
            await append_log_txn(self, txn, entries)
            return await get_user_txn(self, txn, user_id)

        return await self._write(add_txn)
