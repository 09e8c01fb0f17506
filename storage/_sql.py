# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""The storage contract implemented once in SQL, for both backends.

Rules of this module:

* Every public method is one unit of work: it prepares what it can outside the transaction
  (validation, sealing of values whose row id is known), then hands one ``*_txn`` closure to
  the engine (``self._write`` / ``self._read``). The engine decides how it runs: SQLite
  batches write units into one group-committed transaction with a SAVEPOINT each, PostgreSQL
  runs each in its own transaction (``storage/_engine.py``).
* Sealed columns end in ``_sealed`` and are sealed with the table, column and row id bound as
  associated data. The row id of each table is built by one function below (``_rid_*``) and
  used both when sealing and when re-encrypting during a rotation.
* Times are stored as integer microseconds since the epoch (UTC) in both backends.
"""

from __future__ import annotations

import abc
import base64
import datetime as _dt
import functools
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import at_rest
from storage import audit as audit_fmt
from storage._engine import Dialect, Row, Txn, TxnFn
from storage.blobs import FileBlobStore
from storage.errors import (
    AtRestKeyError,
    AuditIntegrityError,
    Conflict,
    CorruptRecord,
    InvalidArgument,
    NotFound,
)
from storage.interface import (
    AppendResult,
    Attachment,
    AuditCheckpoint,
    AuditEntry,
    AuditEvent,
    AuditVerification,
    AuthFailureState,
    BlobStore,
    Case,
    CaseState,
    Invite,
    KeyRecipientKind,
    Membership,
    Message,
    NewCase,
    NewUser,
    Organisation,
    OrgKind,
    Outcome,
    OutcomeCategory,
    Page,
    Participant,
    PatientLink,
    Priority,
    Receipt,
    ReceiptKind,
    Role,
    RotationReport,
    Session,
    User,
    WrappedCaseKey,
)
from storage.keys import (
    PURPOSE_BLOB,
    PURPOSE_FIELD,
    PURPOSES,
    FieldCipher,
    KeyRing,
    MasterKeys,
    UnknownDataKey,
    normalise_login,
    write_key_file,
)

T = TypeVar("T")

_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_PRIORITY_RANK = {Priority.URGENT: 0, Priority.ROUTINE: 1}
_RANK_PRIORITY = {v: k for k, v in _PRIORITY_RANK.items()}
_MAX_LIMIT = 10_000
_AUDIT_KEY_NAME = "audit_signing_key"


# --------------------------------------------------------------------------- value helpers


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidArgument(f"malformed {what}")
    return value


def _check_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidArgument(f"{what} must be bytes")
    return value


def _check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= _MAX_LIMIT:
        raise InvalidArgument("limit out of range")
    return limit


def _check_int64(value: object, what: str, *, minimum: int = 0) -> int:
    """An int that fits a signed 64-bit column (larger ones would make the drivers raise
    their own exceptions: sqlite3's OverflowError, asyncpg's DataError)."""
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value < 2**63:
        raise InvalidArgument(f"{what} out of range")
    return value


def _check_text(value: object, what: str, *, max_bytes: int = 0xFFFF) -> str:
    """A string that encodes to UTF-8 (no lone surrogates) within ``max_bytes``."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} is not valid Unicode") from None
    if size > max_bytes:
        raise InvalidArgument(f"{what} too long")
    return value


#: Audit entries are small, non-clinical facts (DESIGN.md section 10); a cap keeps one
#: request from growing the log without bound.
_MAX_AUDIT_DETAIL = 64 * 1024


def _check_audit_event(event: AuditEvent) -> None:
    """Validate before the unit runs, so a malformed event is the caller's
    :class:`InvalidArgument` and never a failure inside the append transaction."""
    if not isinstance(event, AuditEvent):
        raise InvalidArgument("event must be an AuditEvent")
    if not _check_text(event.action, "action", max_bytes=200):
        raise InvalidArgument("action must be a non-empty string")
    for name in ("actor_id", "target", "client_address"):
        value = getattr(event, name)
        if value is not None:
            _check_text(value, name, max_bytes=1024)
    _us(event.occurred_at)
    if len(_check_bytes(event.detail, "detail")) > _MAX_AUDIT_DETAIL:
        raise InvalidArgument("detail too long")


def _us(value: _dt.datetime) -> int:
    if not isinstance(value, _dt.datetime) or value.tzinfo is None:
        raise InvalidArgument("times must be timezone-aware datetimes")
    return (value - _EPOCH) // _dt.timedelta(microseconds=1)


def _us_opt(value: _dt.datetime | None) -> int | None:
    return None if value is None else _us(value)


def _dt_of(us: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=us)


def _dt_opt(us: int | None) -> _dt.datetime | None:
    return None if us is None else _dt_of(us)


def _enc_cursor(*parts: object) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_MAX_CURSOR = 512


def _dec_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    # Cursors come back from clients: bound the length before parsing (deeply nested JSON
    # would raise RecursionError) and check every part, so that an int too large for a
    # 64-bit column or a malformed id is InvalidArgument, never a driver exception.
    try:
        if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR:
            raise ValueError
        pad = "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(cursor + pad))
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError
        for p, t in zip(parts, types, strict=True):
            if not isinstance(p, t) or isinstance(p, bool):
                raise ValueError
            if isinstance(p, int) and not -(2**63) <= p < 2**63:
                raise ValueError
            if isinstance(p, str) and not _ID_RE.match(p):
                raise ValueError
        return parts
    except (ValueError, TypeError, RecursionError):
        raise InvalidArgument("malformed cursor") from None


def _states(states: Sequence[CaseState]) -> list[str]:
    out = [CaseState(s).value for s in states]
    if not out:
        raise InvalidArgument("states must not be empty")
    return out


def _marks(n: int) -> str:
    return ", ".join("?" * n)


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


# Row ids bound into the associated data of sealed values (one place, used by rotation too).
def _rid_session(session_hash: bytes) -> str:
    return session_hash.hex()


def _rid_message(case_id: str, client_msg_id: str) -> str:
    return f"{case_id}/{client_msg_id}"


def _rid_case_key(case_id: str, epoch: int, kind: str, recipient: str) -> str:
    return f"{case_id}/{epoch}/{kind}/{recipient}"


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
        lambda r: _rid_session(bytes(r[0])),
        ("address_sealed", "user_agent_sealed"),
    ),
    _SealedTable("invites", ("token_hash",), lambda r: bytes(r[0]).hex(), ("login_sealed",)),
    _SealedTable(
        "case_keys",
        ("case_id", "epoch", "recipient_kind", "recipient_id"),
        lambda r: _rid_case_key(str(r[0]), int(r[1]), str(r[2]), str(r[3])),
        ("wrapped_sealed",),
    ),
    _SealedTable(
        "messages",
        ("case_id", "client_msg_id"),
        lambda r: _rid_message(str(r[0]), str(r[1])),
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
    _SealedTable("audit_log", ("seq",), lambda r: str(r[0]), ("content_sealed",)),
    _SealedTable("audit_head", ("id",), lambda r: str(r[0]), ("head_sealed",)),
)


_USER_COLS = (
    "user_id, login_sealed, display_name_sealed, kdf_params_sealed, auth_hash_sealed, "
    "wrapped_usk_sealed, recovery_usk_sealed, org_usk_sealed, enc_pub_sealed, sign_pub_sealed, "
    "private_keys_sealed, totp_secret_sealed, totp_confirmed, totp_last_timecode, "
    "recovery_codes_sealed, failed_logins, locked_until, disabled, created_at, updated_at"
)
_SESSION_COLS = (
    "session_hash, user_id, created_at, last_seen_at, expires_at, address_sealed, "
    "user_agent_sealed, mfa_verified, revoked_at"
)
_INVITE_COLS = (
    "token_hash, org_id, role, created_by, created_at, expires_at, login_sealed, used_at, "
    "used_by, revoked_at"
)
_LINK_COLS = (
    "link_id, case_id, token_hash, created_by, created_at, expires_at, max_photos, uploads, "
    "used_at, revoked_at"
)
#: A submission holds at most this many drop records, each of a bounded size
#: (crypto.patient_drop: 23 + 65 + 64 KiB body + 16 < 70,000).
_MAX_DROP_RECORDS = 100
_MAX_DROP_RECORD_BYTES = 70_000
_CASE_SELECT = (
    "SELECT c.case_id, c.practice_id, c.service_id, c.created_by, c.state, c.priority, "
    "c.created_at, c.updated_at, c.submitted_at, c.claimed_by, c.claimed_at, "
    "c.first_response_at, c.closed_at, o.category_sealed, c.last_seq, c.key_epoch, "
    "c.queued_at FROM cases c LEFT JOIN outcomes o ON o.case_id = c.case_id"
)
_MSG_COLS = "case_id, seq, client_msg_id, sender_id, envelope_sealed, created_at"
_ATT_COLS = (
    "attachment_id, case_id, uploader_id, blob_id, sha256_sealed, size_sealed, ctype_sealed, "
    "metadata_sealed, created_at"
)


def _reload_on_unknown_key(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def wrapper(self: SqlStorage, *args: Any, **kw: Any) -> Any:
        try:
            return await method(self, *args, **kw)
        except UnknownDataKey:
            await self._load_ring()
            return await method(self, *args, **kw)

    wrapper._reloads_keys = True  # type: ignore[attr-defined]
    return wrapper


_RELOADING_METHODS = [
    "get_organisation",
    "list_organisations",
    "set_records_public_key",
    "create_user",
    "get_user",
    "find_user_by_login",
    "list_users",
    "add_membership",
    "remove_membership",
    "set_user_disabled",
    "update_credentials",
    "update_auth_key_hash",
    "reset_auth_failures",
    "add_participant",
    "add_case_keys",
    "add_participants_with_keys",
    "create_attachment",
    "record_receipt",
    "begin_totp_enrolment",
    "confirm_totp",
    "use_totp_timecode",
    "consume_recovery_code",
    "reset_totp",
    "create_session",
    "get_session",
    "touch_session",
    "list_sessions",
    "create_invite",
    "get_invite",
    "list_invites",
    "revoke_invite",
    "accept_invite",
    "get_patient_submission",
    "create_case",
    "get_case",
    "transition_case",
    "triage_queue",
    "list_cases_for_user",
    "list_cases_for_organisation",
    "get_case_keys",
    "append_message",
    "list_messages",
    "get_message",
    "get_attachment",
    "list_attachments",
    "get_outcome",
    "update_outcome",
    "outcome_counts",
    "append_audit",
    "list_audit",
    "checkpoint_audit",
    "verify_audit",
]


class SqlStorage(abc.ABC):
    """Implements :class:`storage.interface.Storage` over an engine's ``_write``/``_read``."""

    dialect: Dialect

    def __init__(
        self,
        *,
        cipher: FieldCipher,
        ring: KeyRing,
        masters: MasterKeys,
        blobs: FileBlobStore,
    ) -> None:
        self._cipher = cipher
        self._ring = ring
        self._masters = masters
        self._blobs = blobs
        self._audit_key: ec.EllipticCurvePrivateKey | None = None
        blobs.reload_keys = self._load_ring

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        # Every public operation of the contract reloads the key ring once and retries when
        # it meets a record sealed under a data key another process created (a rotation run
        # by `dermline keys rotate`, or another node). Units are transactions, so a unit
        # that failed this way inside its transaction was rolled back; the few that decode
        # after commit are idempotent (touch, append of an existing id).
        for name in _RELOADING_METHODS:
            method = getattr(cls, name)
            if not getattr(method, "_reloads_keys", False):
                setattr(cls, name, _reload_on_unknown_key(method))

    # ------------------------------------------------------------------ engine hooks

    @abc.abstractmethod
    async def _write(self, fn: TxnFn[T], *, single_statement: bool = False) -> T:
        """Run ``fn`` as one durable write unit. ``single_statement``: ``fn`` runs exactly
        one statement, atomic by itself, so an engine may skip BEGIN/COMMIT round trips."""

    @abc.abstractmethod
    async def _read(self, fn: TxnFn[T], *, snapshot: bool = False) -> T:
        """Run ``fn`` on a reader (in one snapshot if ``snapshot``)."""

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    # ------------------------------------------------------------------ sealing helpers

    def _seal(self, table: str, column: str, row_id: str, value: bytes) -> bytes:
        return self._cipher.seal(table, column, row_id, value)

    def _seal_opt(self, table: str, column: str, row_id: str, value: bytes | None) -> bytes | None:
        return None if value is None else self._cipher.seal(table, column, row_id, value)

    def _seal_text(self, table: str, column: str, row_id: str, value: str) -> bytes:
        text = _check_text(value, column.removesuffix("_sealed"), max_bytes=1 << 20)
        return self._cipher.seal(table, column, row_id, text.encode("utf-8"))

    def _open(self, table: str, column: str, row_id: str, record: Any) -> bytes:
        return self._cipher.open(table, column, row_id, bytes(record))

    def _open_opt(self, table: str, column: str, row_id: str, record: Any) -> bytes | None:
        return None if record is None else self._open(table, column, row_id, record)

    def _open_text(self, table: str, column: str, row_id: str, record: Any) -> str:
        try:
            return self._open(table, column, row_id, record).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptRecord(f"{table}.{column}") from None

    # ------------------------------------------------------------------ start-up

    async def _init_keys(self) -> None:
        """Create missing data keys, load the ring, finish an interrupted master-key
        rotation, and create the audit signing key and head on first start."""

        async def ensure_txn(txn: Txn) -> None:
            # Several nodes starting at once on one PostgreSQL database would otherwise both
            # see no key, pick the same MAX(key_id) + 1 and one would fail to start.
            if self.dialect.key_lock:
                await txn.fetchone(self.dialect.key_lock)
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
        if self._cipher.enabled:
            await self._init_audit()

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
            _us(_dt.datetime.now(_dt.UTC)),
        )
        return key_id

    async def _load_ring(self) -> None:
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT key_id, purpose, master_key_id, wrapped, active FROM data_keys"
            )
        )
        masters = self._masters.by_id()
        ring = KeyRing()
        for key_id, purpose, master_id, wrapped, active in rows:
            master = masters.get(master_id)
            if master is None:
                raise AtRestKeyError(
                    "data keys are wrapped under a master key that is not configured"
                )
            try:
                key = at_rest.unwrap_data_key(
                    master, bytes(wrapped), key_id=int(key_id), purpose=purpose
                )
            except at_rest.AtRestError:
                raise AtRestKeyError("a data key does not unwrap under the master key") from None
            ring.add(int(key_id), purpose, key, active=bool(active))
        self._ring.replace(ring)

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

    async def _init_audit(self) -> None:
        fresh = ec.generate_private_key(ec.SECP256R1())
        der = fresh.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        sealed_key = self._seal("server_keys", "value_sealed", _AUDIT_KEY_NAME, der)
        sealed_head = self._seal(
            "audit_head", "head_sealed", "1", audit_fmt.encode_head(0, audit_fmt.GENESIS)
        )

        async def init_txn(txn: Txn) -> bytes:
            await txn.execute(
                "INSERT INTO server_keys (name, value_sealed) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                _AUDIT_KEY_NAME,
                sealed_key,
            )
            await txn.execute(
                "INSERT INTO audit_head (id, head_sealed) VALUES (1, ?)"
                " ON CONFLICT (id) DO NOTHING",
                sealed_head,
            )
            row = await txn.fetchone(
                "SELECT value_sealed FROM server_keys WHERE name = ?", _AUDIT_KEY_NAME
            )
            assert row is not None
            return bytes(row[0])

        stored = await self._write(init_txn)
        der = self._open("server_keys", "value_sealed", _AUDIT_KEY_NAME, stored)
        key = serialization.load_der_private_key(der, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self._audit_key = key

    # ------------------------------------------------------------------ lifecycle

    async def check_health(self) -> None:
        await self._read(lambda txn: txn.fetchone("SELECT 1"))
        await self._write(lambda txn: txn.fetchone("SELECT 1"))

    async def schema_version(self) -> int:
        row = await self._read(
            lambda txn: txn.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        )
        assert row is not None
        return int(row[0])

    # ------------------------------------------------------------------ organisations

    def _org(self, r: Row) -> Organisation:
        org_id = str(r[0])
        return Organisation(
            org_id=org_id,
            kind=OrgKind(r[1]),
            name=self._open_text("organisations", "name_sealed", org_id, r[2]),
            records_public_key=self._open_opt("organisations", "records_key_sealed", org_id, r[3]),
            created_at=_dt_of(r[4]),
        )

    _ORG_COLS = "org_id, kind, name_sealed, records_key_sealed, created_at"

    async def create_organisation(self, org: Organisation) -> Organisation:
        org_id = _check_id(org.org_id, "org_id")
        kind = OrgKind(org.kind)
        if org.records_public_key is not None:
            _check_bytes(org.records_public_key, "records_public_key")
        name = self._seal_text("organisations", "name_sealed", org_id, org.name)
        rk = self._seal_opt("organisations", "records_key_sealed", org_id, org.records_public_key)
        created = _us(org.created_at)

        async def txn_fn(txn: Txn) -> None:
            await txn.execute(
                "INSERT INTO organisations (org_id, kind, name_sealed, records_key_sealed,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                org_id,
                kind.value,
                name,
                rk,
                created,
            )

        await self._write(txn_fn)
        return Organisation(org_id, kind, org.name, org.records_public_key, _dt_of(created))

    async def get_organisation(self, org_id: str) -> Organisation:
        _check_id(org_id, "org_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {self._ORG_COLS} FROM organisations WHERE org_id = ?", org_id
            )
        )
        if row is None:
            raise NotFound("organisation")
        return self._org(row)

    async def list_organisations(self, kind: OrgKind | None = None) -> list[Organisation]:
        if kind is None:
            rows = await self._read(
                lambda txn: txn.fetchall(
                    f"SELECT {self._ORG_COLS} FROM organisations ORDER BY org_id"
                )
            )
        else:
            k = OrgKind(kind).value
            rows = await self._read(
                lambda txn: txn.fetchall(
                    f"SELECT {self._ORG_COLS} FROM organisations WHERE kind = ? ORDER BY org_id",
                    k,
                )
            )
        return [self._org(r) for r in rows]

    async def set_records_public_key(self, org_id: str, public_key: bytes) -> Organisation:
        _check_id(org_id, "org_id")
        sealed = self._seal(
            "organisations",
            "records_key_sealed",
            org_id,
            _check_bytes(public_key, "public_key"),
        )

        async def txn_fn(txn: Txn) -> Row:
            row = await txn.fetchone(
                "UPDATE organisations SET records_key_sealed = ? WHERE org_id = ?"
                f" RETURNING {self._ORG_COLS}",
                sealed,
                org_id,
            )
            if row is None:
                raise NotFound("organisation")
            return row

        return self._org(await self._write(txn_fn))

    # ------------------------------------------------------------------ users

    def _user(self, r: Row, memberships: Sequence[Membership]) -> User:
        uid = str(r[0])
        t = "users"
        codes_raw = self._open_opt(t, "recovery_codes_sealed", uid, r[14])
        codes: tuple[str, ...] = ()
        if codes_raw is not None:
            try:
                loaded = json.loads(codes_raw)
            except ValueError:
                raise CorruptRecord("users.recovery_codes_sealed") from None
            codes = tuple(str(c) for c in loaded)
        return User(
            user_id=uid,
            login_name=self._open_text(t, "login_sealed", uid, r[1]),
            display_name=self._open_text(t, "display_name_sealed", uid, r[2]),
            kdf_params=self._open(t, "kdf_params_sealed", uid, r[3]),
            auth_key_hash=self._open_text(t, "auth_hash_sealed", uid, r[4]),
            wrapped_usk=self._open(t, "wrapped_usk_sealed", uid, r[5]),
            recovery_wrapped_usk=self._open_opt(t, "recovery_usk_sealed", uid, r[6]),
            org_wrapped_usk=self._open_opt(t, "org_usk_sealed", uid, r[7]),
            encryption_public_key=self._open(t, "enc_pub_sealed", uid, r[8]),
            signing_public_key=self._open(t, "sign_pub_sealed", uid, r[9]),
            sealed_private_keys=self._open(t, "private_keys_sealed", uid, r[10]),
            totp_secret=self._open_opt(t, "totp_secret_sealed", uid, r[11]),
            totp_confirmed=bool(r[12]),
            totp_last_timecode=None if r[13] is None else int(r[13]),
            recovery_code_hashes=codes,
            failed_logins=int(r[15]),
            locked_until=_dt_opt(r[16]),
            disabled=bool(r[17]),
            created_at=_dt_of(r[18]),
            updated_at=_dt_of(r[19]),
            memberships=tuple(memberships),
        )

    async def _memberships_txn(self, txn: Txn, user_id: str) -> list[Membership]:
        rows = await txn.fetchall(
            "SELECT org_id, role FROM memberships WHERE user_id = ? ORDER BY org_id, role",
            user_id,
        )
        return [Membership(str(r[0]), Role(r[1])) for r in rows]

    async def _get_user_txn(self, txn: Txn, user_id: str, *, lock: bool = False) -> User:
        # ``lock``: read-modify-write units take the row lock first (PostgreSQL's READ
        # COMMITTED would otherwise let concurrent units all read the same old value; SQLite's
        # single writer serialises them anyway).
        lock_clause = self.dialect.for_update if lock else ""
        row = await txn.fetchone(
            f"SELECT {_USER_COLS} FROM users WHERE user_id = ?{lock_clause}", user_id
        )
        if row is None:
            raise NotFound("user")
        return self._user(row, await self._memberships_txn(txn, user_id))

    def _user_insert(self, user: NewUser) -> tuple[str, list[Any]]:
        uid = _check_id(user.user_id, "user_id")
        for name in (
            "kdf_params",
            "wrapped_usk",
            "encryption_public_key",
            "signing_public_key",
            "sealed_private_keys",
        ):
            _check_bytes(getattr(user, name), name)
        if not user.login_name or not isinstance(user.login_name, str):
            raise InvalidArgument("login_name must be a non-empty string")
        t = "users"
        created = _us(user.created_at)
        values: list[Any] = [
            uid,
            self._cipher.index("login", normalise_login(user.login_name)),
            self._seal_text(t, "login_sealed", uid, user.login_name),
            self._seal_text(t, "display_name_sealed", uid, user.display_name),
            self._seal(t, "kdf_params_sealed", uid, user.kdf_params),
            self._seal_text(t, "auth_hash_sealed", uid, user.auth_key_hash),
            self._seal(t, "wrapped_usk_sealed", uid, user.wrapped_usk),
            self._seal_opt(t, "recovery_usk_sealed", uid, user.recovery_wrapped_usk),
            self._seal_opt(t, "org_usk_sealed", uid, user.org_wrapped_usk),
            self._seal(t, "enc_pub_sealed", uid, user.encryption_public_key),
            self._seal(t, "sign_pub_sealed", uid, user.signing_public_key),
            self._seal(t, "private_keys_sealed", uid, user.sealed_private_keys),
            created,
            created,
        ]
        sql = (
            "INSERT INTO users (user_id, login_index, login_sealed, display_name_sealed,"
            " kdf_params_sealed, auth_hash_sealed, wrapped_usk_sealed, recovery_usk_sealed,"
            " org_usk_sealed, enc_pub_sealed, sign_pub_sealed, private_keys_sealed,"
            f" created_at, updated_at) VALUES ({_marks(14)})"
        )
        return sql, values

    async def _create_user_txn(
        self, txn: Txn, sql: str, values: list[Any], memberships: Sequence[Membership]
    ) -> User:
        uid = values[0]
        dup = await txn.fetchone(
            "SELECT 1 FROM users WHERE user_id = ? OR login_index = ?", uid, values[1]
        )
        if dup is not None:
            raise Conflict("duplicate")
        await txn.execute(sql, *values)
        for m in memberships:
            await self._add_membership_txn(txn, uid, m)
        return await self._get_user_txn(txn, uid)

    async def _add_membership_txn(self, txn: Txn, user_id: str, m: Membership) -> None:
        org = _check_id(m.org_id, "org_id")
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

    async def create_user(self, user: NewUser, memberships: Sequence[Membership] = ()) -> User:
        sql, values = self._user_insert(user)
        ms = list(memberships)
        return await self._write(lambda txn: self._create_user_txn(txn, sql, values, ms))

    async def get_user(self, user_id: str) -> User:
        _check_id(user_id, "user_id")
        return await self._read(lambda txn: self._get_user_txn(txn, user_id), snapshot=True)

    async def find_user_by_login(self, login_name: str) -> User | None:
        if not isinstance(login_name, str) or not login_name:
            return None
        index = self._cipher.index("login", normalise_login(login_name))

        async def txn_fn(txn: Txn) -> User | None:
            row = await txn.fetchone(f"SELECT {_USER_COLS} FROM users WHERE login_index = ?", index)
            if row is None:
                return None
            return self._user(row, await self._memberships_txn(txn, str(row[0])))

        return await self._read(txn_fn, snapshot=True)

    async def list_users(self, org_id: str | None = None) -> list[User]:
        if org_id is not None:
            _check_id(org_id, "org_id")

        async def txn_fn(txn: Txn) -> list[User]:
            if org_id is None:
                rows = await txn.fetchall(f"SELECT {_USER_COLS} FROM users ORDER BY user_id")
            else:
                rows = await txn.fetchall(
                    f"SELECT {_USER_COLS} FROM users WHERE user_id IN"
                    " (SELECT user_id FROM memberships WHERE org_id = ?) ORDER BY user_id",
                    org_id,
                )
            ms = await txn.fetchall(
                "SELECT user_id, org_id, role FROM memberships ORDER BY org_id, role"
            )
            by_user: dict[str, list[Membership]] = {}
            for uid, org, role in ms:
                by_user.setdefault(str(uid), []).append(Membership(str(org), Role(role)))
            return [self._user(r, by_user.get(str(r[0]), [])) for r in rows]

        return await self._read(txn_fn, snapshot=True)

    async def count_users_with_role(self, role: Role) -> int:
        r = Role(role).value
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT COUNT(DISTINCT user_id) FROM memberships WHERE role = ?", r
            )
        )
        assert row is not None
        return int(row[0])

    async def add_membership(self, user_id: str, membership: Membership) -> User:
        _check_id(user_id, "user_id")

        async def txn_fn(txn: Txn) -> User:
            await self._get_user_txn(txn, user_id)
            await self._add_membership_txn(txn, user_id, membership)
            return await self._get_user_txn(txn, user_id)

        return await self._write(txn_fn)

    async def remove_membership(self, user_id: str, membership: Membership) -> User:
        _check_id(user_id, "user_id")
        org, role = _check_id(membership.org_id, "org_id"), Role(membership.role).value

        async def txn_fn(txn: Txn) -> User:
            await txn.execute(
                "DELETE FROM memberships WHERE user_id = ? AND org_id = ? AND role = ?",
                user_id,
                org,
                role,
            )
            return await self._get_user_txn(txn, user_id)

        return await self._write(txn_fn)

    async def _update_user(self, user_id: str, sets: str, *args: Any) -> User:
        """``UPDATE users SET <sets> WHERE user_id = ?`` then return the user."""
        _check_id(user_id, "user_id")

        async def txn_fn(txn: Txn) -> User:
            row = await txn.fetchone(
                f"UPDATE users SET {sets} WHERE user_id = ? RETURNING user_id", *args, user_id
            )
            if row is None:
                raise NotFound("user")
            return await self._get_user_txn(txn, user_id)

        return await self._write(txn_fn)

    async def set_user_disabled(self, user_id: str, disabled: bool, now: _dt.datetime) -> User:
        return await self._update_user(
            user_id, "disabled = ?, updated_at = ?", 1 if disabled else 0, _us(now)
        )

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
        uid = _check_id(user_id, "user_id")
        t = "users"
        kdf = self._seal(t, "kdf_params_sealed", uid, _check_bytes(kdf_params, "kdf_params"))
        ah = self._seal_text(t, "auth_hash_sealed", uid, auth_key_hash)
        usk = self._seal(t, "wrapped_usk_sealed", uid, _check_bytes(wrapped_usk, "wrapped_usk"))
        when = _us(now)

        async def txn_fn(txn: Txn) -> User:
            current = await self._get_user_txn(txn, uid, lock=True)
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
            return await self._get_user_txn(txn, uid)

        return await self._write(txn_fn)

    async def update_auth_key_hash(self, user_id: str, auth_key_hash: str) -> None:
        uid = _check_id(user_id, "user_id")
        ah = self._seal_text("users", "auth_hash_sealed", uid, auth_key_hash)
        await self._update_user(uid, "auth_hash_sealed = ?", ah)

    async def begin_totp_enrolment(self, user_id: str, secret: bytes, now: _dt.datetime) -> User:
        uid = _check_id(user_id, "user_id")
        sealed = self._seal("users", "totp_secret_sealed", uid, _check_bytes(secret, "secret"))
        return await self._update_user(
            uid,
            "totp_secret_sealed = ?, totp_confirmed = 0, totp_last_timecode = NULL,"
            " recovery_codes_sealed = NULL, updated_at = ?",
            sealed,
            _us(now),
        )

    def _seal_codes(self, uid: str, codes: Sequence[str]) -> bytes:
        if not all(isinstance(c, str) and c for c in codes):
            raise InvalidArgument("recovery code hashes must be non-empty strings")
        return self._seal(
            "users", "recovery_codes_sealed", uid, json.dumps(list(codes)).encode("utf-8")
        )

    async def confirm_totp(
        self,
        user_id: str,
        timecode: int,
        recovery_code_hashes: Sequence[str],
        now: _dt.datetime,
    ) -> User:
        uid = _check_id(user_id, "user_id")
        _check_int64(timecode, "timecode")
        codes = self._seal_codes(uid, recovery_code_hashes)
        when = _us(now)

        async def txn_fn(txn: Txn) -> User:
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
                user = await self._get_user_txn(txn, uid)
                if user.totp_secret is None:
                    raise Conflict("state_changed")
                raise Conflict("totp_replay")
            return await self._get_user_txn(txn, uid)

        return await self._write(txn_fn)

    async def use_totp_timecode(self, user_id: str, timecode: int, now: _dt.datetime) -> User:
        uid = _check_id(user_id, "user_id")
        _check_int64(timecode, "timecode")
        when = _us(now)

        async def txn_fn(txn: Txn) -> User:
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
                await self._get_user_txn(txn, uid)
                raise Conflict("totp_replay")
            return await self._get_user_txn(txn, uid)

        return await self._write(txn_fn)

    async def consume_recovery_code(self, user_id: str, code_hash: str, now: _dt.datetime) -> User:
        uid = _check_id(user_id, "user_id")
        when = _us(now)

        async def txn_fn(txn: Txn) -> User:
            # Single use across nodes: the row lock makes concurrent consumers of the same
            # code queue up, and all but the first then find it gone.
            user = await self._get_user_txn(txn, uid, lock=True)
            if code_hash not in user.recovery_code_hashes:
                raise NotFound("recovery_code")
            rest = [c for c in user.recovery_code_hashes if c != code_hash]
            await txn.execute(
                "UPDATE users SET recovery_codes_sealed = ?, updated_at = ? WHERE user_id = ?",
                self._seal_codes(uid, rest),
                when,
                uid,
            )
            return await self._get_user_txn(txn, uid)

        return await self._write(txn_fn)

    async def reset_totp(self, user_id: str, now: _dt.datetime) -> User:
        return await self._update_user(
            user_id,
            "totp_secret_sealed = NULL, totp_confirmed = 0, totp_last_timecode = NULL,"
            " recovery_codes_sealed = NULL, updated_at = ?",
            _us(now),
        )

    async def record_auth_failure(
        self,
        user_id: str,
        now: _dt.datetime,
        *,
        lock_after: int,
        lock_for: _dt.timedelta,
    ) -> AuthFailureState:
        uid = _check_id(user_id, "user_id")
        _check_int64(lock_after, "lock_after", minimum=1)
        if not isinstance(lock_for, _dt.timedelta):
            raise InvalidArgument("lock_for must be a timedelta")
        until = _us(now + lock_for)

        async def txn_fn(txn: Txn) -> AuthFailureState:
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
            return AuthFailureState(count, _dt_opt(locked))

        return await self._write(txn_fn)

    async def reset_auth_failures(self, user_id: str) -> None:
        await self._update_user(user_id, "failed_logins = 0, locked_until = NULL")

    # ------------------------------------------------------------------ patient links

    @staticmethod
    def _patient_link(r: Row) -> PatientLink:
        return PatientLink(
            link_id=str(r[0]),
            case_id=str(r[1]),
            token_hash=bytes(r[2]),
            created_by=str(r[3]),
            created_at=_dt_of(r[4]),
            expires_at=_dt_of(r[5]),
            max_photos=int(r[6]),
            uploads=int(r[7]),
            used_at=_dt_opt(r[8]),
            revoked_at=_dt_opt(r[9]),
        )

    async def create_patient_link(self, link: PatientLink) -> PatientLink:
        if not isinstance(link, PatientLink):
            raise InvalidArgument("link must be a PatientLink")
        lid = _check_id(link.link_id, "link_id")
        cid = _check_id(link.case_id, "case_id")
        th = _check_bytes(link.token_hash, "token_hash")
        if len(th) != 32:
            raise InvalidArgument("token_hash must be 32 bytes")
        if not 1 <= _check_int64(link.max_photos, "max_photos") <= _MAX_DROP_RECORDS:
            raise InvalidArgument("max_photos out of range")
        values = [
            lid,
            cid,
            th,
            _check_id(link.created_by, "created_by"),
            _us(link.created_at),
            _us(link.expires_at),
            link.max_photos,
        ]

        async def txn_fn(txn: Txn) -> Row:
            await self._get_case_txn(txn, cid)
            dup = await txn.fetchone(
                "SELECT 1 FROM patient_links WHERE link_id = ? OR token_hash = ?", lid, th
            )
            if dup is not None:
                raise Conflict("duplicate")
            row = await txn.fetchone(
                "INSERT INTO patient_links (link_id, case_id, token_hash, created_by,"
                f" created_at, expires_at, max_photos, uploads) VALUES ({_marks(7)}, 0)"
                f" RETURNING {_LINK_COLS}",
                *values,
            )
            assert row is not None
            return row

        return self._patient_link(await self._write(txn_fn))

    async def get_patient_link(self, link_id: str) -> PatientLink:
        _check_id(link_id, "link_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_LINK_COLS} FROM patient_links WHERE link_id = ?", link_id
            )
        )
        if row is None:
            raise NotFound("patient_link")
        return self._patient_link(row)

    async def find_patient_link(self, token_hash: bytes) -> PatientLink:
        th = _check_bytes(token_hash, "token_hash")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_LINK_COLS} FROM patient_links WHERE token_hash = ?", th
            )
        )
        if row is None:
            raise NotFound("patient_link")
        return self._patient_link(row)

    async def list_patient_links(self, case_id: str) -> list[PatientLink]:
        _check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_LINK_COLS} FROM patient_links WHERE case_id = ?"
                " ORDER BY created_at DESC, link_id",
                case_id,
            )
        )
        return [self._patient_link(r) for r in rows]

    async def _locked_link_txn(self, txn: Txn, link_id: str) -> PatientLink:
        row = await txn.fetchone(
            f"SELECT {_LINK_COLS} FROM patient_links WHERE link_id = ?{self.dialect.for_update}",
            link_id,
        )
        if row is None:
            raise NotFound("patient_link")
        return self._patient_link(row)

    async def revoke_patient_link(self, link_id: str, now: _dt.datetime) -> PatientLink:
        lid = _check_id(link_id, "link_id")
        when = _us(now)

        async def txn_fn(txn: Txn) -> Row:
            link = await self._locked_link_txn(txn, lid)
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

        return self._patient_link(await self._write(txn_fn))

    async def count_patient_upload(
        self, link_id: str, now: _dt.datetime, max_uploads: int
    ) -> PatientLink:
        lid = _check_id(link_id, "link_id")
        when = _us(now)
        limit = _check_int64(max_uploads, "max_uploads")

        async def txn_fn(txn: Txn) -> Row:
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
                link = await self._locked_link_txn(txn, lid)
                usable = link.used_at is None and link.revoked_at is None
                if usable and _us(link.expires_at) > when:
                    raise Conflict("patient_link_full")
                raise Conflict("patient_link_invalid")
            return out

        return self._patient_link(await self._write(txn_fn))

    @staticmethod
    def _pack_records(records: Sequence[bytes]) -> bytes:
        if isinstance(records, bytes | str) or not 1 <= len(records) <= _MAX_DROP_RECORDS:
            raise InvalidArgument("records must be 1..100 drop records")
        out = bytearray()
        for record in records:
            if not 1 <= len(_check_bytes(record, "record")) <= _MAX_DROP_RECORD_BYTES:
                raise InvalidArgument("a drop record is empty or too long")
            out += len(record).to_bytes(4, "big") + record
        return bytes(out)

    async def submit_patient_link(
        self, link_id: str, records: Sequence[bytes], now: _dt.datetime
    ) -> PatientLink:
        lid = _check_id(link_id, "link_id")
        when = _us(now)
        sealed = self._seal("patient_links", "submission_sealed", lid, self._pack_records(records))

        async def txn_fn(txn: Txn) -> Row:
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
                await self._locked_link_txn(txn, lid)  # NotFound for an unknown id
                raise Conflict("patient_link_invalid")
            return out

        return self._patient_link(await self._write(txn_fn))

    async def get_patient_submission(self, link_id: str) -> list[bytes]:
        lid = _check_id(link_id, "link_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT submission_sealed FROM patient_links WHERE link_id = ?", lid
            )
        )
        if row is None:
            raise NotFound("patient_link")
        if row[0] is None:
            return []
        packed = self._open("patient_links", "submission_sealed", lid, row[0])
        out: list[bytes] = []
        pos = 0
        while pos < len(packed):
            size = int.from_bytes(packed[pos : pos + 4], "big")
            out.append(packed[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return out

    # ------------------------------------------------------------------ invites + accept

    def _invite(self, r: Row) -> Invite:
        th = bytes(r[0])
        login = self._open_opt("invites", "login_sealed", th.hex(), r[6])
        return Invite(
            token_hash=th,
            org_id=str(r[1]),
            role=Role(r[2]),
            created_by=r[3],
            created_at=_dt_of(r[4]),
            expires_at=_dt_of(r[5]),
            login_name=None if login is None else login.decode("utf-8"),
            used_at=_dt_opt(r[7]),
            used_by=r[8],
            revoked_at=_dt_opt(r[9]),
        )

    async def create_invite(self, invite: Invite) -> Invite:
        th = _check_bytes(invite.token_hash, "token_hash")
        if not 16 <= len(th) <= 64:
            raise InvalidArgument("token_hash must be 16..64 bytes")
        org = _check_id(invite.org_id, "org_id")
        login = (
            None
            if invite.login_name is None
            else self._seal_text("invites", "login_sealed", th.hex(), invite.login_name)
        )
        values = [
            th,
            org,
            Role(invite.role).value,
            None if invite.created_by is None else _check_id(invite.created_by, "created_by"),
            _us(invite.created_at),
            _us(invite.expires_at),
            login,
        ]

        async def txn_fn(txn: Txn) -> Row:
            if await txn.fetchone("SELECT 1 FROM organisations WHERE org_id = ?", org) is None:
                raise NotFound("organisation")
            row = await txn.fetchone(
                "INSERT INTO invites (token_hash, org_id, role, created_by, created_at,"
                f" expires_at, login_sealed) VALUES ({_marks(7)}) RETURNING {_INVITE_COLS}",
                *values,
            )
            assert row is not None
            return row

        return self._invite(await self._write(txn_fn))

    async def get_invite(self, token_hash: bytes) -> Invite:
        th = _check_bytes(token_hash, "token_hash")
        row = await self._read(
            lambda txn: txn.fetchone(f"SELECT {_INVITE_COLS} FROM invites WHERE token_hash = ?", th)
        )
        if row is None:
            raise NotFound("invite")
        return self._invite(row)

    async def list_invites(self, org_id: str) -> list[Invite]:
        _check_id(org_id, "org_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_INVITE_COLS} FROM invites WHERE org_id = ?"
                " ORDER BY created_at DESC, token_hash",
                org_id,
            )
        )
        return [self._invite(r) for r in rows]

    async def revoke_invite(self, token_hash: bytes, now: _dt.datetime) -> Invite:
        th = _check_bytes(token_hash, "token_hash")
        when = _us(now)

        async def txn_fn(txn: Txn) -> Row:
            row = await txn.fetchone(
                f"SELECT {_INVITE_COLS} FROM invites WHERE token_hash = ?{self.dialect.for_update}",
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
            return out

        return self._invite(await self._write(txn_fn))

    async def accept_invite(self, token_hash: bytes, user: NewUser, now: _dt.datetime) -> User:
        th = _check_bytes(token_hash, "token_hash")
        sql, values = self._user_insert(user)
        when = _us(now)
        uid = values[0]

        async def txn_fn(txn: Txn) -> User:
            row = await txn.fetchone(
                "SELECT org_id, role, expires_at, used_at, revoked_at FROM invites"
                f" WHERE token_hash = ?{self.dialect.for_update}",
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
            return await self._create_user_txn(
                txn, sql, values, [Membership(str(org_id), Role(role))]
            )

        return await self._write(txn_fn)

    # ------------------------------------------------------------------ sessions

    def _session(self, r: Row) -> Session:
        sh = bytes(r[0])
        rid = _rid_session(sh)
        return Session(
            session_id_hash=sh,
            user_id=str(r[1]),
            created_at=_dt_of(r[2]),
            last_seen_at=_dt_of(r[3]),
            expires_at=_dt_of(r[4]),
            client_address=self._open_text("sessions", "address_sealed", rid, r[5]),
            user_agent=self._open_text("sessions", "user_agent_sealed", rid, r[6]),
            mfa_verified=bool(r[7]),
            revoked_at=_dt_opt(r[8]),
        )

    async def create_session(self, session: Session) -> Session:
        sh = _check_bytes(session.session_id_hash, "session_id_hash")
        if not 16 <= len(sh) <= 64:
            raise InvalidArgument("session_id_hash must be 16..64 bytes")
        rid = _rid_session(sh)
        values = [
            sh,
            _check_id(session.user_id, "user_id"),
            _us(session.created_at),
            _us(session.last_seen_at),
            _us(session.expires_at),
            self._seal_text("sessions", "address_sealed", rid, session.client_address),
            self._seal_text("sessions", "user_agent_sealed", rid, session.user_agent),
            1 if session.mfa_verified else 0,
            _us_opt(session.revoked_at),
        ]

        async def txn_fn(txn: Txn) -> Row:
            if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", values[1]) is None:
                raise NotFound("user")
            row = await txn.fetchone(
                f"INSERT INTO sessions ({_SESSION_COLS}) VALUES ({_marks(9)})"
                f" RETURNING {_SESSION_COLS}",
                *values,
            )
            assert row is not None
            return row

        return self._session(await self._write(txn_fn))

    async def get_session(self, session_id_hash: bytes) -> Session | None:
        sh = _check_bytes(session_id_hash, "session_id_hash")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE session_hash = ?", sh
            )
        )
        return None if row is None else self._session(row)

    async def touch_session(
        self,
        session_id_hash: bytes,
        now: _dt.datetime,
        *,
        expires_at: _dt.datetime | None = None,
        mfa_verified: bool | None = None,
    ) -> Session:
        sh = _check_bytes(session_id_hash, "session_id_hash")
        sets = ["last_seen_at = ?"]
        args: list[Any] = [_us(now)]
        if expires_at is not None:
            sets.append("expires_at = ?")
            args.append(_us(expires_at))
        if mfa_verified is not None:
            sets.append("mfa_verified = ?")
            args.append(1 if mfa_verified else 0)

        async def txn_fn(txn: Txn) -> Row:
            row = await txn.fetchone(
                f"UPDATE sessions SET {', '.join(sets)} WHERE session_hash = ?"
                f" AND revoked_at IS NULL RETURNING {_SESSION_COLS}",
                *args,
                sh,
            )
            if row is None:
                raise NotFound("session")
            return row

        return self._session(await self._write(txn_fn))

    async def list_sessions(self, user_id: str, *, include_revoked: bool = False) -> list[Session]:
        _check_id(user_id, "user_id")
        extra = "" if include_revoked else " AND revoked_at IS NULL"
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE user_id = ?{extra}"
                " ORDER BY created_at DESC, session_hash",
                user_id,
            )
        )
        return [self._session(r) for r in rows]

    async def revoke_session(self, session_id_hash: bytes, now: _dt.datetime) -> None:
        sh = _check_bytes(session_id_hash, "session_id_hash")
        when = _us(now)

        async def txn_fn(txn: Txn) -> None:
            row = await txn.fetchone(
                "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE session_hash = ?"
                " RETURNING session_hash",
                when,
                sh,
            )
            if row is None:
                raise NotFound("session")

        await self._write(txn_fn)

    async def revoke_user_sessions(
        self, user_id: str, now: _dt.datetime, *, except_hash: bytes | None = None
    ) -> int:
        _check_id(user_id, "user_id")
        keep = b"" if except_hash is None else _check_bytes(except_hash, "except_hash")
        when = _us(now)

        async def txn_fn(txn: Txn) -> int:
            rows = await txn.fetchall(
                "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
                " AND session_hash <> ? RETURNING session_hash",
                when,
                user_id,
                keep,
            )
            return len(rows)

        return await self._write(txn_fn)

    async def delete_expired_sessions(self, now: _dt.datetime) -> int:
        when = _us(now)

        async def txn_fn(txn: Txn) -> int:
            rows = await txn.fetchall(
                "DELETE FROM sessions WHERE expires_at < ? RETURNING session_hash", when
            )
            return len(rows)

        return await self._write(txn_fn)

    # ------------------------------------------------------------------ cases

    def _case(self, r: Row) -> Case:
        cid = str(r[0])
        category = self._open_opt("outcomes", "category_sealed", cid, r[13])
        return Case(
            case_id=cid,
            practice_id=str(r[1]),
            service_id=str(r[2]),
            created_by=str(r[3]),
            state=CaseState(r[4]),
            priority=_RANK_PRIORITY[int(r[5])],
            created_at=_dt_of(r[6]),
            updated_at=_dt_of(r[7]),
            submitted_at=_dt_opt(r[8]),
            claimed_by=r[9],
            claimed_at=_dt_opt(r[10]),
            first_response_at=_dt_opt(r[11]),
            closed_at=_dt_opt(r[12]),
            outcome_category=None if category is None else OutcomeCategory(category.decode()),
            last_seq=int(r[14]),
            key_epoch=int(r[15]),
        )

    async def _get_case_txn(self, txn: Txn, case_id: str) -> Case:
        row = await txn.fetchone(f"{_CASE_SELECT} WHERE c.case_id = ?", case_id)
        if row is None:
            raise NotFound("case")
        return self._case(row)

    async def _insert_participant_txn(self, txn: Txn, p: Participant) -> None:
        await txn.execute(
            "INSERT INTO participants (case_id, user_id, role, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (case_id, user_id) DO NOTHING",
            _check_id(p.case_id, "case_id"),
            _check_id(p.user_id, "user_id"),
            Role(p.role).value,
            _us(p.added_at),
        )

    def _case_key_values(self, k: WrappedCaseKey) -> list[Any]:
        cid = _check_id(k.case_id, "case_id")
        kind = KeyRecipientKind(k.recipient_kind).value
        rec = _check_id(k.recipient_id, "recipient_id")
        # INTEGER (32-bit) column on PostgreSQL
        if not isinstance(k.epoch, int) or isinstance(k.epoch, bool) or not 0 <= k.epoch < 2**31:
            raise InvalidArgument("epoch must be a non-negative 32-bit int")
        sealed = self._seal(
            "case_keys",
            "wrapped_sealed",
            _rid_case_key(cid, k.epoch, kind, rec),
            _check_bytes(k.wrapped_key, "wrapped_key"),
        )
        return [cid, k.epoch, kind, rec, sealed, _us(k.created_at)]

    async def _insert_case_keys_txn(self, txn: Txn, rows: list[list[Any]]) -> None:
        for values in rows:
            await txn.execute(
                "INSERT INTO case_keys (case_id, epoch, recipient_kind, recipient_id,"
                f" wrapped_sealed, created_at) VALUES ({_marks(6)})",
                *values,
            )

    async def create_case(
        self,
        case: NewCase,
        participants: Sequence[Participant],
        case_keys: Sequence[WrappedCaseKey],
    ) -> Case:
        cid = _check_id(case.case_id, "case_id")
        practice = _check_id(case.practice_id, "practice_id")
        service = _check_id(case.service_id, "service_id")
        creator = _check_id(case.created_by, "created_by")
        state = CaseState(case.state)
        created = _us(case.created_at)
        submitted = created if state is not CaseState.DRAFT else None
        for p in participants:
            if p.case_id != cid:
                raise InvalidArgument("participant of another case")
        keys = [self._case_key_values(k) for k in case_keys]
        if any(k[0] != cid for k in keys):
            raise InvalidArgument("case key of another case")
        epoch = max((k[1] for k in keys), default=0)
        parts = list(participants)

        async def txn_fn(txn: Txn) -> Case:
            if await txn.fetchone("SELECT 1 FROM cases WHERE case_id = ?", cid) is not None:
                raise Conflict("duplicate")
            orgs = await txn.fetchall(
                "SELECT org_id, kind FROM organisations WHERE org_id IN (?, ?)", practice, service
            )
            kinds = {str(o): str(k) for o, k in orgs}
            if kinds.get(practice) != OrgKind.PRACTICE or kinds.get(service) != OrgKind.SERVICE:
                raise NotFound("organisation")
            await txn.execute(
                "INSERT INTO cases (case_id, practice_id, service_id, created_by, state,"
                " priority, created_at, updated_at, submitted_at, queued_at, key_epoch)"
                f" VALUES ({_marks(11)})",
                cid,
                practice,
                service,
                creator,
                state.value,
                _PRIORITY_RANK[Priority(case.priority)],
                created,
                created,
                submitted,
                created,
                epoch,
            )
            for p in parts:
                await self._insert_participant_txn(txn, p)
            await self._insert_case_keys_txn(txn, keys)
            return await self._get_case_txn(txn, cid)

        return await self._write(txn_fn)

    async def get_case(self, case_id: str) -> Case:
        _check_id(case_id, "case_id")
        return await self._read(lambda txn: self._get_case_txn(txn, case_id))

    async def transition_case(
        self,
        case_id: str,
        expected_state: CaseState,
        new_state: CaseState,
        now: _dt.datetime,
        *,
        claimed_by: str | None = None,
        outcome: Outcome | None = None,
    ) -> Case:
        cid = _check_id(case_id, "case_id")
        expected, new = CaseState(expected_state), CaseState(new_state)
        when = _us(now)
        sets = ["state = ?", "updated_at = ?"]
        args: list[Any] = [new.value, when]
        if new is CaseState.SUBMITTED:
            sets += ["submitted_at = COALESCE(submitted_at, ?)", "queued_at = ?"]
            args += [when, when]
        if new in (CaseState.CLOSED, CaseState.WITHDRAWN):
            sets.append("closed_at = ?")
            args.append(when)
        if claimed_by is not None:
            _check_id(claimed_by, "claimed_by")
            sets += ["claimed_by = ?", "claimed_at = ?"]
            args += [claimed_by, when]
        outcome_values: list[Any] | None = None
        if outcome is not None:
            if outcome.case_id != cid:
                raise InvalidArgument("outcome of another case")
            category = OutcomeCategory(outcome.category)
            outcome_values = [
                cid,
                self._seal("outcomes", "category_sealed", cid, category.value.encode()),
                self._seal(
                    "outcomes", "payload_sealed", cid, _check_bytes(outcome.payload, "payload")
                ),
                _check_id(outcome.author_id, "author_id"),
                _us(outcome.created_at),
            ]

        async def txn_fn(txn: Txn) -> Case:
            row = await txn.fetchone(
                f"UPDATE cases SET {', '.join(sets)} WHERE case_id = ? AND state = ?"
                " RETURNING case_id",
                *args,
                cid,
                expected.value,
            )
            if row is None:
                await self._get_case_txn(txn, cid)  # NotFound if absent
                raise Conflict("state_changed")
            if claimed_by is not None:
                await self._insert_participant_txn(
                    txn, Participant(cid, claimed_by, Role.DERMATOLOGIST, now)
                )
            if outcome_values is not None:
                await txn.execute(
                    "INSERT INTO outcomes (case_id, category_sealed, payload_sealed, author_id,"
                    f" created_at) VALUES ({_marks(5)}) ON CONFLICT (case_id) DO UPDATE SET"
                    " category_sealed = excluded.category_sealed,"
                    " payload_sealed = excluded.payload_sealed,"
                    " author_id = excluded.author_id, created_at = excluded.created_at",
                    *outcome_values,
                )
            return await self._get_case_txn(txn, cid)

        return await self._write(txn_fn)

    async def triage_queue(
        self,
        service_id: str,
        *,
        states: Sequence[CaseState] = (CaseState.SUBMITTED,),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        _check_id(service_id, "service_id")
        st = _states(states)
        n = _check_limit(limit)
        where = f"c.service_id = ? AND c.state IN ({_marks(len(st))})"
        args: list[Any] = [service_id, *st]
        if cursor is not None:
            pr, qa, cid = _dec_cursor(cursor, (int, int, str))
            where += " AND (c.priority, c.queued_at, c.case_id) > (?, ?, ?)"
            args += [pr, qa, cid]
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"{_CASE_SELECT} WHERE {where} ORDER BY c.priority, c.queued_at, c.case_id LIMIT ?",
                *args,
                n + 1,
            )
        )
        more = len(rows) > n
        rows = rows[:n]
        nxt = _enc_cursor(int(rows[-1][5]), int(rows[-1][16]), str(rows[-1][0])) if more else None
        return Page(tuple(self._case(r) for r in rows), nxt)

    async def _list_cases(
        self,
        base_where: str,
        base_args: list[Any],
        join: str,
        states: Sequence[CaseState] | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Case]:
        n = _check_limit(limit)
        where, args = base_where, list(base_args)
        if states is not None:
            st = _states(states)
            where += f" AND c.state IN ({_marks(len(st))})"
            args += st
        if cursor is not None:
            ua, cid = _dec_cursor(cursor, (int, str))
            where += " AND (c.updated_at, c.case_id) < (?, ?)"
            args += [ua, cid]
        select = _CASE_SELECT.replace(" FROM cases c", f" FROM cases c{join}")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"{select} WHERE {where} ORDER BY c.updated_at DESC, c.case_id DESC LIMIT ?",
                *args,
                n + 1,
            )
        )
        more = len(rows) > n
        rows = rows[:n]
        nxt = _enc_cursor(int(rows[-1][7]), str(rows[-1][0])) if more else None
        return Page(tuple(self._case(r) for r in rows), nxt)

    async def list_cases_for_user(
        self,
        user_id: str,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        _check_id(user_id, "user_id")
        return await self._list_cases(
            "p.user_id = ?",
            [user_id],
            " JOIN participants p ON p.case_id = c.case_id",
            states,
            limit,
            cursor,
        )

    async def list_cases_for_organisation(
        self,
        org_id: str,
        *,
        states: Sequence[CaseState] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Case]:
        _check_id(org_id, "org_id")
        return await self._list_cases(
            "(c.practice_id = ? OR c.service_id = ?)", [org_id, org_id], "", states, limit, cursor
        )

    # ------------------------------------------------------------------ participants, keys

    async def add_participant(self, participant: Participant) -> None:
        async def txn_fn(txn: Txn) -> None:
            await self._get_case_txn(txn, participant.case_id)
            await self._insert_participant_txn(txn, participant)

        _check_id(participant.case_id, "case_id")
        await self._write(txn_fn)

    async def remove_participant(self, case_id: str, user_id: str) -> None:
        _check_id(case_id, "case_id")
        _check_id(user_id, "user_id")
        await self._write(
            lambda txn: txn.execute(
                "DELETE FROM participants WHERE case_id = ? AND user_id = ?", case_id, user_id
            )
        )

    async def list_participants(self, case_id: str) -> list[Participant]:
        _check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT case_id, user_id, role, added_at FROM participants WHERE case_id = ?"
                " ORDER BY added_at, user_id",
                case_id,
            )
        )
        return [Participant(str(r[0]), str(r[1]), Role(r[2]), _dt_of(r[3])) for r in rows]

    async def is_participant(self, case_id: str, user_id: str) -> bool:
        _check_id(case_id, "case_id")
        _check_id(user_id, "user_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT 1 FROM participants WHERE case_id = ? AND user_id = ?", case_id, user_id
            )
        )
        return row is not None

    async def add_case_keys(self, keys: Sequence[WrappedCaseKey]) -> None:
        rows = [self._case_key_values(k) for k in keys]
        if not rows:
            return
        cid = rows[0][0]
        if any(r[0] != cid for r in rows):
            raise InvalidArgument("case keys of more than one case")
        top = max(r[1] for r in rows)

        async def txn_fn(txn: Txn) -> None:
            await self._get_case_txn(txn, cid)
            await self._insert_case_keys_txn(txn, rows)
            await txn.execute(
                "UPDATE cases SET key_epoch = ? WHERE case_id = ? AND key_epoch < ?",
                top,
                cid,
                top,
            )

        await self._write(txn_fn)

    async def add_participants_with_keys(
        self, participants: Sequence[Participant], keys: Sequence[WrappedCaseKey]
    ) -> None:
        if not participants:
            raise InvalidArgument("no participants")
        cid = _check_id(participants[0].case_id, "case_id")
        people = [
            (
                _check_id(p.case_id, "case_id"),
                _check_id(p.user_id, "user_id"),
                Role(p.role).value,
                _us(p.added_at),
            )
            for p in participants
        ]
        rows = [self._case_key_values(k) for k in keys]
        if any(p[0] != cid for p in people) or any(r[0] != cid for r in rows):
            raise InvalidArgument("participants or case keys of more than one case")

        async def txn_fn(txn: Txn) -> None:
            await self._get_case_txn(txn, cid)
            for values in people:
                # No ON CONFLICT: an existing participant is a Conflict, and the whole unit
                # is rolled back.
                await txn.execute(
                    "INSERT INTO participants (case_id, user_id, role, added_at)"
                    " VALUES (?, ?, ?, ?)",
                    *values,
                )
            await self._insert_case_keys_txn(txn, rows)

        await self._write(txn_fn)

    async def get_case_keys(
        self,
        case_id: str,
        *,
        recipient_kind: KeyRecipientKind | None = None,
        recipient_id: str | None = None,
    ) -> list[WrappedCaseKey]:
        _check_id(case_id, "case_id")
        where, args = "case_id = ?", [case_id]
        if recipient_kind is not None:
            where += " AND recipient_kind = ?"
            args.append(KeyRecipientKind(recipient_kind).value)
        if recipient_id is not None:
            where += " AND recipient_id = ?"
            args.append(_check_id(recipient_id, "recipient_id"))
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT case_id, epoch, recipient_kind, recipient_id, wrapped_sealed, created_at"
                f" FROM case_keys WHERE {where} ORDER BY epoch, recipient_kind, recipient_id",
                *args,
            )
        )
        return [
            WrappedCaseKey(
                case_id=str(r[0]),
                epoch=int(r[1]),
                recipient_kind=KeyRecipientKind(r[2]),
                recipient_id=str(r[3]),
                wrapped_key=self._open(
                    "case_keys",
                    "wrapped_sealed",
                    _rid_case_key(str(r[0]), int(r[1]), str(r[2]), str(r[3])),
                    r[4],
                ),
                created_at=_dt_of(r[5]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ messages

    def _message(self, r: Row) -> Message:
        cid, mid = str(r[0]), str(r[2])
        return Message(
            case_id=cid,
            seq=int(r[1]),
            client_msg_id=mid,
            sender_id=str(r[3]),
            envelope=self._open("messages", "envelope_sealed", _rid_message(cid, mid), r[4]),
            created_at=_dt_of(r[5]),
        )

    async def append_message(
        self,
        case_id: str,
        client_msg_id: str,
        sender_id: str,
        envelope: bytes,
        now: _dt.datetime,
    ) -> AppendResult:
        cid = _check_id(case_id, "case_id")
        mid = _check_id(client_msg_id, "client_msg_id")
        sender = _check_id(sender_id, "sender_id")
        sealed = self._seal(
            "messages",
            "envelope_sealed",
            _rid_message(cid, mid),
            _check_bytes(envelope, "envelope"),
        )
        when = _us(now)
        lock = self.dialect.for_update

        async def pg_fn(txn: Txn) -> tuple[Row, bool]:
            # PostgreSQL: the same unit as txn_fn below, as one server-side function
            # (migrations/postgres/0002_append_message.sql): one round trip.
            row = await txn.fetchone(
                "SELECT o_seq, o_sender, o_envelope, o_created_at, o_created"
                " FROM append_message(?, ?, ?, ?, ?)",
                cid,
                mid,
                sender,
                sealed,
                when,
            )
            assert row is not None
            if not row[4] and row[1] != sender:
                raise Conflict("message_id_taken")
            return (cid, row[0], mid, row[1], row[2], row[3]), bool(row[4])

        async def txn_fn(txn: Txn) -> tuple[Row, bool]:
            # PostgreSQL: take the case row lock first, so that a racing insert of the same
            # client id waits for us and then sees our row (no unique violation).
            # (SQLite needs no lock: its single writer already serialises the units.)
            lock_sql = f"SELECT 1 FROM cases WHERE case_id = ?{lock}"
            if lock and await txn.fetchone(lock_sql, cid) is None:
                raise NotFound("case")
            existing = await txn.fetchone(
                f"SELECT {_MSG_COLS} FROM messages WHERE case_id = ? AND client_msg_id = ?",
                cid,
                mid,
            )
            if existing is not None:
                if existing[3] != sender:
                    raise Conflict("message_id_taken")
                return existing, False
            # DESIGN.md section 6: the next per-case sequence number, in the same transaction.
            row = await txn.fetchone(
                "UPDATE cases SET last_seq = last_seq + 1, updated_at = ?,"
                " first_response_at = CASE WHEN first_response_at IS NULL AND created_by <> ?"
                " THEN ? ELSE first_response_at END WHERE case_id = ? RETURNING last_seq",
                when,
                sender,
                when,
                cid,
            )
            if row is None:
                raise NotFound("case")
            seq = int(row[0])
            await txn.execute(
                f"INSERT INTO messages ({_MSG_COLS}) VALUES ({_marks(6)})",
                cid,
                seq,
                mid,
                sender,
                sealed,
                when,
            )
            return (cid, seq, mid, sender, sealed, when), True

        if self.dialect.single_statement_units:
            row, created = await self._write(pg_fn, single_statement=True)
        else:
            row, created = await self._write(txn_fn)
        if created:
            msg = Message(cid, int(row[1]), mid, sender, envelope, _dt_of(when))
        else:
            msg = self._message(row)
        return AppendResult(msg, created)

    async def list_messages(
        self, case_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Message]:
        _check_id(case_id, "case_id")
        n = _check_limit(limit)
        _check_int64(after_seq, "after_seq")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_MSG_COLS} FROM messages WHERE case_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                case_id,
                after_seq,
                n,
            )
        )
        return [self._message(r) for r in rows]

    async def get_message(self, case_id: str, client_msg_id: str) -> Message:
        _check_id(case_id, "case_id")
        _check_id(client_msg_id, "client_msg_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_MSG_COLS} FROM messages WHERE case_id = ? AND client_msg_id = ?",
                case_id,
                client_msg_id,
            )
        )
        if row is None:
            raise NotFound("message")
        return self._message(row)

    # ------------------------------------------------------------------ attachments

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
            created_at=_dt_of(r[8]),
        )

    async def create_attachment(self, attachment: Attachment) -> Attachment:
        a = attachment
        aid = _check_id(a.attachment_id, "attachment_id")
        cid = _check_id(a.case_id, "case_id")
        if len(_check_bytes(a.ciphertext_sha256, "ciphertext_sha256")) != 32:
            raise InvalidArgument("ciphertext_sha256 must be 32 bytes")
        _check_int64(a.size, "size")
        t = "attachments"
        values = [
            aid,
            cid,
            _check_id(a.uploader_id, "uploader_id"),
            _check_id(a.blob_id, "blob_id"),
            self._seal(t, "sha256_sealed", aid, a.ciphertext_sha256),
            self._seal(t, "size_sealed", aid, a.size.to_bytes(8, "big")),
            self._seal_text(t, "ctype_sealed", aid, a.content_type),
            self._seal(t, "metadata_sealed", aid, _check_bytes(a.metadata, "metadata")),
            _us(a.created_at),
        ]

        async def txn_fn(txn: Txn) -> None:
            await self._get_case_txn(txn, cid)
            await txn.execute(
                f"INSERT INTO attachments ({_ATT_COLS}) VALUES ({_marks(9)})", *values
            )

        await self._write(txn_fn)
        return a

    async def get_attachment(self, attachment_id: str) -> Attachment:
        _check_id(attachment_id, "attachment_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                f"SELECT {_ATT_COLS} FROM attachments WHERE attachment_id = ?", attachment_id
            )
        )
        if row is None:
            raise NotFound("attachment")
        return self._attachment(row)

    async def list_attachments(self, case_id: str) -> list[Attachment]:
        _check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_ATT_COLS} FROM attachments WHERE case_id = ?"
                " ORDER BY created_at, attachment_id",
                case_id,
            )
        )
        return [self._attachment(r) for r in rows]

    # ------------------------------------------------------------------ outcomes

    async def get_outcome(self, case_id: str) -> Outcome | None:
        cid = _check_id(case_id, "case_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT category_sealed, payload_sealed, author_id, created_at FROM outcomes"
                " WHERE case_id = ?",
                cid,
            )
        )
        if row is None:
            return None
        return Outcome(
            case_id=cid,
            category=OutcomeCategory(self._open_text("outcomes", "category_sealed", cid, row[0])),
            payload=self._open("outcomes", "payload_sealed", cid, row[1]),
            author_id=str(row[2]),
            created_at=_dt_of(row[3]),
        )

    async def update_outcome(
        self, case_id: str, expected: bytes, new: Outcome, now: _dt.datetime
    ) -> Case:
        cid = _check_id(case_id, "case_id")
        if new.case_id != cid:
            raise InvalidArgument("outcome of another case")
        want = _check_bytes(expected, "expected")
        category = OutcomeCategory(new.category)
        values = [
            self._seal("outcomes", "category_sealed", cid, category.value.encode()),
            self._seal("outcomes", "payload_sealed", cid, _check_bytes(new.payload, "payload")),
            _check_id(new.author_id, "author_id"),
            _us(new.created_at),
        ]
        when = _us(now)

        async def txn_fn(txn: Txn) -> Case:
            # The row lock first: PostgreSQL's READ COMMITTED would otherwise let two racing
            # updates both read the same old record (SQLite's single writer serialises them).
            row = await txn.fetchone(
                f"SELECT payload_sealed FROM outcomes WHERE case_id = ?{self.dialect.for_update}",
                cid,
            )
            if row is None:
                await self._get_case_txn(txn, cid)  # NotFound if the case is absent
                raise Conflict("outcome_changed")
            current = self._open("outcomes", "payload_sealed", cid, row[0])
            if current != want:
                raise Conflict("outcome_changed")
            await txn.execute(
                "UPDATE outcomes SET category_sealed = ?, payload_sealed = ?, author_id = ?,"
                " created_at = ? WHERE case_id = ?",
                *values,
                cid,
            )
            await txn.execute("UPDATE cases SET updated_at = ? WHERE case_id = ?", when, cid)
            return await self._get_case_txn(txn, cid)

        return await self._write(txn_fn)

    async def outcome_counts(
        self, service_id: str, since: _dt.datetime | None = None
    ) -> dict[OutcomeCategory, int]:
        _check_id(service_id, "service_id")
        lower = -(2**62) if since is None else _us(since)
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT o.case_id, o.category_sealed FROM outcomes o JOIN cases c"
                " ON c.case_id = o.case_id WHERE c.service_id = ? AND c.state = ?"
                " AND c.closed_at >= ?",
                service_id,
                CaseState.CLOSED.value,
                lower,
            )
        )
        counts: dict[OutcomeCategory, int] = {}
        for cid, sealed in rows:
            cat = OutcomeCategory(self._open_text("outcomes", "category_sealed", str(cid), sealed))
            counts[cat] = counts.get(cat, 0) + 1
        return counts

    # ------------------------------------------------------------------ receipts

    async def record_receipt(
        self,
        case_id: str,
        user_id: str,
        kind: ReceiptKind,
        seq: int,
        now: _dt.datetime,
    ) -> Receipt:
        cid = _check_id(case_id, "case_id")
        uid = _check_id(user_id, "user_id")
        k = ReceiptKind(kind)
        _check_int64(seq, "seq")
        when = _us(now)

        async def txn_fn(txn: Txn) -> Row:
            await self._get_case_txn(txn, cid)
            row = await txn.fetchone(
                "INSERT INTO receipts (case_id, user_id, kind, seq, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id, user_id, kind) DO UPDATE SET"
                " updated_at = CASE WHEN excluded.seq > receipts.seq THEN excluded.updated_at"
                " ELSE receipts.updated_at END,"
                " seq = CASE WHEN excluded.seq > receipts.seq THEN excluded.seq"
                " ELSE receipts.seq END RETURNING seq, updated_at",
                cid,
                uid,
                k.value,
                seq,
                when,
            )
            assert row is not None
            return row

        row = await self._write(txn_fn)
        return Receipt(cid, uid, k, int(row[0]), _dt_of(row[1]))

    async def list_receipts(self, case_id: str) -> list[Receipt]:
        _check_id(case_id, "case_id")
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT case_id, user_id, kind, seq, updated_at FROM receipts WHERE case_id = ?"
                " ORDER BY user_id, kind",
                case_id,
            )
        )
        return [
            Receipt(str(r[0]), str(r[1]), ReceiptKind(r[2]), int(r[3]), _dt_of(r[4])) for r in rows
        ]

    # ------------------------------------------------------------------ audit

    def _require_audit(self) -> ec.EllipticCurvePrivateKey:
        if self._audit_key is None:
            raise AtRestKeyError("the audit log needs at-rest encryption")
        return self._audit_key

    async def append_audit(self, event: AuditEvent) -> AuditEntry:
        self._require_audit()
        _check_audit_event(event)
        salt = os.urandom(16)

        async def txn_fn(txn: Txn) -> AuditEntry:
            head = await txn.fetchone(
                f"SELECT head_sealed FROM audit_head WHERE id = 1{self.dialect.for_update}"
            )
            assert head is not None
            seq, prev = audit_fmt.decode_head(self._open("audit_head", "head_sealed", "1", head[0]))
            seq += 1
            canonical = audit_fmt.encode_canonical(seq, event, salt)
            entry_hash = audit_fmt.chain_hash(prev, canonical)
            await txn.execute(
                "INSERT INTO audit_log (seq, prev_hash, entry_hash, content_sealed)"
                " VALUES (?, ?, ?, ?)",
                seq,
                prev,
                entry_hash,
                self._seal("audit_log", "content_sealed", str(seq), canonical),
            )
            await txn.execute(
                "UPDATE audit_head SET head_sealed = ? WHERE id = 1",
                self._seal(
                    "audit_head", "head_sealed", "1", audit_fmt.encode_head(seq, entry_hash)
                ),
            )
            return AuditEntry(seq, event, prev, entry_hash)

        return await self._write(txn_fn)

    def _audit_entry(self, r: Row) -> AuditEntry:
        seq = int(r[0])
        canonical = self._open("audit_log", "content_sealed", str(seq), r[3])
        try:
            _, event = audit_fmt.decode_canonical(canonical)
        except ValueError:
            raise CorruptRecord("audit_log.content_sealed") from None
        return AuditEntry(seq, event, bytes(r[1]), bytes(r[2]))

    async def list_audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        n = _check_limit(limit)
        _check_int64(after_seq, "after_seq")
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT seq, prev_hash, entry_hash, content_sealed FROM audit_log"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                after_seq,
                n,
            )
        )
        return [self._audit_entry(r) for r in rows]

    async def checkpoint_audit(self, now: _dt.datetime) -> AuditCheckpoint:
        key = self._require_audit()
        when = _us(now)

        async def txn_fn(txn: Txn) -> AuditCheckpoint:
            # The head row lock (PostgreSQL) serialises this with appends and with another
            # checkpoint of the same head, which would otherwise meet a unique violation.
            head = await txn.fetchone(
                f"SELECT head_sealed FROM audit_head WHERE id = 1{self.dialect.for_update}"
            )
            assert head is not None
            seq, h = audit_fmt.decode_head(self._open("audit_head", "head_sealed", "1", head[0]))
            if seq == 0:
                raise NotFound("audit_entry")
            existing = await txn.fetchone(
                "SELECT seq, entry_hash, signature, created_at FROM audit_checkpoints"
                " WHERE seq = ?",
                seq,
            )
            if existing is not None:
                return AuditCheckpoint(
                    seq, bytes(existing[1]), bytes(existing[2]), _dt_of(existing[3])
                )
            sig = key.sign(audit_fmt.checkpoint_message(seq, h, when), ec.ECDSA(hashes.SHA256()))
            await txn.execute(
                "INSERT INTO audit_checkpoints (seq, entry_hash, signature, created_at)"
                " VALUES (?, ?, ?, ?)",
                seq,
                h,
                sig,
                when,
            )
            return AuditCheckpoint(seq, h, sig, _dt_of(when))

        return await self._write(txn_fn)

    async def audit_public_key(self) -> bytes:
        return (
            self._require_audit()
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    async def verify_audit(self) -> AuditVerification:
        """Re-derive the chain and check every checkpoint (``docs/storage.md``, "Audit log").

        Safe beside live appends: the order of the reads is what makes it so. Checkpoints are
        read first, then the sealed head, then the entries. Every checkpoint read covers an
        entry at or below the head read after it, and every entry at or below that head was
        committed together with (or before) it, so nothing appended meanwhile can look like
        a truncation. Entries appended after the head was read are verified too (they must
        still decrypt under their seq and chain on), they just are not required.
        """
        public = self._require_audit().public_key()
        checkpoints = await self._read(
            lambda txn: txn.fetchall(
                "SELECT seq, entry_hash, signature, created_at FROM audit_checkpoints ORDER BY seq"
            )
        )
        for seq, h, sig, created in checkpoints:
            try:
                public.verify(
                    bytes(sig),
                    audit_fmt.checkpoint_message(int(seq), bytes(h), int(created)),
                    ec.ECDSA(hashes.SHA256()),
                )
            except InvalidSignature:
                raise AuditIntegrityError(int(seq), "bad_checkpoint") from None
        wanted = {int(r[0]): bytes(r[1]) for r in checkpoints}
        head = await self._read(
            lambda txn: txn.fetchone("SELECT head_sealed FROM audit_head WHERE id = 1")
        )
        try:
            if head is None:
                raise ValueError("no audit head")
            head_seq, head_hash = audit_fmt.decode_head(
                self._open("audit_head", "head_sealed", "1", head[0])
            )
        except (CorruptRecord, ValueError):
            raise AuditIntegrityError(1, "truncated") from None
        prev, expected, batch = audit_fmt.GENESIS, 1, 1000
        hash_at_head = audit_fmt.GENESIS if head_seq == 0 else None
        while True:
            after = expected - 1
            rows = await self._read(
                lambda txn, after=after: txn.fetchall(  # type: ignore[misc]
                    "SELECT seq, prev_hash, entry_hash, content_sealed FROM audit_log"
                    " WHERE seq > ? ORDER BY seq LIMIT ?",
                    after,
                    batch,
                )
            )
            for seq_v, prev_hash, entry_hash, sealed in rows:
                seq = int(seq_v)
                if seq != expected:
                    raise AuditIntegrityError(expected, "gap")
                try:
                    canonical = self._open("audit_log", "content_sealed", str(seq), sealed)
                    inner_seq, _ = audit_fmt.decode_canonical(canonical)
                except (CorruptRecord, ValueError):
                    raise AuditIntegrityError(seq, "undecryptable") from None
                if inner_seq != seq:
                    raise AuditIntegrityError(seq, "undecryptable")
                if bytes(prev_hash) != prev:
                    raise AuditIntegrityError(seq, "chain_broken")
                computed = audit_fmt.chain_hash(prev, canonical)
                if computed != bytes(entry_hash):
                    raise AuditIntegrityError(seq, "hash_mismatch")
                if seq in wanted and wanted[seq] != computed:
                    raise AuditIntegrityError(seq, "bad_checkpoint")
                if seq == head_seq:
                    hash_at_head = computed
                prev = computed
                expected += 1
            if len(rows) < batch:
                break
        last = expected - 1
        if wanted and max(wanted) > last:
            raise AuditIntegrityError(last + 1, "truncated")
        if last < head_seq:
            raise AuditIntegrityError(last + 1, "truncated")
        if hash_at_head != head_hash:
            raise AuditIntegrityError(max(head_seq, 1), "truncated")
        return AuditVerification(last, len(checkpoints), last, prev)

    # ------------------------------------------------------------------ rotation

    async def rotate_keys(
        self,
        *,
        new_master_key: bytes | None = None,
        rotate_data_keys: bool = True,
        batch_size: int = 500,
    ) -> RotationReport:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool):
            raise InvalidArgument("batch_size must be an int")
        if not 1 <= batch_size <= _MAX_LIMIT:
            raise InvalidArgument("batch_size out of range")
        if not self._cipher.enabled:
            raise AtRestKeyError("at-rest encryption is disabled")
        master_rotated = False
        if new_master_key is not None:
            if len(_check_bytes(new_master_key, "new_master_key")) != at_rest.KEY_LEN:
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

        async def txn_fn(txn: Txn) -> list[int]:
            if self.dialect.key_lock:
                await txn.fetchone(self.dialect.key_lock)
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

        ids = await self._write(txn_fn)
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
                where = f" WHERE ({pk}) > ({_marks(npk)})" if npk > 1 else f" WHERE {pk} > ?"
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

            async def txn_fn(
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

            changed += await self._write(txn_fn)
            if len(rows) < batch_size:
                return changed
