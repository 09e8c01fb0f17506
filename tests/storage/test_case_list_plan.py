"""An organisation's case list runs down one index in order (issue 13, item 4): the SQL the
store sends is explained by each engine, and neither plan sorts (an ``OR`` of the practice
and service columns would have to sort every case of both for each page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from storage import OrgKind, Storage, StorageConfig
from tests.storage.conftest import PG_DSN, Raw, World, make_world


async def _statements(store: Storage, call: Callable[[], Any]) -> list[tuple[str, tuple]]:
    """The statements a read unit runs (recorded, then run for real)."""
    seen: list[tuple[str, tuple]] = []
    real = store._read  # type: ignore[attr-defined]

    class Recorder:
        dialect = store.dialect  # type: ignore[attr-defined]

        async def fetchall(self, sql: str, *args: Any) -> list[Any]:
            seen.append((sql, args))
            return []

        async def fetchone(self, sql: str, *args: Any) -> Any:
            seen.append((sql, args))
            return None

    async def spy(fn: Any, **kw: Any) -> Any:
        await fn(Recorder())
        return await real(fn, **kw)

    store._read = spy  # type: ignore[attr-defined]
    try:
        await call()
    finally:
        del store._read  # type: ignore[attr-defined]
    return seen


async def test_organisation_case_list_is_an_ordered_index_scan(
    sql_store: Storage, raw: Raw, make_config: Callable[..., StorageConfig]
) -> None:
    await make_world(sql_store)
    backend = make_config().backend
    pages = [
        lambda: sql_store.list_cases_for_organisation(World.practice, OrgKind.PRACTICE),
        lambda: sql_store.list_cases_for_organisation(
            World.service,
            OrgKind.SERVICE,
            cursor="WzEsImMiXQ",  # [1, "c"]
        ),
    ]
    for page in pages:
        [(sql, args)] = await _statements(sql_store, page)
        if backend == "sqlite":
            plan = " | ".join(str(r[3]) for r in await raw(f"EXPLAIN QUERY PLAN {sql}", *args))
            assert "TEMP B-TREE" not in plan, plan
            assert "USING INDEX cases_practice" in plan or "USING INDEX cases_service" in plan
        else:
            # With sequential scans priced out, the only plan without a Sort is the
            # backward scan of the organisation's index.
            conn = await asyncpg.connect(
                PG_DSN,
                server_settings={
                    "search_path": make_config().postgres_schema,
                    "enable_seqscan": "off",
                },
            )
            try:
                n = iter(range(1, 100))
                pg_sql = "".join(f"${next(n)}" if ch == "?" else ch for ch in sql)
                plan = " | ".join(str(r[0]) for r in await conn.fetch(f"EXPLAIN {pg_sql}", *args))
            finally:
                await conn.close()
            assert "Sort" not in plan, plan
            assert "cases_practice" in plan or "cases_service" in plan, plan
