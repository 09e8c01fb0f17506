"""SQLite group commit (issue 3, item 2): many writers share one transaction and one fsync;
a failing unit is rolled back to its savepoint without poisoning the others."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage import Conflict, Membership, NotFound, Role, StorageConfig, Unavailable, open_storage
from storage.sqlite import SqliteStorage
from tests.storage.conftest import T0, make_case, make_world, new_user


@pytest.fixture
async def sqlite_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    assert isinstance(s, SqliteStorage)
    yield s
    await s.close()


async def test_pragmas(sqlite_store: SqliteStorage) -> None:
    async def probe(txn):  # type: ignore[no-untyped-def]
        return [
            (await txn.fetchone(f"PRAGMA {p}"))[0]
            for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        ]

    # synchronous=2 is FULL (https://sqlite.org/pragma.html#pragma_synchronous)
    assert await sqlite_store._write(probe) == ["wal", 2, 1, 10_000]
    assert (await sqlite_store._read(probe))[1:] == [2, 1, 10_000]


async def test_concurrent_writes_share_commits(sqlite_store: SqliteStorage) -> None:
    await make_world(sqlite_store)
    await make_case(sqlite_store, "c1")
    b0, u0 = sqlite_store.batches, sqlite_store.units
    await asyncio.gather(
        *(sqlite_store.append_message("c1", f"m{i}", "gp-1", b"x", T0) for i in range(300))
    )
    batches, units = sqlite_store.batches - b0, sqlite_store.units - u0
    assert units == 300
    assert batches < units / 5  # many units per COMMIT (and so per fsync)


async def test_failing_units_do_not_poison_the_batch(sqlite_store: SqliteStorage) -> None:
    await make_world(sqlite_store)
    await make_case(sqlite_store, "c1")

    async def bad_user(i: int) -> None:
        # Inserts the user row, then fails on the membership: must leave no user behind.
        await sqlite_store.create_user(new_user(f"bad-{i}"), [Membership("nope", Role.GP)])

    good = [sqlite_store.append_message("c1", f"g{i}", "gp-1", b"ok", T0) for i in range(50)]
    bad = [bad_user(i) for i in range(10)]
    dup = [sqlite_store.append_message("c1", f"g{i}", "derm-1", b"hijack", T0) for i in range(5)]
    ghost = [sqlite_store.append_message("ghost", f"x{i}", "gp-1", b"x", T0) for i in range(5)]
    results = await asyncio.gather(*good, *bad, *dup, *ghost, return_exceptions=True)
    goods, bads = results[:50], results[50:60]
    dups, ghosts = results[60:65], results[65:]
    assert not any(isinstance(r, BaseException) for r in goods)
    assert all(isinstance(r, NotFound) for r in bads)
    # a hijack attempt either lost (Conflict) or ran before its original (then it inserted)
    assert all(isinstance(r, Conflict) or not isinstance(r, BaseException) for r in dups)
    assert all(isinstance(r, NotFound) for r in ghosts)
    for i in range(10):
        with pytest.raises(NotFound):
            await sqlite_store.get_user(f"bad-{i}")
    msgs = await sqlite_store.list_messages("c1")
    assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1))
    assert len(msgs) == 50


async def test_unexpected_exception_in_a_unit_is_isolated(sqlite_store: SqliteStorage) -> None:
    await make_world(sqlite_store)

    async def boom(txn):  # type: ignore[no-untyped-def]
        await txn.execute("UPDATE users SET disabled = 1")
        raise RuntimeError("bug in a unit")

    async def fine(txn):  # type: ignore[no-untyped-def]
        return await txn.fetchone("SELECT COUNT(*) FROM users")

    r = await asyncio.gather(
        sqlite_store._write(fine),
        sqlite_store._write(boom),
        sqlite_store._write(fine),
        return_exceptions=True,
    )
    assert isinstance(r[1], RuntimeError)
    assert r[0] == (3,) and r[2] == (3,)
    assert not any(u.disabled for u in await sqlite_store.list_users())
    with pytest.raises(RuntimeError):  # alone in its batch: plain ROLLBACK path
        await sqlite_store._write(boom)
    assert not any(u.disabled for u in await sqlite_store.list_users())


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    await s.close()
    await s.close()  # idempotent
    with pytest.raises(Unavailable):
        await s.get_user("x")
    with pytest.raises(Unavailable):
        await s.reset_auth_failures("x")


class _FailingCommit:
    """Wraps the writer's sqlite3 connection; COMMIT fails (a full or failing disk)."""

    def __init__(self, conn: object) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: object) -> object:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


async def test_failed_commit_acknowledges_nothing(sqlite_store: SqliteStorage) -> None:
    await make_world(sqlite_store)
    await make_case(sqlite_store, "c1")
    real = sqlite_store._writer
    sqlite_store._writer = _FailingCommit(real)  # type: ignore[assignment]
    try:
        results = await asyncio.gather(
            *(sqlite_store.append_message("c1", f"m{i}", "gp-1", b"x", T0) for i in range(20)),
            return_exceptions=True,
        )
    finally:
        sqlite_store._writer = real
    assert all(isinstance(r, Unavailable) for r in results)
    assert await sqlite_store.list_messages("c1") == []
    # the writer recovers: the next batch commits
    assert (await sqlite_store.append_message("c1", "m0", "gp-1", b"x", T0)).message.seq == 1
