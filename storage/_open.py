"""Build a backend from a :class:`StorageConfig` (called by :func:`storage.open_storage`)."""

from __future__ import annotations

from storage.blobs import FileBlobStore
from storage.config import StorageConfig
from storage.errors import InvalidArgument
from storage.interface import Storage
from storage.keys import (
    FieldCipher,
    KeyRing,
    PlainFieldCipher,
    SealingFieldCipher,
    load_master_keys,
)
from storage.postgres import PostgresStorage
from storage.sqlite import SqliteStorage

__all__ = ["open_backend"]


async def open_backend(config: StorageConfig, *, migrate: bool = True) -> Storage:
    """Load keys, start the engine, migrate, load (or create) the data keys."""
    if config.backend not in ("sqlite", "postgres"):
        # The memory store (storage.memory) is never opened from a configuration: tests build
        # it directly, so no setting can make a deployment run on it.
        raise InvalidArgument("unknown storage backend")
    masters = load_master_keys(config)
    ring = KeyRing()
    cipher: FieldCipher = SealingFieldCipher(ring)
    if config.insecure_disable_at_rest_encryption:
        cipher = PlainFieldCipher()  # the overhead benchmark only (StorageConfig docstring)
    blobs = FileBlobStore(config.resolved_blob_dir, ring)
    store: SqliteStorage | PostgresStorage
    if config.backend == "sqlite":
        store = SqliteStorage(
            config.sqlite_path,
            readers=config.sqlite_readers,
            cipher=cipher,
            ring=ring,
            masters=masters,
            blobs=blobs,
        )
    elif config.backend == "postgres":
        if not config.postgres_dsn:
            raise InvalidArgument("postgres backend needs postgres_dsn")
        store = PostgresStorage(
            config.postgres_dsn,
            schema=config.postgres_schema,
            pool_size=config.postgres_pool_size,
            cipher=cipher,
            ring=ring,
            masters=masters,
            blobs=blobs,
        )
    else:
        raise AssertionError("unreachable")
    await store.start(migrate=migrate)
    try:
        await store._init_keys()
    except BaseException:
        await store.close()
        raise
    return store
