"""An organisation's case list at scale (issue 13, item 4; ``docs/performance.md``).

    python -m bench.bench_case_list [--backend sqlite|postgres] [--dsn DSN] [--cases 100000]
                                    [--runs 3] [--queries 1000]

Bulk-loads ``--cases`` cases (one practice referring to 20 services, sealed values, one
message each; ``bench.bench_storage.bulk_load``), then, in each of ``--runs`` runs, times
``--queries`` calls of each list through the public storage interface, each a page of 50:

* ``practice``: ``list_cases_for_organisation(practice)``: every case is the practice's
  (the worst case for one organisation), half the calls the first page, half a page at a
  random depth (keyset cursor);
* ``service``: the same for a service (1/20 of the cases);
* ``triage``: ``triage_queue(service)``, for comparison;
* ``or-filter`` (the former query, for comparison): ``practice_id = ? OR service_id = ?``
  ordered by ``updated_at``, run as raw SQL on the same reader.

Every run prints p50 / p99 in milliseconds and the 1-minute load average before and after
it: on a shared machine the load is part of the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.bench_storage import SERVICES, T0, bulk_load, config, drop_schema, seed_orgs
from storage import OrgKind, open_storage
from storage._values import enc_cursor
from storage.sql import SqlStorage
from storage.sql.cases import CASE_SELECT

PAGE = 50


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


async def _timed(n: int, call: Callable[[int], Awaitable[Any]]) -> tuple[float, float]:
    lat = []
    for i in range(n):
        t = time.perf_counter()
        await call(i)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    return statistics.median(lat), lat[max(0, int(len(lat) * 0.99) - 1)]


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--dsn", default=os.environ.get("DERMLINE_TEST_POSTGRES_DSN"))
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--writers", type=int, default=10, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.backend == "postgres" and not args.dsn:
        p.error("--backend postgres needs --dsn or DERMLINE_TEST_POSTGRES_DSN")
    n = args.cases
    print(f"backend={args.backend} cases={n} runs={args.runs} queries={args.queries} page={PAGE}")
    rng = random.Random(13)

    def cursor_at(c: int) -> str:
        # bulk_load gives case c the update time T0 + c seconds
        return enc_cursor(int((T0.timestamp() + c) * 1_000_000), f"case{c}")

    with tempfile.TemporaryDirectory(prefix="dermline-bench-") as tmp:
        schema = f"bench_{secrets.token_hex(4)}"
        store = await open_storage(config(args, Path(tmp), schema, plain=False))
        try:
            assert isinstance(store, SqlStorage)
            await seed_orgs(store)
            t = time.perf_counter()
            await bulk_load(store, n, n)
            await store._write(lambda txn: txn.execute("ANALYZE"))
            print(f"loaded in {time.perf_counter() - t:.0f} s (load average {_load()})")

            async def practice(i: int) -> None:
                cur = None if i % 2 == 0 else cursor_at(rng.randrange(PAGE, n))
                page = await store.list_cases_for_organisation(
                    "prac", OrgKind.PRACTICE, limit=PAGE, cursor=cur
                )
                assert len(page.items) == PAGE

            async def service(i: int) -> None:
                s = i % SERVICES
                # a case of service s deep in its list: c = s + 20k
                cur = (
                    None
                    if i % 2 == 0
                    else cursor_at(s + SERVICES * rng.randrange(PAGE, n // SERVICES))
                )
                page = await store.list_cases_for_organisation(
                    f"serv{s}", OrgKind.SERVICE, limit=PAGE, cursor=cur
                )
                assert len(page.items) == PAGE

            async def triage(i: int) -> None:
                assert (await store.triage_queue(f"serv{i % SERVICES}", limit=PAGE)).items

            async def or_filter(i: int) -> None:
                rows = await store._read(
                    lambda txn: txn.fetchall(
                        f"{CASE_SELECT} WHERE c.practice_id = ? OR c.service_id = ?"
                        " ORDER BY c.updated_at DESC, c.case_id DESC LIMIT ?",
                        "prac",
                        "prac",
                        PAGE + 1,
                    )
                )
                assert len(rows) == PAGE + 1

            lists = [
                ("practice", practice),
                ("service", service),
                ("triage", triage),
                ("or-filter", or_filter),
            ]
            for run in range(1, args.runs + 1):
                before = _load()
                figures = []
                for name, call in lists:
                    # the old query is slow: a tenth of the calls are enough to see it
                    count = args.queries if name != "or-filter" else max(20, args.queries // 10)
                    p50, p99 = await _timed(count, call)
                    figures.append(f"{name} p50 {p50:.2f} / p99 {p99:.2f} ms")
                print(f"run {run} (load {before} -> {_load()}): " + "; ".join(figures))
        finally:
            await store.close()
            await drop_schema(args, schema)


if __name__ == "__main__":
    asyncio.run(main())
