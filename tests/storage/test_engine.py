"""Engine plumbing: protocol conformance, migrations, health, dialect helpers, errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from storage import (
    BlobStore,
    Conflict,
    InvalidArgument,
    NotFound,
    Storage,
    StorageConfig,
    Unavailable,
    open_storage,
)
from storage._engine import postgres_error, sqlite_error, to_dollar
from storage.sqlite import SqliteStorage
from tests.storage.conftest import Raw


async def test_backends_implement_the_protocols(store: Storage) -> None:
    assert isinstance(store, Storage)
    assert isinstance(store.blobs, BlobStore)
    await store.check_health()


LATEST_MIGRATION = 10  # storage/migrations/{sqlite,postgres}/0010_*.sql
#: Every version up to the latest. Numbers are reserved per branch (0009 another's); until
#: each lands there are gaps.
MIGRATION_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 10]


def test_both_backends_have_the_same_migrations() -> None:
    root = Path(__file__).parents[2] / "storage" / "migrations"
    names = {b: sorted(p.name for p in (root / b).glob("*.sql")) for b in ("sqlite", "postgres")}
    assert names["sqlite"] == names["postgres"]
    assert [int(n[:4]) for n in names["sqlite"]] == MIGRATION_VERSIONS


async def test_migrations_are_applied_once(make_config: Callable[..., StorageConfig]) -> None:
    for _ in range(2):
        s = await open_storage(make_config())
        try:
            assert await s.schema_version() == LATEST_MIGRATION
        finally:
            await s.close()


async def test_open_without_migrating_an_empty_database_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(Unavailable):
        await open_storage(
            StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"),
            migrate=False,
        )


async def test_unreachable_postgres_is_unavailable(tmp_path: Path) -> None:
    cfg = StorageConfig(
        backend="postgres",
        data_dir=tmp_path,
        postgres_dsn="postgresql://nobody@127.0.0.1:1/none",
        master_key_env="DERMLINE_TEST_UNSET",
    )
    with pytest.raises(Unavailable):
        await open_storage(cfg)


async def test_bad_configs(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        await open_storage(
            StorageConfig(backend="postgres", data_dir=tmp_path, master_key_env="X_UNSET")
        )
    with pytest.raises(InvalidArgument):
        await open_storage(
            StorageConfig(
                backend="postgres",
                data_dir=tmp_path,
                postgres_dsn="postgresql://x@127.0.0.1:1/x",
                postgres_schema="Bad-Schema;",
                master_key_env="X_UNSET",
            )
        )


async def test_a_unit_that_suspends_is_refused(tmp_path: Path) -> None:
    s = await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    assert isinstance(s, SqliteStorage)
    try:

        async def suspends(txn):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0)

        with pytest.raises(RuntimeError, match="suspended"):
            await s._write(suspends)
        await s.check_health()  # the writer survived
    finally:
        await s.close()


def test_to_dollar() -> None:
    assert to_dollar("SELECT ? , ?") == "SELECT $1 , $2"
    assert to_dollar("SELECT 1") == "SELECT 1"


def test_error_translation_hides_driver_messages() -> None:
    e = sqlite_error(sqlite3.IntegrityError("UNIQUE constraint failed: users.secret-value"))
    assert isinstance(e, Conflict) and "secret" not in str(e)
    assert isinstance(
        sqlite_error(sqlite3.IntegrityError("FOREIGN KEY constraint failed")), NotFound
    )
    assert isinstance(sqlite_error(sqlite3.OperationalError("disk I/O error")), Unavailable)
    assert isinstance(postgres_error(asyncpg.UniqueViolationError("x")), Conflict)
    assert isinstance(postgres_error(asyncpg.ForeignKeyViolationError("x")), NotFound)
    assert isinstance(postgres_error(OSError("refused")), Unavailable)


async def test_a_migration_that_lands_late_is_applied(
    make_config: Callable[..., StorageConfig], raw: Raw
) -> None:
    """Migration numbers are reserved per branch and can land out of order: a database that
    already has 6, 7 and 8 but not 5 (5 merged later) gets 5 at the next start, and the
    others are not run again."""
    s = await open_storage(make_config())
    await s.close()
    # undo 0005 as if it had not existed when this database was migrated
    for table in (
        "records_key_approvals",
        "records_key_pending",
        "org_key_wraps",
        "org_keys",
        "transparency_heads",
        "transparency_nodes",
        "transparency_entries",
        "transparency_state",
    ):
        await raw(f"DROP TABLE {table}")
    for table, column in (
        ("organisations", "records_key_seq"),
        ("invites", "statement_sealed"),
        ("invites", "handover_sealed"),
    ):
        await raw(f"ALTER TABLE {table} DROP COLUMN {column}")
    await raw("DELETE FROM server_keys WHERE name = 'transparency_log_key'")
    await raw("DELETE FROM schema_migrations WHERE version = 5")
    s = await open_storage(make_config())
    try:
        assert await s.schema_version() == LATEST_MIGRATION
        assert await s.log_size() == 0
        assert sorted(int(r[0]) for r in await raw("SELECT version FROM schema_migrations")) == (
            MIGRATION_VERSIONS
        )
    finally:
        await s.close()
