"""Configuration of the storage layer, built by the server's settings object.

The server's single typed settings object (DESIGN.md section 5) builds one
:class:`StorageConfig` and passes it to :func:`storage.open_storage`; nothing here reads the
environment except :func:`storage.keys.load_master_key`, and only when told to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["SQLITE_FILE", "StorageConfig"]

#: The SQLite database's file name inside ``data_dir`` (the one name: the server's settings,
#: the engine and the backups all use it through :attr:`StorageConfig.sqlite_path`).
SQLITE_FILE = "dermline.sqlite3"

#: Default cap of one blob (a photo): 25 MiB of client ciphertext.
DEFAULT_MAX_BLOB_SIZE = 25 * 1024 * 1024


@dataclass(frozen=True)
class StorageConfig:
    """Where and how to store.

    ``backend``            ``"sqlite"`` (embedded default) or ``"postgres"``
    ``data_dir``           folder for the SQLite file, the blob folder and the key file
    ``postgres_dsn``       asyncpg DSN when ``backend == "postgres"``
    ``postgres_schema``    schema to use (tests use a fresh one per test)
    ``master_key_file``    default ``data_dir / "master.key"``; created 0600 on first start
    ``master_key_env``     name of the environment variable that may hold the base64 master
                           key (it wins over the file when set)
    ``blob_dir``           default ``data_dir / "blobs"``
    ``max_blob_size``      default cap for :meth:`BlobStore.put` callers
    ``sqlite_readers``     number of SQLite reader connections
    ``postgres_pool_size`` asyncpg pool maximum size
    ``insecure_disable_at_rest_encryption``
                           ONLY for the overhead benchmark (``bench/bench_storage.py``):
                           stores values without at-rest encryption. Never set by the server.
    """

    backend: Literal["sqlite", "postgres"] = "sqlite"
    data_dir: Path = Path("var")
    postgres_dsn: str | None = field(default=None, repr=False)  # may hold a password
    postgres_schema: str = "public"
    master_key_file: Path | None = None
    master_key_env: str = "DERMLINE_MASTER_KEY"
    blob_dir: Path | None = None
    max_blob_size: int = DEFAULT_MAX_BLOB_SIZE
    sqlite_readers: int = 4
    postgres_pool_size: int = 10
    insecure_disable_at_rest_encryption: bool = field(default=False, repr=True)

    @property
    def sqlite_path(self) -> Path:
        """The SQLite database file."""
        return self.data_dir / SQLITE_FILE

    @property
    def resolved_master_key_file(self) -> Path:
        """The key file path (explicit or inside ``data_dir``)."""
        return self.master_key_file or (self.data_dir / "master.key")

    @property
    def resolved_blob_dir(self) -> Path:
        """The blob folder (explicit or inside ``data_dir``)."""
        return self.blob_dir or (self.data_dir / "blobs")
