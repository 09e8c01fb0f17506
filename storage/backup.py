"""Backups of a SQLite deployment that restore (``docs/operations.md``, "Backups").

A backup is a folder::

    manifest.json        what is in it, with SHA-256 and size of every file
    dermline.sqlite3     one consistent snapshot (SQLite's online backup API), sealed at rest
    blobs/ab/<id>.blob   every blob a row of that snapshot names, sealed at rest

Rules:

* **Consistent while serving.** The database is copied by ``sqlite3.Connection.backup`` in
  one step (one read transaction: the server's writes go on, into the WAL, and are not in
  the copy). Then every blob named by an ``attachments`` row of the copy is copied.
  Blobs written after the snapshot may be missing (harmless: nothing in the backup names
  them); a blob named by the copy is always there, because the only thing that deletes a
  named blob, a disposal, waits for the maintenance lock that the backup holds
  (:mod:`storage.maintenance`).
* **Keys.** The backup holds the data keys as the database holds them, wrapped under the
  master key, and never the master key or the server secret: a stolen backup is ciphertext.
  Restoring needs the master key from its own place (the manifest names its public
  fingerprint, ``master_key_ids``). After a master-key rotation an older backup needs the
  older master key; destroying that key makes every backup taken under it unreadable for good
  (how long disposed-of cases survive in backups: ``docs/operations.md``).
* **Verify** checks every checksum, then opens a copy of the database with the master key
  (``PRAGMA integrity_check``, the at-rest keys), verifies the audit chain and reads every
  blob through its decryption. **Restore** verifies first, refuses a data folder that already
  holds a database, copies the files in (0600, folders 0700, fsynced), opens the result and
  signs everyone out (clients must start afresh after a restore: :func:`_sign_everyone_out`).

PostgreSQL deployments back up with ``pg_dump`` (or PITR) and an archive of the blob folder
under the same lock (``flock``), as ``docs/operations.md`` shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storage import maintenance
from storage.config import SQLITE_FILE, StorageConfig
from storage.errors import StorageError

__all__ = [
    "BACKUP_FORMAT",
    "BackupError",
    "BackupManifest",
    "VerifyReport",
    "backup_sqlite",
    "restore_sqlite",
    "verify_backup",
]

BACKUP_FORMAT = "dermline-backup/1"
MANIFEST = "manifest.json"
DB_NAME = SQLITE_FILE  # the same name in a backup as in the data folder
_CHUNK = 1 << 20


class BackupError(StorageError):
    """A backup cannot be made, verified or restored; the message names what, never a
    value or a key."""


@dataclasses.dataclass(frozen=True)
class BackupManifest:
    created_at: str
    schema_version: int
    master_key_ids: tuple[str, ...]
    database_sha256: str
    database_size: int
    blobs: dict[str, tuple[str, int]]  # blob id -> (sha256 hex, size)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": BACKUP_FORMAT,
            "engine": "sqlite",
            "created_at": self.created_at,
            "schema_version": self.schema_version,
            "master_key_ids": list(self.master_key_ids),
            "database": {
                "file": DB_NAME,
                "sha256": self.database_sha256,
                "size": self.database_size,
            },
            "blobs": [
                {"id": b, "sha256": h, "size": n} for b, (h, n) in sorted(self.blobs.items())
            ],
        }

    @classmethod
    def from_json(cls, doc: Any) -> BackupManifest:
        try:
            if doc["format"] != BACKUP_FORMAT or doc["engine"] != "sqlite":
                raise BackupError("not a Dermline SQLite backup (manifest format)")
            db = doc["database"]
            if db["file"] != DB_NAME:
                raise BackupError("unexpected database file name in the manifest")
            blobs = {}
            for b in doc["blobs"]:
                blob_id = str(b["id"])
                if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
                    raise BackupError("malformed blob id in the manifest")
                blobs[blob_id] = (str(b["sha256"]), int(b["size"]))
            return cls(
                str(doc["created_at"]),
                int(doc["schema_version"]),
                tuple(str(k) for k in doc["master_key_ids"]),
                str(db["sha256"]),
                int(db["size"]),
                blobs,
            )
        except (KeyError, TypeError, ValueError):
            raise BackupError("the manifest is malformed") from None


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    schema_version: int
    audit_entries: int
    audit_checkpoints: int
    audit_head: bytes
    blobs: int
    cases: int
    messages: int


def _blob_rel(blob_id: str) -> Path:
    return Path("blobs") / blob_id[:2] / f"{blob_id}.blob"


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)


def _copy(src: Path, dest: Path) -> None:
    """Copy a file (0600), fsynced with its folder."""
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(src, "rb") as f, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(f, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())
    _fsync_dir(dest.parent)


def _empty_folder(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{what} exists and is not an empty folder")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def backup_sqlite(
    config: StorageConfig, out: Path, *, now: _dt.datetime | None = None
) -> BackupManifest:
    """Back up the SQLite database and the blobs it names into the empty folder ``out``,
    while the server may be serving. Blocking (run it in a thread or a command)."""
    source = config.sqlite_path
    if config.backend != "sqlite" or not source.is_file():
        raise BackupError("no SQLite database in the data folder")
    _empty_folder(out, "the backup folder")
    blob_root = config.resolved_blob_dir
    dest_db = out / DB_NAME
    with maintenance.hold(blob_root):
        src = sqlite3.connect(source, timeout=30)
        try:
            src.execute("PRAGMA query_only = ON")
            os.close(os.open(dest_db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            dst = sqlite3.connect(dest_db)
            try:
                src.backup(dst)  # all pages in one step: one snapshot
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                names = [str(r[0]) for r in dst.execute("SELECT blob_id FROM attachments")]
                schema = int(
                    dst.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
                )
                masters = sorted(
                    {str(r[0]) for r in dst.execute("SELECT master_key_id FROM data_keys")}
                )
            finally:
                dst.close()
        except sqlite3.Error:
            raise BackupError("the database could not be copied") from None
        finally:
            src.close()
        blobs: dict[str, tuple[str, int]] = {}
        for blob_id in sorted(set(names)):
            src_blob = blob_root / blob_id[:2] / f"{blob_id}.blob"
            if not src_blob.is_file():
                raise BackupError("a blob named by the database is missing from the blob folder")
            _copy(src_blob, out / _blob_rel(blob_id))
            blobs[blob_id] = _sha256(out / _blob_rel(blob_id))
    _fsync_file(dest_db)
    db_sha, db_size = _sha256(dest_db)
    when = (now or _dt.datetime.now(_dt.UTC)).isoformat()
    manifest = BackupManifest(when, schema, tuple(masters), db_sha, db_size, blobs)
    tmp = out / (MANIFEST + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest.to_json(), f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out / MANIFEST)  # the manifest last: a folder without one is no backup
    _fsync_dir(out)
    return manifest


def _read_manifest(backup: Path) -> BackupManifest:
    try:
        doc = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError("no manifest.json: not a backup, or an unfinished one") from None
    except (OSError, ValueError):
        raise BackupError("the manifest cannot be read") from None
    return BackupManifest.from_json(doc)


def _check_files(backup: Path, manifest: BackupManifest) -> None:
    """Every file the manifest names, with its checksum; nothing else."""
    if _sha256(backup / DB_NAME) != (manifest.database_sha256, manifest.database_size):
        raise BackupError("the database file does not match its checksum")
    for blob_id, expected in manifest.blobs.items():
        path = backup / _blob_rel(blob_id)
        if not path.is_file():
            raise BackupError("a blob of the manifest is missing")
        if _sha256(path) != expected:
            raise BackupError("a blob does not match its checksum")
    present = (
        {p.stem for p in (backup / "blobs").glob("??/*.blob")}
        if (backup / "blobs").exists()
        else set()
    )
    if present != set(manifest.blobs):
        raise BackupError("the blob folder holds files the manifest does not name")


@contextlib.contextmanager
def _linked_copy(backup: Path, manifest: BackupManifest) -> Iterator[Path]:
    """A scratch data folder holding the backup's files (hard links where possible), so
    that opening it never changes the backup itself."""
    with tempfile.TemporaryDirectory(prefix="dermline-verify-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o700)
        shutil.copyfile(backup / DB_NAME, root / DB_NAME)
        for blob_id in manifest.blobs:
            dest = root / _blob_rel(blob_id)
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                os.link(backup / _blob_rel(blob_id), dest)
            except OSError:
                shutil.copyfile(backup / _blob_rel(blob_id), dest)
        yield root


def _key_config(config: StorageConfig) -> StorageConfig:
    """``config`` with its master key's place made explicit, after checking that the key is
    there: verifying or restoring never creates a master key (opening storage would)."""
    if os.environ.get(config.master_key_env):
        return config
    path = config.resolved_master_key_file
    if not (os.path.lexists(path) or os.path.lexists(path.with_name(path.name + ".new"))):
        raise BackupError(
            "no master key: put the key file in place or set the key's environment variable"
        )
    return dataclasses.replace(config, master_key_file=path)


async def _open_and_check(data_dir: Path, key_config: StorageConfig) -> VerifyReport:
    """Open the database in ``data_dir`` with the master key of ``key_config``."""
    from storage import open_storage

    with sqlite3.connect(data_dir / DB_NAME) as conn:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the database fails SQLite's integrity check")
        cases = int(conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0])
        messages = int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        blob_ids = [str(r[0]) for r in conn.execute("SELECT blob_id FROM attachments")]
    conn.close()
    config = dataclasses.replace(key_config, backend="sqlite", data_dir=data_dir, blob_dir=None)
    store = await open_storage(config, migrate=False)
    try:
        audit = await store.verify_audit()
        for blob_id in blob_ids:
            async for _chunk in store.blobs.open(blob_id):
                pass  # each chunk decrypts and authenticates, or raises CorruptRecord
        version = await store.schema_version()
    finally:
        await store.close()
    return VerifyReport(
        version, audit.entries, audit.checkpoints, audit.head_hash, len(blob_ids), cases, messages
    )


async def verify_backup(backup: Path, config: StorageConfig) -> VerifyReport:
    """Check the backup in ``backup`` fully: checksums, then open a scratch copy with the
    master key ``config`` names (its ``master_key_env`` or ``master_key_file``), SQLite's
    integrity check, the audit chain, and every blob through its decryption. Raises
    :class:`BackupError`, :class:`~storage.AtRestKeyError` (wrong or missing master key) or
    :class:`~storage.AuditIntegrityError`."""
    manifest = _read_manifest(backup)
    _check_files(backup, manifest)
    key_config = _key_config(config)
    with _linked_copy(backup, manifest) as scratch:
        return await _open_and_check(scratch, key_config)


async def restore_sqlite(backup: Path, config: StorageConfig) -> VerifyReport:
    """Verify ``backup``, then restore it into ``config.data_dir``, which must hold no
    database. The master key must be available as ``config`` says (environment, or the key
    file, which the operator puts in place from where it is kept); it is never created here.
    """
    from storage.keys import load_master_keys

    manifest = _read_manifest(backup)
    _check_files(backup, manifest)
    target = config.data_dir
    if config.sqlite_path.exists() or (target / "blobs").exists():
        raise BackupError("the data folder holds a database or blobs already; move it away first")
    key_config = _key_config(config)
    load_master_keys(key_config)  # a malformed or unsafe key file fails here, before any copy
    with _linked_copy(backup, manifest) as scratch:
        report = await _open_and_check(scratch, key_config)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    _copy(backup / DB_NAME, config.sqlite_path)
    for blob_id in manifest.blobs:
        _copy(backup / _blob_rel(blob_id), target / _blob_rel(blob_id))
    await _sign_everyone_out(dataclasses.replace(key_config, data_dir=target))
    return report


async def _sign_everyone_out(config: StorageConfig) -> int:
    """Revoke every session of the restored database (audited ``session.revoke_all``).

    Clients that were connected before the disaster may have seen messages acknowledged
    after the backup point, which the restored database no longer has; the next messages
    get those sequence numbers again, and such a client would drop them as duplicates.
    Signing everyone out makes every client start afresh (``docs/operations.md``,
    "Restoring": a clinical safety control, ``docs/clinical-safety/hazard-log.yaml``)."""
    from storage import open_storage
    from storage.records import AuditEvent

    now = _dt.datetime.now(_dt.UTC)
    store = await open_storage(config, migrate=False)
    try:
        revoked = 0
        for user in await store.list_users():
            revoked += await store.revoke_user_sessions(user.user_id, now)
        await store.append_audit(
            AuditEvent("session.revoke_all", now, None, None, "restore", str(revoked).encode())
        )
    finally:
        await store.close()
    return revoked
