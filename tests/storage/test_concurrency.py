"""Concurrency properties of the write path (issue 3, items 2 and 5; DESIGN.md sections 6-7),
on every backend unless marked:

* a read issued right after an acknowledged write sees it (no stale reader snapshot);
* a caller cancelled while its unit waits does not disturb the batch: the others commit,
  sequence numbers stay gap-free, a retry of the cancelled id is idempotent;
* close() drains: every unit queued before it is settled, every acknowledged write is
  there after a restart, reads admitted before it finish;
* verify_audit beside live appends reports no false tampering;
* several processes / nodes starting at once on a fresh database all come up.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage import (
    AuditEvent,
    Organisation,
    OrgKind,
    Storage,
    StorageConfig,
    Unavailable,
    open_storage,
)
from storage.keys import load_master_keys
from storage.sqlite import MIGRATIONS, SqliteStorage, migrate_sqlite_sync
from tests.storage.conftest import T0, World, fresh_key, make_case, make_world


async def test_a_read_right_after_an_acknowledged_write_sees_it(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "c1")

    async def send_then_read(i: int) -> None:
        result = await store.append_message("c1", f"m{i}", World.gp, b"x%d" % i, T0)
        # acknowledged: any read from now on must see it
        seq = result.message.seq
        [got] = await store.list_messages("c1", after_seq=seq - 1, limit=1)
        assert (got.seq, got.client_msg_id, got.envelope) == (seq, f"m{i}", b"x%d" % i)
        case = await store.get_case("c1")
        assert case.last_seq >= result.message.seq

    await asyncio.gather(*(send_then_read(i) for i in range(200)))
    assert [m.seq for m in await store.list_messages("c1")] == list(range(1, 201))


async def test_cancelled_callers_do_not_corrupt_the_batch(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "c1")
    tasks = [
        asyncio.ensure_future(store.append_message("c1", f"m{i}", World.gp, b"x", T0))
        for i in range(120)
    ]
    await asyncio.sleep(0)  # let every task queue its unit (or start its transaction)
    for t in tasks[::3]:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    kept = {i for i, r in enumerate(results) if not isinstance(r, BaseException)}
    assert all(
        isinstance(r, asyncio.CancelledError) for r in results if isinstance(r, BaseException)
    )
    assert kept >= {i for i in range(120) if i % 3}
    stored = await store.list_messages("c1")
    # gap-free and unique, whether or not the cancelled units had run
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    ids = [m.client_msg_id for m in stored]
    assert len(set(ids)) == len(ids) and {f"m{i}" for i in kept} <= set(ids)
    # the cancelled clients retry: idempotent, and the sequence stays gap-free
    retries = await asyncio.gather(
        *(store.append_message("c1", f"m{i}", World.gp, b"x", T0) for i in range(0, 120, 3))
    )
    assert len({r.message.seq for r in retries}) == 40
    final = await store.list_messages("c1")
    assert [m.seq for m in final] == list(range(1, 121))


async def test_close_settles_every_queued_write_and_loses_no_acknowledged_one(
    make_config: Callable[..., StorageConfig],
) -> None:
    cfg = make_config()
    store = await open_storage(cfg)
    await make_world(store)
    await make_case(store, "c1")
    tasks = [
        asyncio.ensure_future(store.append_message("c1", f"m{i}", World.gp, b"x", T0))
        for i in range(300)
    ]
    await asyncio.sleep(0)
    await store.close()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # nobody is left hanging, and nothing but Unavailable may be refused
    acked = [r for r in results if not isinstance(r, BaseException)]
    assert all(isinstance(r, Unavailable) for r in results if isinstance(r, BaseException))
    if cfg.backend == "sqlite":
        assert len(acked) == 300  # all were queued before close(): all were committed
    store = await open_storage(cfg)
    try:
        stored = {m.client_msg_id: m.seq for m in await store.list_messages("c1")}
        for r in acked:
            assert stored[r.message.client_msg_id] == r.message.seq
    finally:
        await store.close()


async def test_close_lets_admitted_reads_finish(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "c1")
    for i in range(20):
        await store.append_message("c1", f"m{i}", World.gp, b"x", T0)
    reads = [asyncio.ensure_future(store.list_messages("c1")) for _ in range(30)]
    await asyncio.sleep(0)
    await store.close()
    results = await asyncio.gather(*reads, return_exceptions=True)
    for r in results:
        assert isinstance(r, list | Unavailable), r
        if isinstance(r, list):
            assert len(r) == 20
    with pytest.raises(Unavailable):
        await store.list_messages("c1")


async def test_close_after_the_writer_died_still_releases_everything(tmp_path: Path) -> None:
    s = await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    assert isinstance(s, SqliteStorage)

    def explode(fns: Any) -> Any:
        raise MemoryError  # the writer thread itself fails, not one unit

    s._run_batch_sync = explode  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        await s.reset_auth_failures("nobody")
    with pytest.raises(Unavailable):  # the store refuses further work
        await s.reset_auth_failures("nobody")
    await s.close()  # does not re-raise the writer's death
    assert s._all_readers == [] and s._writer is None


async def test_verify_audit_beside_live_appends_reports_no_tampering(store: Storage) -> None:
    for i in range(50):
        await store.append_audit(AuditEvent("login.ok", T0, actor_id=f"u{i}"))
    await store.checkpoint_audit(T0)
    stop = asyncio.Event()

    async def appender() -> int:
        n = 0
        while not stop.is_set():
            await store.append_audit(AuditEvent("case.view", T0, actor_id="u", target="c"))
            n += 1
            if n % 10 == 0:
                await store.checkpoint_audit(T0)
        return n

    workers = [asyncio.ensure_future(appender()) for _ in range(4)]
    try:
        for _ in range(15):
            result = await store.verify_audit()
            assert result.entries >= 50
    finally:
        stop.set()
        appended = await asyncio.gather(*workers)
    assert sum(appended) > 0
    assert (await store.verify_audit()).entries == 50 + sum(appended)


class _StaleVersionConnection(sqlite3.Connection):
    """Answers the first schema-version query with 0, as if another process migrated the file
    between our version read and our BEGIN IMMEDIATE."""

    stale = True

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if self.stale and sql.startswith("SELECT COALESCE(MAX(version)"):
            self.stale = False
            return super().execute("SELECT 0")
        return super().execute(sql, *args)


def test_sqlite_migration_raced_by_another_process_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = sqlite3.connect(path, isolation_level=None)
    version = migrate_sqlite_sync(first)
    first.close()
    late = sqlite3.connect(path, isolation_level=None, factory=_StaleVersionConnection)
    try:
        assert migrate_sqlite_sync(late) == version
        assert not late.in_transaction
        rows = late.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        files = sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
        assert [r[0] for r in rows] == [int(f.name[:4]) for f in files]
    finally:
        late.close()


def test_sqlite_migration_failure_is_still_reported(tmp_path: Path) -> None:
    """The race tolerance must not hide a real failure: a broken schema still raises."""
    path = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE data_keys (x INTEGER)")  # in the way of migration 0001
        with pytest.raises(sqlite3.Error):
            migrate_sqlite_sync(conn)
        assert not conn.in_transaction
    finally:
        conn.close()


async def test_two_sqlite_processes_start_on_a_new_file_at_once(tmp_path: Path) -> None:
    """Two processes (here: two threads, each with its own event loop and storage) open the
    same fresh database at the same moment; both must come up with the same keys."""
    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET")
    load_master_keys(cfg)  # the key file exists before either starts (as in deployment)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def node() -> None:
        async def run() -> None:
            barrier.wait()
            s = await open_storage(cfg)
            try:
                await s.check_health()
            finally:
                await s.close()

        try:
            asyncio.run(run())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=node) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = await open_storage(cfg)
    try:
        await s.create_organisation(Organisation("o1", OrgKind.PRACTICE, "n", None, T0))
        assert (await s.get_organisation("o1")).name == "n"
    finally:
        await s.close()


async def test_several_nodes_start_on_a_fresh_database_at_once(
    make_config: Callable[..., StorageConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several server processes (PostgreSQL: nodes behind a load balancer; SQLite: more than
    one process on one file) start together on an empty database: migrations run once and
    the data keys are created once (no duplicate key ids, one active key per purpose)."""
    monkeypatch.setenv("DERMLINE_TEST_NODES_KEY", fresh_key())
    cfg = make_config(master_key_env="DERMLINE_TEST_NODES_KEY")
    stores = await asyncio.gather(*(open_storage(cfg) for _ in range(4)))
    try:
        await stores[0].create_organisation(Organisation("o1", OrgKind.PRACTICE, "n", None, T0))
        for s in stores:  # every node opens what another sealed: one key set
            assert (await s.get_organisation("o1")).name == "n"
            assert await s.schema_version() == 7
    finally:
        for s in stores:
            await s.close()


async def test_concurrent_checkpoints_of_one_head_agree(store: Storage) -> None:
    for i in range(5):
        await store.append_audit(AuditEvent("login.ok", T0, actor_id=f"u{i}"))
    cps = await asyncio.gather(*(store.checkpoint_audit(T0) for _ in range(8)))
    assert len({(c.seq, c.entry_hash, c.signature) for c in cps}) == 1
    assert (await store.verify_audit()).checkpoints == 1


async def test_a_unit_that_ends_the_transaction_itself_is_not_acknowledged(
    tmp_path: Path,
) -> None:
    """Defence in depth for the group commit: if the batch's transaction is no longer open
    when the writer is about to COMMIT (SQLite may roll back a whole transaction by itself,
    e.g. on a full disk), nothing in the batch is acknowledged."""
    s = await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    assert isinstance(s, SqliteStorage)
    try:

        async def rogue(txn: Any) -> str:
            await txn.execute("ROLLBACK")
            return "done"

        with pytest.raises(Unavailable):
            await s._write(rogue)
        # the writer carries on
        await s.create_organisation(Organisation("o1", OrgKind.PRACTICE, "n", None, T0))
        assert (await s.get_organisation("o1")).name == "n"
    finally:
        await s.close()


async def test_rotation_batch_size_is_validated(store: Storage) -> None:
    from storage import InvalidArgument

    for bad in (0, -1, 2**63, 1.5, True):
        with pytest.raises(InvalidArgument):
            await store.rotate_keys(batch_size=bad)  # type: ignore[arg-type]
