"""DESIGN.md section 2: only the referring GP may downgrade a two-week-wait decision.

End to end over HTTP and Socket.IO with the Python client and real crypto: the reason
travels as an encrypted thread message, the stored coded outcome changes with the original
kept, the audit entry carries codes only, and both sides hear the change in real time.
The rules (who, which outcomes, the reason message, retries) are tested on the case service
(``tests/server/domain/test_downgrade.py``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from client_py.api import ApiError
from crypto.content import ContentType
from tests.samples import HISTORY
from tests.server.harness import BACKENDS, World, live_server, make_world

REASON = "CANARY-REASON: seen in clinic today, lesion regressing"


async def next_case_event(q: asyncio.Queue[dict[str, Any]], case_id: str, urgency: str) -> dict:
    """The first ``case`` event for ``case_id`` whose outcome has ``urgency``."""
    while True:
        event = await asyncio.wait_for(q.get(), 5.0)
        outcome = event.get("outcome") or {}
        if event["case_id"] == case_id and outcome.get("urgency") == urgency:
            return event


async def closed_case(w: World, urgency: str | None, category: str = "referral") -> str:
    gp, derm = w.gp.client, w.derm.client
    case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
    await derm.move(case_id, "claim")
    if category == "referral":
        await derm.close_case(
            case_id,
            "referral",
            "suspected melanoma",
            urgency=urgency,
            destination="dermatology_clinic",
        )
    else:
        await derm.close_case(case_id, category, "emollients")
    return case_id


async def status(call: Any) -> tuple[int, str]:
    try:
        await call
    except ApiError as exc:
        return exc.status, exc.code
    return 200, "ok"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_referring_gp_downgrades_two_week_wait(tmp_path: Path, backend: str) -> None:
    async with live_server(tmp_path, backend) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await closed_case(w, "two_week_wait")
        derm_rt = await derm.connect_realtime()
        gp_rt = await gp.connect_realtime()
        await derm_rt.call("join", {"case_id": case_id})
        await gp_rt.call("join", {"case_id": case_id})

        # The dermatologist cannot lower their own two-week-wait decision.
        assert await status(derm.downgrade_referral(case_id, "urgent", "no")) == (403, "forbidden")
        # Not lower, or not an urgency the route accepts.
        assert (await status(gp.downgrade_referral(case_id, "two_week_wait", "x")))[0] == 422
        seq_before = (await gp.get_case(case_id))["case"]["last_seq"]

        moved = await gp.downgrade_referral(case_id, "urgent", REASON)
        assert moved["state"] == "closed" and moved["outcome_category"] == "referral"
        assert moved["last_seq"] == seq_before + 1

        # The dermatologist sees the new coded outcome, the original, and their own content.
        coded, content = await derm.outcome(case_id)
        assert (coded["category"], coded["urgency"], coded["destination"]) == (
            "referral",
            "urgent",
            "dermatology_clinic",
        )
        assert content["summary"] == "suspected melanoma"
        assert coded["author_id"] == w.derm.user_id
        down = coded["downgrade"]
        assert (down["from_urgency"], down["by"]) == ("two_week_wait", w.gp.user_id)
        # ... and why: the reason is the thread message the record names.
        reason_msg = (await derm.messages(case_id))[-1]
        assert reason_msg["client_msg_id"] == down["reason_msg_id"]
        assert reason_msg["sender_id"] == w.gp.user_id
        ctype, body = await derm.open(reason_msg)
        assert (ctype, body["text"]) == (ContentType.TEXT, REASON)

        # Both sides hear it: the case event carries the coded outcome, never the reason.
        for rt in (derm_rt, gp_rt):
            event = await next_case_event(rt.case_events, case_id, "urgent")
            assert event["outcome"]["downgrade"]["from_urgency"] == "two_week_wait"
            assert event["outcome"]["downgrade"]["reason_msg_id"] == down["reason_msg_id"]
            assert "CANARY" not in json.dumps(event) and "payload" not in event["outcome"]
        # A joining client gets the coded outcome with the case too.
        joined = await derm_rt.call("join", {"case_id": case_id})
        assert joined["case"]["outcome"]["urgency"] == "urgent"

        # Once lowered it is no longer a two-week-wait decision: no second downgrade.
        assert await status(gp.downgrade_referral(case_id, "routine", "again")) == (
            409,
            "invalid_transition",
        )

        audit = [e.event for e in await live.store.list_audit()]
        downgrades = [e for e in audit if e.action == "case.downgrade"]
        assert len(downgrades) == 1
        assert downgrades[0].actor_id == w.gp.user_id and downgrades[0].target == case_id
        assert json.loads(downgrades[0].detail) == {"from": "two_week_wait", "to": "urgent"}
        assert b"CANARY" not in downgrades[0].detail
