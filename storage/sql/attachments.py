# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Attachments in SQL (:class:`storage.interface.AttachmentStore`)."""

from __future__ import annotations

from storage._engine import Row, Txn
from storage._values import check_bytes, check_id, check_int64, dt_of, us
from storage.errors import InvalidArgument, NotFound
from storage.records import Attachment
from storage.sql._base import SqlBase, unit
from storage.sql.cases import get_case_txn

__all__ = ["AttachmentsSql"]

_ATT_COLS = (
    "attachment_id, case_id, uploader_id, blob_id, sha256_sealed, size_sealed, ctype_sealed, "
    "metadata_sealed, created_at"
)


class AttachmentsSql(SqlBase):
    """:class:`storage.interface.AttachmentStore` over the engine."""

    def _attachment(self, r: Row) -> Attachment:
        aid = str(r[0])
        t = "attachments"
        size_raw = self._open(t, "size_sealed", aid, r[5])
        return Attachment(
            attachment_id=aid,
            case_id=str(r[1]),
            uploader_id=str(r[2]),
            blob_id=str(r[3]),
            ciphertext_sha256=self._open(t, "sha256_sealed", aid, r[4]),
            size=int.from_bytes(size_raw, "big"),
            content_type=self._open_text(t, "ctype_sealed", aid, r[6]),
            metadata=self._open(t, "metadata_sealed", aid, r[7]),
            created_at=dt_of(r[8]),
        )

    @unit
    async def create_attachment(self, attachment: Attachment) -> Attachment:
        a = attachment
        aid = check_id(a.attachment_id, "attachment_id")
        cid = check_id(a.case_id, "case_id")
        if len(check_bytes(a.ciphertext_sha256, "ciphertext_sha256")) != 32:
            raise InvalidArgument("ciphertext_sha256 must be 32 bytes")
        check_int64(a.size, "size")
        t = "attachments"
        values = [
            aid,
            cid,
            check_id(a.uploader_id, "uploader_id"),
            check_id(a.blob_id, "blob_id"),
            self._seal(t, "sha256_sealed", aid, a.ciphertext_sha256),
            self._seal(t, "size_sealed", aid, a.size.to_bytes(8, "big")),
            self._seal_text(t, "ctype_sealed", aid, a.content_type),
            self._seal(t, "metadata_sealed", aid, check_bytes(a.metadata, "metadata")),
            us(a.created_at),
        ]

        async def create_txn(txn: Txn) -> None:
            await get_case_txn(self, txn, cid)
            await txn.execute(
                f"INSERT INTO attachments ({_ATT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                *values,
            )

        await self._write(create_txn)
        return a

    @unit
    async def get_attachment(self, attachment_id: str) -> Attachment:
        check_id(attachment_id, "attachment_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_ATT_COLS} FROM attachments WHERE attachment_id = ?", attachment_id
            )
        )
        if row is None:
            raise NotFound("attachment")
        return self._attachment(row)

    @unit
    async def list_attachments(self, case_id: str) -> list[Attachment]:
        check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_ATT_COLS} FROM attachments WHERE case_id = ?"
                " ORDER BY created_at, attachment_id",
                case_id,
            )
        )
        return [self._attachment(r) for r in rows]
