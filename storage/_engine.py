"""What differs between the backends, in one place (after Synapse ``storage/engines``).

Transaction functions (``*_txn`` in :mod:`storage.sql`) are written once, against the small
:class:`Txn` interface, with ``?`` placeholders. Each engine adapts them:

============================  ============================  =================================
                              SQLite (sqlite3 threads)      PostgreSQL (asyncpg)
============================  ============================  =================================
placeholders                  ``?``                         ``$1, $2, ...`` (rewritten here)
binary type                   BLOB                          BYTEA (migrations per backend)
row locks                     none needed: one writer       ``SELECT ... FOR UPDATE``
write concurrency             one writer, group commit      pool; each unit its own txn,
                              (SAVEPOINT per unit)          retried on serialization failure
errors -> storage.errors      :func:`sqlite_error`          :func:`postgres_error`
message append                statements in the writer      server-side function (one trip)
============================  ============================  =================================
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

import asyncpg

from storage.errors import Conflict, InvalidArgument, NotFound, StorageError, Unavailable

__all__ = ["Dialect", "Row", "Txn", "TxnFn", "postgres_error", "sqlite_error", "to_dollar"]

Row = Sequence[Any]
T = TypeVar("T")


class Dialect:
    """Backend-specific SQL fragments."""

    def __init__(
        self, name: str, *, for_update: str, server_side_append: bool, key_lock: str = ""
    ) -> None:
        self.name = name
        #: statement that serialises data-key creation across processes inside a transaction
        #: ("" where the single writer with BEGIN IMMEDIATE already does)
        self.key_lock = key_lock
        #: suffix that locks the selected rows until commit ("" where one writer suffices)
        self.for_update = for_update
        #: the message append runs as the server-side function of
        #: ``migrations/postgres/0002_append_message.sql`` (round trips cost here); otherwise
        #: as statements in the single writer (``storage.sql.thread.append_txn``). The same
        #: split holds for a message's audit entry: written to ``audit_pending`` in the
        #: message's transaction and chained in batches (PostgreSQL: no chain-head lock per
        #: send), or chained inline by the single writer (``storage.sql.audit``)
        self.server_side_append = server_side_append


SQLITE = Dialect("sqlite", for_update="", server_side_append=False)
#: pg_advisory_xact_lock key: "dkey" (data keys); migrations use "derm" (postgres.py)
POSTGRES = Dialect(
    "postgres",
    for_update=" FOR UPDATE",
    server_side_append=True,
    key_lock="SELECT pg_advisory_xact_lock(1684759929)",
)


class Txn(Protocol):
    """One open transaction (or, for reads, one connection)."""

    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> None:
        """Run a statement (use ``RETURNING`` and :meth:`fetchall` to count rows)."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per parameter row (bulk loads)."""
        ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        """Run a query; return its first row or None."""
        ...

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; return all rows."""
        ...


TxnFn = Callable[[Txn], Coroutine[Any, Any, T]]


@functools.lru_cache(maxsize=512)
def to_dollar(sql: str) -> str:
    """Rewrite ``?`` placeholders as ``$n`` for asyncpg. Our SQL never has ``?`` inside a
    string literal (checked by the contract tests running every statement on both)."""
    parts = sql.split("?")
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}{part}")
    return "".join(out)


def sqlite_error(exc: sqlite3.Error) -> StorageError:
    """Translate a sqlite3 exception into a typed storage error (never leaks the driver's
    message, which may quote values)."""
    if isinstance(exc, sqlite3.IntegrityError):
        # The driver's text is only inspected for its constraint kind, never passed on.
        text = str(exc)
        if "FOREIGN KEY" in text:
            return NotFound("referenced record")
        if "NOT NULL" in text or "CHECK" in text:
            return InvalidArgument("missing or invalid value")
        return Conflict("duplicate")
    return Unavailable("database error")


def postgres_error(exc: BaseException) -> StorageError:
    """Translate an asyncpg (or connection) exception into a typed storage error."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict("duplicate")
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return NotFound("referenced record")
    if isinstance(exc, asyncpg.NotNullViolationError | asyncpg.CheckViolationError):
        return InvalidArgument("missing or invalid value")
    if isinstance(exc, asyncpg.exceptions._base.DataError):
        # client side: a parameter asyncpg cannot encode (wrong type, out of range)
        return InvalidArgument("invalid value")
    if isinstance(exc, asyncpg.NoDataFoundError):
        # raised by our server-side functions, whose message is a record kind (e.g. "case")
        what = str(exc)
        return NotFound(what if what in {"case"} else "record")
    return Unavailable("database error")


def is_retryable_postgres(exc: BaseException) -> bool:
    """Serialization failures and deadlocks: rerun the whole unit."""
    return isinstance(exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError)
