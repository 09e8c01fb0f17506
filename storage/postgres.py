# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""PostgreSQL backend (asyncpg): a connection pool, one transaction per write unit.

Rules of this module:

* Each write unit runs in its own ``READ COMMITTED`` transaction on a pooled connection;
  units that must serialise take a row lock first (``SELECT ... FOR UPDATE`` via
  ``Dialect.for_update``: the case row for message sequencing, the audit head for the hash
  chain, the invite row for acceptance).
* Serialization failures and deadlocks rerun the whole unit (a few times, with jitter);
  every other driver error becomes a typed :mod:`storage.errors` error.
* Group commit is PostgreSQL's own (``commit_delay`` / concurrent WAL flushes): many
  connections commit concurrently and share WAL fsyncs.
* ``search_path`` is set per pool to the configured schema, so tests can use a fresh schema
  each and drop it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from storage._engine import POSTGRES, Row, TxnFn, is_retryable_postgres, postgres_error, to_dollar
from storage.errors import InvalidArgument, StorageError, Unavailable
from storage.sql import SqlStorage

__all__ = ["PostgresStorage", "migrate_postgres"]

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations" / "postgres"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RETRIES = 8
_MIGRATION_LOCK = 0x6465726D  # "derm": advisory lock id that serialises migrations
_CLOSE_TIMEOUT = 10.0  # how long close() waits for operations in flight
#: everything asyncpg (or the socket under it) may raise; mapped by postgres_error()
_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions._base.InternalClientError,
    OSError,
)


class _PgTxn:
    """The :class:`storage._engine.Txn` view of one asyncpg connection."""

    dialect = POSTGRES

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(to_dollar(sql), *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.conn.executemany(to_dollar(sql), rows)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row = await self.conn.fetchrow(to_dollar(sql), *args)
        return None if row is None else tuple(row)

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return [tuple(r) for r in await self.conn.fetch(to_dollar(sql), *args)]


async def migrate_postgres(conn: asyncpg.Connection, schema: str) -> int:
    """Apply every ``migrations/postgres/NNNN_*.sql`` not recorded yet, in order, each in one
    transaction, under an advisory lock so that several starting nodes migrate once (not
    recorded rather than newer than the newest: see ``storage.sqlite.migrate_sqlite_sync``)."""
    if not _SCHEMA_RE.match(schema):  # spliced into SQL below (identifiers cannot be bound)
        raise InvalidArgument("malformed schema name")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
        rows = await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
        done = {int(r[0]) for r in rows}
        for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")):
            version = int(path.name[:4])
            if version in done:
                continue
            # pg_temp last: no temporary table may shadow ours (by default it comes first).
            await conn.execute(f'SET LOCAL search_path TO "{schema}", pg_temp')
            await conn.execute(path.read_text(encoding="utf-8"))
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (version, name, applied_at)'
                " VALUES ($1, $2, (extract(epoch from now()) * 1000000)::bigint)",
                version,
                path.stem,
            )
            done.add(version)
    return max(done, default=0)


class PostgresStorage(SqlStorage):
    """The scale-out backend."""

    dialect = POSTGRES

    def __init__(self, dsn: str, *, schema: str, pool_size: int, **kw: Any) -> None:
        super().__init__(**kw)
        if not _SCHEMA_RE.match(schema):
            raise InvalidArgument("malformed schema name")
        self._dsn = dsn
        self._schema = schema
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._closed = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def _track(self) -> Iterator[None]:
        """Count an admitted operation, so that close() lets it finish before closing the
        pool (closing a pool under a running query makes asyncpg raise internal errors)."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def start(self, *, migrate: bool = True) -> None:
        """Migrate (one connection, advisory lock), then open the pool."""
        try:
            conn = await asyncpg.connect(self._dsn)
            try:
                if migrate:
                    await migrate_postgres(conn, self._schema)
            finally:
                await conn.close()
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                # The schema only, then pg_temp (which otherwise is searched first for
                # tables); pg_catalog is always searched first for built-ins.
                server_settings={"search_path": f'"{self._schema}", pg_temp'},
            )
        except _DRIVER_ERRORS as exc:
            raise postgres_error(exc) from None

    def _require_pool(self) -> asyncpg.Pool:
        if self._closed or self._pool is None:
            raise Unavailable("storage is closed")
        return self._pool

    async def _write(self, fn: TxnFn[T], *, single_statement: bool = False) -> T:
        pool = self._require_pool()
        with self._track():
            return await self._write_tracked(pool, fn, single_statement)

    async def _write_tracked(self, pool: asyncpg.Pool, fn: TxnFn[T], single_statement: bool) -> T:
        for attempt in range(_RETRIES):
            try:
                async with pool.acquire() as conn:
                    if single_statement:
                        # One statement is its own transaction (autocommit): no BEGIN/COMMIT.
                        return await fn(_PgTxn(conn))
                    async with conn.transaction():
                        return await fn(_PgTxn(conn))
            except StorageError:
                raise
            except _DRIVER_ERRORS as exc:
                if is_retryable_postgres(exc) and attempt + 1 < _RETRIES:
                    await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                    continue
                raise postgres_error(exc) from None
        raise AssertionError("unreachable")

    async def _read(self, fn: TxnFn[T], *, snapshot: bool = False) -> T:
        pool = self._require_pool()
        with self._track():
            return await self._read_tracked(pool, fn, snapshot)

    async def _read_tracked(self, pool: asyncpg.Pool, fn: TxnFn[T], snapshot: bool) -> T:
        try:
            async with pool.acquire() as conn:
                if snapshot:
                    async with conn.transaction(isolation="repeatable_read", readonly=True):
                        return await fn(_PgTxn(conn))
                return await fn(_PgTxn(conn))
        except StorageError:
            raise
        except _DRIVER_ERRORS as exc:
            raise postgres_error(exc) from None

    async def close(self) -> None:
        """Refuse new work, let every admitted operation finish (its caller gets its result
        or a typed error), then close the pool."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), _CLOSE_TIMEOUT)
        if self._pool is not None:
            await self._pool.close()
