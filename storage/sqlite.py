# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""SQLite backend: one writer thread with group commit, separate aiosqlite readers.

Rules of this module (DESIGN.md section 7; ``docs/storage.md``, "Group commit"):

* Pragmas: ``journal_mode=WAL`` (readers never block the writer), ``synchronous=FULL`` (the
  WAL is fsynced at every COMMIT, so an acknowledged write survives a crash or power cut),
  ``foreign_keys=ON``, ``busy_timeout`` on every connection.
* Exactly ONE writer connection, owned by one dedicated thread. Write units queue up; the
  writer task takes everything queued (up to ``max_batch``) and hands the batch to the
  writer thread in ONE hop, which runs ``BEGIN IMMEDIATE``, runs each unit inside its own
  ``SAVEPOINT`` (a failing unit is rolled back to its savepoint and gets its exception; the
  others are unaffected), then ``COMMIT`` - one fsync for the whole batch - and only then
  resolves the units' futures. No caller hears "done" before its data is durable.
* If COMMIT itself fails, every unit of the batch fails with :class:`Unavailable`; nothing was
  acknowledged, so nothing acknowledged is lost.
* Why a plain ``sqlite3`` connection in our own thread for the writer rather than aiosqlite
  (which the readers use): aiosqlite costs one thread hop per statement, five per message
  unit; driving the whole batch inside the thread (the units' ``*_txn`` coroutines never
  suspend there, see :func:`_drive`) costs one hop per batch. This took durable commits from
  about 2,500/s to the figures in ``docs/performance.md``.
* Readers are separate connections with ``query_only=ON``; WAL gives each statement (or each
  ``BEGIN``...``COMMIT`` snapshot) a consistent view of the last committed state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage._engine import SQLITE, Row, TxnFn, sqlite_error
from storage.errors import StorageError, Unavailable
from storage.sql import SqlStorage

__all__ = ["SqliteStorage", "connect_sqlite", "migrate_sqlite_sync"]

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations" / "sqlite"
BUSY_TIMEOUT_MS = 10_000
_MIGRATION_NAME = re.compile(r"^[0-9]{4}_[a-z0-9_]+$")
#: how long close() waits for reads in flight before closing their connections
_CLOSE_READ_TIMEOUT = 10.0


class _SqliteTxn:
    """The :class:`storage._engine.Txn` view of one aiosqlite connection."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute_fetchall(sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        rows = list(await self.conn.execute_fetchall(sql, args))
        return rows[0] if rows else None

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, args))


_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = FULL",
    # Deleted content is overwritten with zeros, so a disposed case's rows leave no bytes in
    # the file's free space (docs/storage.md, "Retention and disposal"). Deletes are rare.
    "PRAGMA secure_delete = ON",
)


async def connect_sqlite(path: Path, *, reader: bool = False) -> aiosqlite.Connection:
    """Open an aiosqlite connection with our pragmas (``isolation_level=None``: we issue
    BEGIN ourselves)."""
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    for pragma in _PRAGMAS:
        await conn.execute(pragma)
    if reader:
        await conn.execute("PRAGMA query_only = ON")
    return conn


def _enable_wal(conn: sqlite3.Connection) -> Any:
    """``PRAGMA journal_mode = WAL``, retried while another process holds the file.

    Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once
    (its busy handler is not consulted for this) when another connection is in the middle of
    the same switch: two processes starting on a new file together failed 1 time in 16
    (``tests/storage/test_concurrency.py``). Retried for up to the busy timeout, as any other
    lock would be waited for.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as exc:
            # The primary result code is the low byte of the extended one (SQLITE_BUSY_*).
            busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def migrate_sqlite_sync(conn: sqlite3.Connection) -> int:
    """Apply every ``migrations/sqlite/NNNN_*.sql`` not recorded yet, in order, each as one
    transaction together with its ``schema_migrations`` row. Returns the schema version.

    "Not recorded", not "newer than the newest": migration numbers are reserved per branch
    and can land out of order (0005 after 0008), and each migration only adds its own
    tables and columns, so one landing late is applied when it arrives."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
    )

    def applied() -> set[int]:
        return {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}

    done = applied()
    for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version = int(path.name[:4])
        if version in done:
            continue
        if not _MIGRATION_NAME.match(path.stem):
            # The name is spliced into the script below (executescript cannot bind
            # parameters): only our own plain file names are accepted.
            raise Unavailable("malformed migration file name")
        script = path.read_text(encoding="utf-8")
        # One script, one transaction: BEGIN ... the migration ... its record ... COMMIT.
        # (``executescript`` cannot run inside a transaction we opened ourselves: Python
        # 3.11 commits first. Hence the version check after a failure, below.)
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n;INSERT INTO schema_migrations (version, name,"
                f" applied_at) VALUES ({version}, '{path.stem}',"
                " CAST(strftime('%s','now') AS INTEGER) * 1000000);\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # Another process on the same file may have applied this version between our
            # read of the versions and our BEGIN IMMEDIATE: then its CREATE TABLE failed
            # here, and there is nothing left to do for this version.
            if version not in applied():
                raise
        done.add(version)
    return max(done, default=0)


@dataclass
class _Unit:
    fn: TxnFn[Any]
    future: asyncio.Future[Any]


class _ThreadTxn:
    """The :class:`storage._engine.Txn` view of the writer's own ``sqlite3`` connection.

    Its methods are coroutines that never suspend, so a whole write unit (an ``async``
    ``*_txn`` function) can be driven to completion inside the writer thread by
    :func:`_drive`: one thread hop per batch instead of one per statement.
    """

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        self.conn.execute(sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self.conn.execute(sql, args).fetchone()
        return row

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return list(self.conn.execute(sql, args).fetchall())


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (a unit over :class:`_ThreadTxn`) to its end."""
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise RuntimeError("a write unit suspended inside its transaction")


class SqliteStorage(SqlStorage):
    """The embedded backend."""

    dialect = SQLITE

    def __init__(self, path: Path, *, readers: int, max_batch: int = 512, **kw: Any) -> None:
        super().__init__(**kw)
        self.path = path
        self._n_readers = readers
        self._max_batch = max_batch
        # The single writer: one sqlite3 connection owned by one dedicated thread.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dermline-writer")
        self._writer: sqlite3.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._queue: asyncio.Queue[_Unit | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._close_started = False
        self._reads_in_flight = 0
        self._reads_done = asyncio.Event()
        self._reads_done.set()
        #: batches committed and units run (for tests and the benchmark)
        self.batches = 0
        self.units = 0

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _open_writer_sync(self, migrate: bool) -> None:
        conn = sqlite3.connect(
            str(self.path),
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        self._writer = conn
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        mode = _enable_wal(conn)
        if str(mode[0]).lower() != "wal":
            raise Unavailable("SQLite WAL mode unavailable")
        if migrate:
            migrate_sqlite_sync(conn)

    async def start(self, *, migrate: bool = True) -> None:
        """Create the file (0600), open the writer, migrate, open readers, start the
        writer task."""
        # New folders 0700: the WAL and SHM files appear next to the database.
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            await self._in_writer(self._open_writer_sync, migrate)
            for _ in range(self._n_readers):
                conn = await connect_sqlite(self.path, reader=True)
                self._all_readers.append(conn)
                self._readers.put_nowait(conn)
        except sqlite3.Error as exc:
            await self._close_connections()
            raise sqlite_error(exc) from None
        except BaseException:
            await self._close_connections()
            raise
        self._task = asyncio.get_running_loop().create_task(self._writer_loop())

    # ------------------------------------------------------------------ engine hooks

    async def _write(self, fn: TxnFn[T], *, single_statement: bool = False) -> T:
        if self._closed or self._task is None:
            raise Unavailable("storage is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Unit(fn, fut))
        return await fut

    async def _read(self, fn: TxnFn[T], *, snapshot: bool = False) -> T:
        if self._closed:
            raise Unavailable("storage is closed")
        # Counted from here (including the wait for a free reader) so that close() lets
        # every read that was admitted finish before it closes the connections.
        self._reads_in_flight += 1
        self._reads_done.clear()
        try:
            conn = await self._readers.get()
            txn = _SqliteTxn(conn)
            try:
                if snapshot:
                    await conn.execute("BEGIN")
                    try:
                        return await fn(txn)
                    finally:
                        await conn.execute("COMMIT")
                return await fn(txn)
            except sqlite3.Error as exc:
                raise sqlite_error(exc) from None
            except ValueError as exc:
                if isinstance(exc, StorageError):
                    raise
                # aiosqlite's "no active connection" (closed underneath us)
                raise Unavailable("database error") from None
            finally:
                self._readers.put_nowait(conn)
        finally:
            self._reads_in_flight -= 1
            if self._reads_in_flight == 0:
                self._reads_done.set()

    async def _writer_loop(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results = await self._in_writer(self._run_batch_sync, [u.fn for u in batch])
            except BaseException:  # the thread itself failed: nobody may hang on a future
                self._closed = True
                for unit in batch:
                    _settle(unit, None, Unavailable("database error"))
                while not self._queue.empty():
                    queued = self._queue.get_nowait()
                    if queued is not None:
                        _settle(queued, None, Unavailable("database error"))
                raise
            # Only now, after COMMIT (and its fsync) returned, does any caller learn its
            # write is done.
            for unit, (result, error) in zip(batch, results, strict=True):
                _settle(unit, result, error)
            if stop:
                return

    def _run_batch_sync(self, fns: list[TxnFn[Any]]) -> list[tuple[Any, BaseException | None]]:
        """Run one batch in the writer thread: BEGIN IMMEDIATE, a SAVEPOINT per unit, COMMIT.
        Returns each unit's (result, error)."""
        conn = self._writer
        assert conn is not None
        txn = _ThreadTxn(conn)
        failed = [(None, Unavailable("database error"))] * len(fns)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return list(failed)
        single = len(fns) == 1
        out: list[tuple[Any, BaseException | None]] = []
        for fn in fns:
            try:
                if not single:
                    conn.execute("SAVEPOINT unit")
                result = _drive(fn(txn))
                if not single:
                    conn.execute("RELEASE unit")
                out.append((result, None))
            except Exception as exc:  # the unit's own failure: roll back only that unit
                err: BaseException = sqlite_error(exc) if isinstance(exc, sqlite3.Error) else exc
                try:
                    if single:
                        conn.execute("ROLLBACK")
                        self.batches += 1
                        self.units += 1
                        return [(None, err)]
                    conn.execute("ROLLBACK TO unit")
                    conn.execute("RELEASE unit")
                except sqlite3.Error:
                    # Cannot isolate the failure: abandon the whole batch, acknowledge nothing.
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    return list(failed)
                out.append((None, err))
        if not conn.in_transaction:
            # SQLite rolled the whole transaction back by itself (e.g. SQLITE_FULL inside a
            # unit whose error was not ours to see): nothing of this batch is committed.
            return list(failed)
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return list(failed)
        self.batches += 1
        self.units += len(fns)
        return out

    def pending_writes(self) -> int:
        return self._queue.qsize()

    async def _release_disposed(self) -> None:
        """After a disposal: copy the WAL into the file and truncate it, so the frames that
        held the disposed rows are gone from the WAL too (the file's copies were zeroed by
        ``secure_delete``). Runs between the writer's batches (same thread)."""

        def checkpoint() -> None:
            assert self._writer is not None
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

        if self._closed or self._writer is None:
            raise Unavailable("storage is closed")
        try:
            await self._in_writer(checkpoint)
        except sqlite3.Error as exc:
            raise sqlite_error(exc) from None

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Stop accepting work, let the writer finish every unit queued before this call
        (their callers get their results: a clean shutdown acknowledges or fails each one,
        never drops it), let admitted reads finish, then close every connection."""
        # Not ``_closed``: the writer sets that itself when it dies, and the connections
        # must still be released then.
        if self._close_started:
            return
        self._close_started = True
        self._closed = True
        try:
            if self._task is not None:
                self._queue.put_nowait(None)
                # The writer settles every queued unit before it stops; if it died earlier
                # it already failed them (see _writer_loop). Its exception is not ours to
                # raise from close().
                with contextlib.suppress(Exception):
                    await self._task
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reads_done.wait(), _CLOSE_READ_TIMEOUT)
        finally:
            await self._close_connections()

    async def _close_connections(self) -> None:
        for conn in self._all_readers:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await conn.close()
        self._all_readers.clear()
        if self._writer is not None:
            writer = self._writer
            self._writer = None
            with contextlib.suppress(sqlite3.Error):
                await self._in_writer(writer.close)
        self._executor.shutdown(wait=True)


def _settle(unit: _Unit, result: Any, error: BaseException | None) -> None:
    if unit.future.done():  # the caller was cancelled; the write still happened (or not)
        return
    if error is None:
        unit.future.set_result(result)
    else:
        unit.future.set_exception(error)
