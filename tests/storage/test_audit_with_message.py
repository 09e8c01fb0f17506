"""A message's audit entry commits in the message's own transaction (issue 13, item 1: one
durable commit per message), and on PostgreSQL without the chain-head row lock (no global
lock per send): pending entries join the chain in batches, and the chain stays tamper
evident (``docs/storage.md`` section 9, "Entries written with a message")."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import asyncpg
import pytest

from storage import AuditEvent, AuditIntegrityError, Storage, StorageConfig, open_storage
from tests.storage.conftest import PG_DSN, T0, Raw, World, make_case, make_world


def posted(case_id: str, who: str, i: int = 0) -> AuditEvent:
    return AuditEvent(
        "message.post",
        T0 + dt.timedelta(seconds=i),
        actor_id=who,
        target=case_id,
        client_address="198.51.100.7",
    )


async def test_entry_commits_with_the_message_once(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "case-1")
    first = await store.append_message(
        "case-1", "m-1", World.gp, b"env-1", T0, audit=posted("case-1", World.gp)
    )
    retry = await store.append_message(
        "case-1", "m-1", World.gp, b"env-1", T0, audit=posted("case-1", World.gp)
    )
    assert first.created and not retry.created
    second = await store.append_message(
        "case-1", "m-2", World.gp, b"env-2", T0, audit=posted("case-1", World.gp, 1)
    )
    assert second.message.seq == 2
    entries = await store.list_audit()
    # One entry per created message; the retry recorded nothing.
    assert [(e.event.action, e.event.target, e.event.occurred_at) for e in entries] == [
        ("message.post", "case-1", T0),
        ("message.post", "case-1", T0 + dt.timedelta(seconds=1)),
    ]
    assert entries[0].event.client_address == "198.51.100.7"
    ok = await store.verify_audit()
    assert (ok.entries, ok.head_seq) == (2, 2)


async def test_a_refused_append_records_no_entry(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "case-1")
    await store.append_message("case-1", "m-1", World.gp, b"e", T0)
    with pytest.raises(Exception, match="message_id_taken"):
        await store.append_message(
            "case-1", "m-1", World.derm, b"e", T0, audit=posted("case-1", World.derm)
        )
    assert await store.list_audit() == []


async def test_edited_message_entry_is_detected(sql_store: Storage, raw: Raw) -> None:
    await make_world(sql_store)
    await make_case(sql_store, "case-1")
    for i in range(3):
        await sql_store.append_message(
            "case-1", f"m-{i}", World.gp, b"e", T0, audit=posted("case-1", World.gp, i)
        )
    await sql_store.checkpoint_audit(T0)
    [(blob,)] = await raw("SELECT content_sealed FROM audit_log WHERE seq = 2")
    await raw(
        "UPDATE audit_log SET content_sealed = ? WHERE seq = 2",
        bytes(blob[:-1]) + bytes([blob[-1] ^ 1]),
    )
    with pytest.raises(AuditIntegrityError, match=r"entry 2: undecryptable$"):
        await sql_store.verify_audit()


if PG_DSN:  # PostgreSQL only: what the chain-head lock would otherwise serialise

    async def _hold_head(cfg: StorageConfig) -> tuple[asyncpg.Connection, object]:
        """Another transaction holding the chain head's row lock (as a slow audit append on
        another node would)."""
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": cfg.postgres_schema})
        txn = conn.transaction()
        await txn.start()
        await conn.execute("SELECT head_sealed FROM audit_head WHERE id = 1 FOR UPDATE")
        return conn, txn

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_sends_do_not_wait_for_the_chain_head(
        make_config: Callable[..., StorageConfig], raw: Raw
    ) -> None:
        store = await open_storage(make_config())
        try:
            await make_world(store)
            await make_case(store, "case-1")
            conn, txn = await _hold_head(make_config())
            try:
                # Each send commits (message and pending entry) although the head is
                # locked: a send takes no global lock.
                async with asyncio.timeout(10):
                    for i in range(5):
                        r = await store.append_message(
                            "case-1",
                            f"m-{i}",
                            World.gp,
                            b"e",
                            T0,
                            audit=posted("case-1", World.gp, i),
                        )
                        assert r.created and r.message.seq == i + 1
                pending = await raw("SELECT count(*) FROM audit_pending")
                assert pending[0][0] == 5
            finally:
                await txn.rollback()  # type: ignore[attr-defined]
                await conn.close()
            # Released: the chainer (or this read) links them, in the order sent.
            entries = await store.list_audit()
            assert [e.event.occurred_at for e in entries] == [
                T0 + dt.timedelta(seconds=i) for i in range(5)
            ]
            assert (await raw("SELECT count(*) FROM audit_pending"))[0][0] == 0
            cp = await store.checkpoint_audit(T0)
            assert cp.seq == 5
            assert (await store.verify_audit()).entries == 5
        finally:
            await store.close()

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_pending_entries_survive_a_restart_and_checkpoints_cover_them(
        make_config: Callable[..., StorageConfig], raw: Raw
    ) -> None:
        store = await open_storage(make_config())
        await make_world(store)
        await make_case(store, "case-1")
        # The process dies after its sends committed and before its chainer ran.
        store._kick_chainer = lambda: None  # type: ignore[attr-defined]
        for i in range(3):
            await store.append_message(
                "case-1", f"m-{i}", World.gp, b"e", T0, audit=posted("case-1", World.gp, i)
            )
        await store.close()
        assert (await raw("SELECT count(*) FROM audit_pending"))[0][0] == 3
        again = await open_storage(make_config())
        try:
            # The next start chains them before anything else.
            assert (await raw("SELECT count(*) FROM audit_pending"))[0][0] == 0
            assert len(await again.list_audit()) == 3
            conn, txn = await _hold_head(make_config())
            try:
                await again.append_message(
                    "case-1", "m-9", World.gp, b"e", T0, audit=posted("case-1", World.gp, 9)
                )
            finally:
                await txn.rollback()  # type: ignore[attr-defined]
                await conn.close()
            # A checkpoint covers what was committed before it, pending or not.
            assert (await again.checkpoint_audit(T0)).seq == 4
        finally:
            await again.close()

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_an_edited_pending_entry_is_detected(
        make_config: Callable[..., StorageConfig], raw: Raw
    ) -> None:
        store = await open_storage(make_config())
        try:
            await make_world(store)
            await make_case(store, "case-1")
            await store.append_message(
                "case-1", "m-0", World.gp, b"e", T0, audit=posted("case-1", World.gp)
            )
            conn, txn = await _hold_head(make_config())
            try:
                await store.append_message(
                    "case-1", "m-1", World.gp, b"e", T0, audit=posted("case-1", World.gp, 1)
                )
                [(pid, blob)] = await raw("SELECT pending_id, content_sealed FROM audit_pending")
                await raw(
                    "UPDATE audit_pending SET content_sealed = ? WHERE pending_id = ?",
                    bytes(blob[:-1]) + bytes([blob[-1] ^ 1]),
                    pid,
                )
            finally:
                await txn.rollback()  # type: ignore[attr-defined]
                await conn.close()
            # The edited entry never joins the chain, and verify names where it belonged.
            with pytest.raises(AuditIntegrityError, match=r"entry 2: undecryptable$"):
                await store.verify_audit()
            assert len(await store.list_audit()) == 1
        finally:
            await store.close()


if PG_DSN:

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_two_nodes_sending_at_once_keep_one_intact_chain(
        make_config: Callable[..., StorageConfig], raw: Raw
    ) -> None:
        """Two processes' stores on one database (two nodes), many sends at once on several
        cases, each with its entry, and ordinary audit appends in between: every entry is
        chained exactly once, the chain verifies, and a checkpoint covers it all."""
        a = await open_storage(make_config())
        b = await open_storage(make_config())
        try:
            await make_world(a)
            for c in range(4):
                await make_case(a, f"case-{c}")

            async def send(store: Storage, i: int) -> None:
                case = f"case-{i % 4}"
                r = await store.append_message(
                    case, f"m-{i}", World.gp, b"e", T0, audit=posted(case, World.gp, i)
                )
                assert r.created

            async def other(store: Storage, i: int) -> None:
                await store.append_audit(
                    AuditEvent("case.view", T0, actor_id=World.derm, target=f"case-{i % 4}")
                )

            jobs = [send(a if i % 2 else b, i) for i in range(120)]
            jobs += [other(b if i % 2 else a, i) for i in range(20)]
            await asyncio.gather(*jobs)
            entries = await a.list_audit(limit=1000)
            posts = sorted(e.event.occurred_at for e in entries if e.event.action == "message.post")
            assert posts == sorted(T0 + dt.timedelta(seconds=i) for i in range(120))
            assert sum(e.event.action == "case.view" for e in entries) == 20
            assert [e.seq for e in entries] == list(range(1, 141))
            assert (await raw("SELECT count(*) FROM audit_pending"))[0][0] == 0
            assert (await b.checkpoint_audit(T0)).seq == 140
            ok = await a.verify_audit()
            assert (ok.entries, ok.checkpoints) == (140, 1)
        finally:
            await a.close()
            await b.close()
