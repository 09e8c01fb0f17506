# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""At-rest keys in SQL: data keys at start-up, and rotation while serving
(:class:`storage.interface.KeyRotationStore`; ``docs/storage.md``, "At-rest design").

:data:`SEALED_TABLES` lists every table with sealed columns, how to page through it and how
to build each row's id; ``tests/storage/test_schema_inventory.py`` checks that it covers
every ``_sealed`` column of the migrations."""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crypto import at_rest
from storage._engine import Row, Txn
from storage._values import MAX_LIMIT, check_bytes, us
from storage.errors import AtRestKeyError, InvalidArgument
from storage.keys import PURPOSE_BLOB, PURPOSE_FIELD, PURPOSES, MasterKeys, write_key_file
from storage.records import RotationReport
from storage.sql._base import SqlBase, rid_case_key, rid_message, rid_session, unit

__all__ = ["SEALED_TABLES", "RotationSql"]


def _enc_pk(values: Sequence[Any]) -> str:
    """Serialise a primary key (str, int or bytes parts) for ``rotation_progress``."""
    out: list[list[Any]] = []
    for v in values:
        if isinstance(v, bytes):
            out.append(["b", v.hex()])
        elif isinstance(v, int):
            out.append(["i", v])
        else:
            out.append(["s", str(v)])
    return json.dumps(out)


def _dec_pk(text: str) -> list[Any]:
    """Inverse of :func:`_enc_pk`."""
    return [bytes.fromhex(v) if t == "b" else v for t, v in json.loads(text)]


@dataclass(frozen=True)
class _SealedTable:
    """A table with sealed columns: how to page through it and build each row's id."""

    name: str
    pk: tuple[str, ...]
    row_id: Callable[[Row], str]
    columns: tuple[str, ...]


SEALED_TABLES: tuple[_SealedTable, ...] = (
    _SealedTable("server_keys", ("name",), lambda r: str(r[0]), ("value_sealed",)),
    _SealedTable(
        "organisations", ("org_id",), lambda r: str(r[0]), ("name_sealed", "records_key_sealed")
    ),
    _SealedTable(
        "users",
        ("user_id",),
        lambda r: str(r[0]),
        (
            "login_sealed",
            "display_name_sealed",
            "kdf_params_sealed",
            "auth_hash_sealed",
            "wrapped_usk_sealed",
            "recovery_usk_sealed",
            "org_usk_sealed",
            "enc_pub_sealed",
            "sign_pub_sealed",
            "private_keys_sealed",
            "totp_secret_sealed",
            "recovery_codes_sealed",
        ),
    ),
    _SealedTable(
        "sessions",
        ("session_hash",),
        lambda r: rid_session(bytes(r[0])),
        ("address_sealed", "user_agent_sealed"),
    ),
    _SealedTable(
        "invites",
        ("token_hash",),
        lambda r: bytes(r[0]).hex(),
        ("login_sealed", "statement_sealed", "handover_sealed"),
    ),
    _SealedTable("transparency_entries", ("idx",), lambda r: str(r[0]), ("entry_sealed",)),
    _SealedTable("org_keys", ("org_id",), lambda r: str(r[0]), ("statement_sealed",)),
    _SealedTable(
        "org_key_wraps",
        ("org_id", "recipient_id"),
        lambda r: f"{r[0]}/{r[1]}",
        ("wrap_sealed",),
    ),
    _SealedTable(
        "records_key_pending",
        ("org_id", "statement_hash"),
        lambda r: f"{r[0]}/{bytes(r[1]).hex()}",
        ("statement_sealed", "public_key_sealed"),
    ),
    _SealedTable(
        "records_key_approvals",
        ("org_id", "statement_hash", "approver_id"),
        lambda r: f"{r[0]}/{bytes(r[1]).hex()}/{r[2]}",
        ("approval_sealed",),
    ),
    _SealedTable(
        "passkeys",
        ("passkey_id",),
        lambda r: str(r[0]),
        (
            "credential_id_sealed",
            "public_key_sealed",
            "name_sealed",
            "details_sealed",
            "prf_wrap_sealed",
        ),
    ),
    _SealedTable(
        "push_subscriptions",
        ("subscription_id",),
        lambda r: str(r[0]),
        ("endpoint_sealed", "keys_sealed"),
    ),
    _SealedTable("notification_settings", ("user_id",), lambda r: str(r[0]), ("settings_sealed",)),
    _SealedTable(
        "case_keys",
        ("case_id", "epoch", "recipient_kind", "recipient_id"),
        lambda r: rid_case_key(str(r[0]), int(r[1]), str(r[2]), str(r[3])),
        ("wrapped_sealed",),
    ),
    _SealedTable(
        "messages",
        ("case_id", "client_msg_id"),
        lambda r: rid_message(str(r[0]), str(r[1])),
        ("envelope_sealed",),
    ),
    _SealedTable(
        "attachments",
        ("attachment_id",),
        lambda r: str(r[0]),
        ("sha256_sealed", "size_sealed", "ctype_sealed", "metadata_sealed"),
    ),
    _SealedTable(
        "outcomes", ("case_id",), lambda r: str(r[0]), ("category_sealed", "payload_sealed")
    ),
    _SealedTable("patient_links", ("link_id",), lambda r: str(r[0]), ("submission_sealed",)),
    _SealedTable("legal_holds", ("case_id",), lambda r: str(r[0]), ("reference_sealed",)),
    _SealedTable("audit_log", ("seq",), lambda r: str(r[0]), ("content_sealed",)),
    _SealedTable("audit_head", ("id",), lambda r: str(r[0]), ("head_sealed",)),
)


class RotationSql(SqlBase):
    """Data keys at start-up, and :class:`storage.interface.KeyRotationStore`."""

    # ------------------------------------------------------------------ start-up

    async def _ensure_data_keys(self) -> None:
        """Create a missing active data key per purpose; finish an interrupted master-key
        rotation; load the ring."""

        async def ensure_txn(txn: Txn) -> None:
            # Several nodes starting at once on one PostgreSQL database would otherwise both
            # see no key, pick the same MAX(key_id) + 1 and one would fail to start.
            if txn.dialect.key_lock:
                await txn.fetchone(txn.dialect.key_lock)
            rows = await txn.fetchall("SELECT purpose FROM data_keys WHERE active = 1")
            have = {r[0] for r in rows}
            for purpose in PURPOSES:
                if purpose not in have:
                    await self._insert_data_key_txn(txn, purpose)

        await self._write(ensure_txn)
        if self._masters.pending is not None:
            await self._rewrap_data_keys(self._masters.pending)
            self._finish_master_file_rotation()
        await self._load_ring()

    async def _insert_data_key_txn(self, txn: Txn, purpose: str) -> int:
        row = await txn.fetchone("SELECT COALESCE(MAX(key_id), 0) + 1 FROM data_keys")
        assert row is not None
        key_id = int(row[0])
        master = self._masters.current
        wrapped = at_rest.wrap_data_key(
            master, os.urandom(at_rest.KEY_LEN), key_id=key_id, purpose=purpose
        )
        await txn.execute(
            "UPDATE data_keys SET active = 0 WHERE purpose = ? AND active = 1", purpose
        )
        await txn.execute(
            "INSERT INTO data_keys (key_id, purpose, master_key_id, wrapped, active, created_at)"
            " VALUES (?, ?, ?, ?, 1, ?)",
            key_id,
            purpose,
            at_rest.master_key_id(master),
            wrapped,
            us(_dt.datetime.now(_dt.UTC)),
        )
        return key_id

    async def _rewrap_data_keys(self, new_master: bytes) -> None:
        masters = self._masters.by_id()
        new_id = at_rest.master_key_id(new_master)

        async def rewrap_txn(txn: Txn) -> None:
            rows = await txn.fetchall(
                "SELECT key_id, purpose, master_key_id, wrapped FROM data_keys"
            )
            for key_id, purpose, master_id, wrapped in rows:
                if master_id == new_id:
                    continue
                old = masters.get(master_id)
                if old is None:
                    raise AtRestKeyError(
                        "data keys are wrapped under a master key that is not configured"
                    )
                try:
                    key = at_rest.unwrap_data_key(
                        old, bytes(wrapped), key_id=int(key_id), purpose=purpose
                    )
                except at_rest.AtRestError:
                    raise AtRestKeyError("a data key does not unwrap") from None
                await txn.execute(
                    "UPDATE data_keys SET master_key_id = ?, wrapped = ? WHERE key_id = ?",
                    new_id,
                    at_rest.wrap_data_key(new_master, key, key_id=int(key_id), purpose=purpose),
                    key_id,
                )

        await self._write(rewrap_txn)

    def _finish_master_file_rotation(self) -> None:
        path = self._masters.key_file
        assert path is not None and self._masters.pending is not None
        pending = path.with_name(path.name + ".new")
        os.replace(pending, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._masters = MasterKeys(current=self._masters.pending, key_file=path)

    # ------------------------------------------------------------------ rotation

    @unit
    async def rotate_keys(
        self,
        *,
        new_master_key: bytes | None = None,
        rotate_data_keys: bool = True,
        batch_size: int = 500,
    ) -> RotationReport:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool):
            raise InvalidArgument("batch_size must be an int")
        if not 1 <= batch_size <= MAX_LIMIT:
            raise InvalidArgument("batch_size out of range")
        if not self._cipher.enabled:
            raise AtRestKeyError("at-rest encryption is disabled")
        master_rotated = False
        if new_master_key is not None:
            if len(check_bytes(new_master_key, "new_master_key")) != at_rest.KEY_LEN:
                raise InvalidArgument("new_master_key must be 32 bytes")
            await self._rotate_master(new_master_key)
            master_rotated = True
        new_ids: list[int] = []
        rows = blobs = 0
        retired: list[int] = []
        if rotate_data_keys:
            new_ids = await self._start_data_key_rotation()
            rows = await self._reencrypt_rows(batch_size)
            blobs = await self._blobs.reencrypt_all()
            retired = [
                k
                for p in (PURPOSE_FIELD, PURPOSE_BLOB)
                for k in self._ring.ids(p)
                if k != self._ring.active(p)[0]
            ]
            await self._write(lambda txn: txn.execute("DELETE FROM rotation_progress"))
        return RotationReport(master_rotated, tuple(new_ids), rows, blobs, tuple(retired))

    async def _rotate_master(self, new_master: bytes) -> None:
        path = self._masters.key_file
        if self._masters.from_env or path is None:
            # The environment cannot be rewritten from here: the operator deploys the new
            # key (docs/storage.md, "Rotation procedure").
            self._masters = MasterKeys(
                current=self._masters.current, pending=new_master, from_env=True
            )
            await self._rewrap_data_keys(new_master)
            self._masters = MasterKeys(current=new_master, from_env=True)
            return
        pending = path.with_name(path.name + ".new")
        if pending.exists():
            pending.unlink()
        write_key_file(pending, new_master)
        self._masters = MasterKeys(current=self._masters.current, pending=new_master, key_file=path)
        await self._rewrap_data_keys(new_master)
        self._finish_master_file_rotation()

    async def _start_data_key_rotation(self) -> list[int]:
        """Make new active field and blob keys, unless an interrupted rotation is still
        under way (old keys still referenced), in which case it is resumed."""

        async def start_txn(txn: Txn) -> list[int]:
            if txn.dialect.key_lock:
                await txn.fetchone(txn.dialect.key_lock)
            progress = await txn.fetchone("SELECT COUNT(*) FROM rotation_progress")
            assert progress is not None
            if int(progress[0]) > 0:
                return []  # resume: keep the keys that the interrupted run activated
            await txn.execute(
                "INSERT INTO rotation_progress (table_name, last_pk) VALUES (?, ?)",
                "_started",
                "",
            )
            return [
                await self._insert_data_key_txn(txn, PURPOSE_FIELD),
                await self._insert_data_key_txn(txn, PURPOSE_BLOB),
            ]

        ids = await self._write(start_txn)
        await self._load_ring()
        return ids

    async def _reencrypt_rows(self, batch_size: int) -> int:
        total = 0
        for spec in SEALED_TABLES:
            total += await self._reencrypt_table(spec, batch_size)
        return total

    async def _reencrypt_table(self, spec: _SealedTable, batch_size: int) -> int:
        pk = ", ".join(spec.pk)
        cols = ", ".join(spec.columns)
        npk = len(spec.pk)
        progress = await self._read(
            lambda txn: txn.fetchone(
                "SELECT last_pk FROM rotation_progress WHERE table_name = ?", spec.name
            )
        )
        last: list[Any] | None = None
        if progress is not None:
            last = _dec_pk(str(progress[0]))
        changed = 0
        while True:
            where = ""
            args: list[Any] = []
            if last is not None:
                marks = ", ".join("?" * npk)
                where = f" WHERE ({pk}) > ({marks})" if npk > 1 else f" WHERE {pk} > ?"
                args = list(last)
            rows = await self._read(
                lambda txn, where=where, args=args: txn.fetchall(  # type: ignore[misc]
                    f"SELECT {pk}, {cols} FROM {spec.name}{where} ORDER BY {pk} LIMIT ?",
                    *args,
                    batch_size,
                )
            )
            if not rows:
                return changed
            updates: list[tuple[list[Any], str, bytes, bytes]] = []
            for r in rows:
                rid = spec.row_id(r)
                keyvals = list(r[:npk])
                for i, col in enumerate(spec.columns):
                    old = r[npk + i]
                    if old is None or not self._cipher.needs_reseal(bytes(old)):
                        continue
                    plain = self._open(spec.name, col, rid, old)
                    updates.append(
                        (keyvals, col, bytes(old), self._seal(spec.name, col, rid, plain))
                    )
            last = [bytes(v) if isinstance(v, memoryview) else v for v in rows[-1][:npk]]
            marker = _enc_pk(last)
            pk_where = " AND ".join(f"{c} = ?" for c in spec.pk)

            async def batch_txn(
                txn: Txn,
                updates: list[Any] = updates,
                marker: str = marker,
                pk_where: str = pk_where,
            ) -> int:
                n = 0
                for keyvals, col, old, new in updates:
                    # Compare-and-set: a concurrent write since our read wins (it sealed
                    # under the new key anyway).
                    hit = await txn.fetchone(
                        f"UPDATE {spec.name} SET {col} = ? WHERE {pk_where} AND {col} = ?"
                        f" RETURNING 1",
                        new,
                        *keyvals,
                        old,
                    )
                    n += hit is not None
                await txn.execute(
                    "INSERT INTO rotation_progress (table_name, last_pk) VALUES (?, ?)"
                    " ON CONFLICT (table_name) DO UPDATE SET last_pk = excluded.last_pk",
                    spec.name,
                    marker,
                )
                return n

            changed += await self._write(batch_txn)
            if len(rows) < batch_size:
                return changed
