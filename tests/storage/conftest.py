"""Fixtures of the storage contract suite.

``store`` runs a test against every backend: the in-memory reference store, SQLite and,
when ``DERMLINE_TEST_POSTGRES_DSN`` is set (CI sets it), PostgreSQL in a fresh schema that is
dropped afterwards (after Synapse's ``SYNAPSE_POSTGRES``). Tests about what only SQL has (at-rest
encryption, tampering in the database, engines, migrations, durability) take ``sql_store``,
``make_config`` or ``backend`` instead, which are parametrised over the SQL backends only.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from storage import (
    CaseState,
    KeyRecipientKind,
    Membership,
    NewCase,
    NewUser,
    Organisation,
    OrgKind,
    Participant,
    Priority,
    Role,
    Storage,
    StorageConfig,
    WrappedCaseKey,
    open_storage,
)
from storage.memory import MemoryStorage

PG_DSN = os.environ.get("DERMLINE_TEST_POSTGRES_DSN")
SQL_BACKENDS = ["sqlite", "postgres"] if PG_DSN else ["sqlite"]
BACKENDS = ["memory", *SQL_BACKENDS]
T0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def fresh_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """An SQL backend."""
    return str(request.param)


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    assert PG_DSN is not None
    schema = f"t_{secrets.token_hex(6)}"
    yield schema
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def build_config(backend: str, data_dir: Path, schema: str, **kw: object) -> StorageConfig:
    base: dict[str, object] = {
        "backend": backend,
        "data_dir": data_dir,
        "postgres_dsn": PG_DSN,
        "postgres_schema": schema,
        "master_key_env": "DERMLINE_TEST_UNSET_MASTER_KEY",
    }
    base.update(kw)
    return StorageConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def make_config(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., StorageConfig]:
    """Build configs for this test's SQL backend (same data dir and schema each call)."""
    schema = request.getfixturevalue("pg_schema") if backend == "postgres" else "public"
    return lambda **kw: build_config(backend, tmp_path / "data", schema, **kw)


@pytest.fixture
async def sql_store(make_config: Callable[..., StorageConfig]) -> AsyncIterator[Storage]:
    """A store on this test's SQL backend."""
    s = await open_storage(make_config())
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(params=BACKENDS)
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StorageConfig | None:
    """The configuration of each backend in turn (None: the memory store, built directly)."""
    name = str(request.param)
    if name == "memory":
        return None
    schema = request.getfixturevalue("pg_schema") if name == "postgres" else "public"
    return build_config(name, tmp_path / "data", schema)


@pytest.fixture
async def store(store_config: StorageConfig | None) -> AsyncIterator[Storage]:
    """A store on each backend, the memory store included (the contract suite)."""
    s = MemoryStorage() if store_config is None else await open_storage(store_config)
    try:
        yield s
    finally:
        await s.close()


Raw = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def raw(sql_store: Storage, make_config: Callable[..., StorageConfig]) -> Raw:
    """Run SQL straight against the store's database, as an attacker with file access
    (``?`` placeholders on both backends)."""
    cfg = make_config()

    async def run(sql: str, *args: Any) -> list[Any]:
        if cfg.backend == "sqlite":
            with sqlite3.connect(cfg.sqlite_path, timeout=10) as db:
                return db.execute(sql, args).fetchall()
        assert PG_DSN is not None
        conn = await asyncpg.connect(PG_DSN, server_settings={"search_path": cfg.postgres_schema})
        try:
            n = iter(range(1, 100))
            pg_sql = "".join(f"${next(n)}" if ch == "?" else ch for ch in sql)
            return list(await conn.fetch(pg_sql, *args))
        finally:
            await conn.close()

    return run


def new_user(user_id: str, login: str | None = None, **kw: object) -> NewUser:
    base: dict[str, object] = {
        "user_id": user_id,
        "login_name": login or f"{user_id}@example.org",
        "display_name": f"Dr {user_id}",
        "kdf_params": b"kdf:" + user_id.encode(),
        "auth_key_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "wrapped_usk": b"usk-" + user_id.encode(),
        "encryption_public_key": b"epk-" + user_id.encode(),
        "signing_public_key": b"spk-" + user_id.encode(),
        "sealed_private_keys": b"priv-" + user_id.encode(),
        "created_at": T0,
    }
    base.update(kw)
    return NewUser(**base)  # type: ignore[arg-type]


class World:
    """A practice with a GP, a service with two dermatologists."""

    practice = "prac-1"
    service = "serv-1"
    gp = "gp-1"
    derm = "derm-1"
    derm2 = "derm-2"


async def make_world(store: Storage) -> type[World]:
    await store.create_organisation(
        Organisation(World.practice, OrgKind.PRACTICE, "Riverside Surgery", b"rk-pub", T0)
    )
    await store.create_organisation(
        Organisation(World.service, OrgKind.SERVICE, "City Dermatology", None, T0)
    )
    await store.create_user(new_user(World.gp), [Membership(World.practice, Role.GP)])
    await store.create_user(new_user(World.derm), [Membership(World.service, Role.DERMATOLOGIST)])
    await store.create_user(new_user(World.derm2), [Membership(World.service, Role.DERMATOLOGIST)])
    return World


async def make_case(
    store: Storage,
    case_id: str,
    *,
    priority: Priority = Priority.ROUTINE,
    at: dt.datetime = T0,
    state: CaseState = CaseState.SUBMITTED,
) -> None:
    await store.create_case(
        NewCase(case_id, World.practice, World.service, World.gp, priority, at, state),
        [Participant(case_id, World.gp, Role.GP, at)],
        [
            WrappedCaseKey(case_id, 0, KeyRecipientKind.USER, World.gp, b"ck-gp", at),
            WrappedCaseKey(case_id, 0, KeyRecipientKind.ORGANISATION, World.practice, b"ck-rk", at),
        ],
    )
