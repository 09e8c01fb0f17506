# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Patient links in SQL (:class:`storage.interface.PatientLinkStore`). Single use,
revocation, expiry and the upload cap are each one compare-and-set ``UPDATE``."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from storage._engine import Row, Txn
from storage._values import (
    MAX_DROP_RECORDS,
    check_bytes,
    check_id,
    check_int64,
    dt_of,
    dt_opt,
    pack_records,
    unpack_records,
    us,
)
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import PatientLink
from storage.sql._base import SqlBase, unit
from storage.sql.cases import get_case_txn

__all__ = ["PatientLinksSql"]

_LINK_COLS = (
    "link_id, case_id, token_hash, created_by, created_at, expires_at, max_photos, uploads, "
    "used_at, revoked_at"
)


def _link(r: Row) -> PatientLink:
    return PatientLink(
        link_id=str(r[0]),
        case_id=str(r[1]),
        token_hash=bytes(r[2]),
        created_by=str(r[3]),
        created_at=dt_of(r[4]),
        expires_at=dt_of(r[5]),
        max_photos=int(r[6]),
        uploads=int(r[7]),
        used_at=dt_opt(r[8]),
        revoked_at=dt_opt(r[9]),
    )


async def _locked_link_txn(txn: Txn, link_id: str) -> PatientLink:
    row = await txn.fetchone(
        f"SELECT {_LINK_COLS} FROM patient_links WHERE link_id = ?{txn.dialect.for_update}",
        link_id,
    )
    if row is None:
        raise NotFound("patient_link")
    return _link(row)


class PatientLinksSql(SqlBase):
    """:class:`storage.interface.PatientLinkStore` over the engine."""

    @unit
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
        values = [
            lid,
            cid,
            th,
            check_id(link.created_by, "created_by"),
            us(link.created_at),
            us(link.expires_at),
            link.max_photos,
        ]

        async def create_txn(txn: Txn) -> Row:
            await get_case_txn(self, txn, cid)
            dup = await txn.fetchone(
                "SELECT 1 FROM patient_links WHERE link_id = ? OR token_hash = ?", lid, th
            )
            if dup is not None:
                raise Conflict("duplicate")
            row = await txn.fetchone(
                "INSERT INTO patient_links (link_id, case_id, token_hash, created_by,"
                " created_at, expires_at, max_photos, uploads) VALUES (?, ?, ?, ?, ?, ?, ?, 0)"
                f" RETURNING {_LINK_COLS}",
                *values,
            )
            assert row is not None
            return row

        return _link(await self._write(create_txn))

    @unit
    async def get_patient_link(self, link_id: str) -> PatientLink:
        check_id(link_id, "link_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_LINK_COLS} FROM patient_links WHERE link_id = ?", link_id
            )
        )
        if row is None:
            raise NotFound("patient_link")
        return _link(row)

    @unit
    async def find_patient_link(self, token_hash: bytes) -> PatientLink:
        th = check_bytes(token_hash, "token_hash")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_LINK_COLS} FROM patient_links WHERE token_hash = ?", th
            )
        )
        if row is None:
            raise NotFound("patient_link")
        return _link(row)

    @unit
    async def list_patient_links(self, case_id: str) -> list[PatientLink]:
        check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_LINK_COLS} FROM patient_links WHERE case_id = ?"
                " ORDER BY created_at DESC, link_id",
                case_id,
            )
        )
        return [_link(r) for r in rows]

    @unit
    async def revoke_patient_link(self, link_id: str, now: _dt.datetime) -> PatientLink:
        lid = check_id(link_id, "link_id")
        when = us(now)

        async def revoke_txn(txn: Txn) -> Row:
            link = await _locked_link_txn(txn, lid)
            if link.used_at is not None:
                raise Conflict("patient_link_used")
            out = await txn.fetchone(
                "UPDATE patient_links SET revoked_at = COALESCE(revoked_at, ?) WHERE link_id = ?"
                f" RETURNING {_LINK_COLS}",
                when,
                lid,
            )
            assert out is not None
            return out

        return _link(await self._write(revoke_txn))

    @unit
    async def count_patient_upload(
        self, link_id: str, now: _dt.datetime, max_uploads: int
    ) -> PatientLink:
        lid = check_id(link_id, "link_id")
        when = us(now)
        limit = check_int64(max_uploads, "max_uploads")

        async def count_txn(txn: Txn) -> Row:
            # One conditional UPDATE is the compare-and-set: racing uploads cannot pass the
            # limit, and a link used, revoked or expired meanwhile takes no more uploads.
            out = await txn.fetchone(
                "UPDATE patient_links SET uploads = uploads + 1 WHERE link_id = ?"
                " AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?"
                f" AND uploads < ? RETURNING {_LINK_COLS}",
                lid,
                when,
                limit,
            )
            if out is None:
                link = await _locked_link_txn(txn, lid)
                usable = link.used_at is None and link.revoked_at is None
                if usable and us(link.expires_at) > when:
                    raise Conflict("patient_link_full")
                raise Conflict("patient_link_invalid")
            return out

        return _link(await self._write(count_txn))

    @unit
    async def submit_patient_link(
        self, link_id: str, records: Sequence[bytes], now: _dt.datetime
    ) -> PatientLink:
        lid = check_id(link_id, "link_id")
        when = us(now)
        sealed = self._seal("patient_links", "submission_sealed", lid, pack_records(records))

        async def submit_txn(txn: Txn) -> Row:
            out = await txn.fetchone(
                "UPDATE patient_links SET used_at = ?, submission_sealed = ? WHERE link_id = ?"
                " AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?"
                f" RETURNING {_LINK_COLS}",
                when,
                sealed,
                lid,
                when,
            )
            if out is None:
                await _locked_link_txn(txn, lid)  # NotFound for an unknown id
                raise Conflict("patient_link_invalid")
            return out

        return _link(await self._write(submit_txn))

    @unit
    async def get_patient_submission(self, link_id: str) -> list[bytes]:
        lid = check_id(link_id, "link_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT submission_sealed FROM patient_links WHERE link_id = ?", lid
            )
        )
        if row is None:
            raise NotFound("patient_link")
        if row[0] is None:
            return []
        return unpack_records(self._open("patient_links", "submission_sealed", lid, row[0]))
