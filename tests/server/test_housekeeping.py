"""The server's own retention run (``server/housekeeping.py``; ``docs/operations.md``,
"Records retention and legal holds"): every ``retention_interval`` seconds a node disposes of
the cases past their date by itself, writing the disposal to the audit chain; a run that
meets unavailable storage is logged by type and waits for the next; 0 turns the run off."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from server.housekeeping import retention_runs, run_retention_once
from tests.samples import HISTORY
from tests.server.harness import World, live_server, make_world
from tests.server.logcapture import captured_log


async def _closed_case(w: World) -> str:
    case_id: str = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
    await w.derm.client.move(case_id, "claim")
    await w.derm.client.close_case(
        case_id,
        "advice_and_guidance",
        "emollients",
        date_of_birth=HISTORY["patient"]["date_of_birth"],
    )
    return case_id


async def test_the_server_disposes_of_due_cases_by_itself(tmp_path: Path) -> None:
    async with live_server(tmp_path, retention_interval=1) as live:
        w = await make_world(live)
        due = await _closed_case(w)
        held = await _closed_case(w)
        officer = await live.person(
            await w.admin.client.invite(w.practice_id, "records_officer"), "ro@example.org", "RO"
        )
        await officer.client.api.put(f"/api/v1/cases/{held}/legal-hold", {"reason": "complaint"})
        assert (await live.store.get_case_retention(due)).disposed_at is None
        live.clock.set(dt.datetime(2060, 1, 1, tzinfo=dt.UTC))  # past every date
        with captured_log() as log:
            for _ in range(200):  # the next scheduled run comes within a second
                if any(f.get("count") == "1" for f in log.fields("retention.run")):
                    break
                await asyncio.sleep(0.05)
        assert (await live.store.get_case_retention(due)).disposed_at == live.clock.now()
        assert (await live.store.get_case_retention(held)).disposed_at is None  # on hold
        derm = await live.relogin(w.derm)  # decades on: sessions have ended
        assert await derm.messages(due) == []
        assert await derm.messages(held) != []  # the held case keeps its content
        entries = [e.event for e in await live.store.list_audit(limit=10_000)]
        disposed = [e for e in entries if e.action == "case.disposed"]
        assert [e.target for e in disposed] == [due]
        assert disposed[0].client_address == "retention"
        assert json.loads(disposed[0].detail)["destroyed"]["messages"] >= 1
        await live.store.verify_audit()
        assert {"count": "1", "reason": "skipped=0"} in [
            {k: f.get(k) for k in ("count", "reason")} for f in log.fields("retention.run")
        ]


async def test_a_run_without_storage_is_logged_and_the_next_one_comes(tmp_path: Path) -> None:
    async with live_server(tmp_path, retention_interval=0) as live:
        await live.store.close()  # the database goes away under the node
        with captured_log() as log:
            assert await run_retention_once(live.services.retention) is None
        assert log.events() == ["retention.run_failed"]
        assert set(log.fields("retention.run_failed")[0]) == {"error_type"}


async def test_interval_zero_never_runs(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        # Returns at once instead of looping (the server's task for retention_interval = 0).
        await asyncio.wait_for(retention_runs(live.services.retention, 0), 1)
