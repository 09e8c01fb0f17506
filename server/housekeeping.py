"""The server's scheduled retention run (``docs/operations.md``, "Retention").

Every ``retention_interval`` seconds (0: never) the node disposes of the cases past their
retention date (``server.domain.retention``). Each node of a deployment runs it; a case is
disposed of once (storage's disposal is a compare-and-set on "still due", so the slower
node skips it). The first run comes one interval after start, so a restart loop cannot
turn into a disposal loop, and tests (which never wait a day) never meet it.
"""

from __future__ import annotations

import asyncio
import logging

from server.domain.records import StorageUnavailable
from server.domain.retention import RetentionRun, RetentionService
from server.logs import event

__all__ = ["retention_runs", "run_retention_once"]


async def run_retention_once(service: RetentionService) -> RetentionRun | None:
    """One scheduled run; a storage failure is logged (by type) and waits for the next."""
    try:
        report = await service.run(dry_run=False)
    except StorageUnavailable as exc:
        event("retention.run_failed", level=logging.WARNING, error_type=type(exc).__name__)
        return None
    event(
        "retention.run",
        level=logging.INFO,
        count=len(report.disposed),
        reason=f"skipped={len(report.skipped)}",
    )
    return report


async def retention_runs(service: RetentionService, interval: int) -> None:
    """Run forever (cancelled at shutdown)."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        await run_retention_once(service)
