"""Issue 4 "Show": a live server process, real python-socketio clients.

* the whole flow, in real time, ending with the GP receiving the outcome;
* the server SIGKILLed mid-conversation and restarted: both clients reconnect by
  themselves and end with every acknowledged message exactly once;
* a byte scan of the data directory and the server log finds no clinical canary.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crypto.content import ContentType
from tests.integration.live import ServerProcess, World, make_world
from tests.samples import HISTORY

pytestmark = pytest.mark.slow

CANARIES = ["CANARY-PATIENT-NAME", "CANARY-QUESTION", "CANARY-ANSWER", "CANARY-ADVICE"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data")
    await proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def world(server: ServerProcess) -> AsyncIterator[World]:
    w = await make_world(server)
    try:
        yield w
    finally:
        for p in (w.gp, w.derm, w.admin):
            await p.client.close()


async def wait_for(q: asyncio.Queue, pred):  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10.0):
        while True:
            item = await q.get()
            if pred(item):
                return item


async def test_whole_flow_in_real_time_and_no_canary_at_rest(
    server: ServerProcess, world: World
) -> None:
    w = world
    gp, derm = w.gp.client, w.derm.client
    derm_rt = await derm.connect_realtime()
    gp_rt = await gp.connect_realtime()

    case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
    # The dermatologist sees it appear in the queue, in real time.
    await wait_for(derm_rt.queue_events, lambda e: e["case_id"] == case_id)
    await derm.move(case_id, "claim")
    await derm.move(case_id, "ask", ContentType.QUESTION, {"text": "Any bleeding recently?"})
    await wait_for(gp_rt.case_events, lambda e: e["state"] == "awaiting_gp")
    question = await wait_for(gp_rt.messages, lambda m: m["sender_id"] == w.derm.user_id)
    assert (await gp.open(question))[1]["text"] == "Any bleeding recently?"

    await gp.move(case_id, "answer", ContentType.TEXT, {"text": "CANARY-ANSWER yes, twice"})
    answer = await wait_for(
        derm_rt.messages, lambda m: m["sender_id"] == w.gp.user_id and m["seq"] == 3
    )
    assert "CANARY-ANSWER" in (await derm.open(answer))[1]["text"]
    await derm.send_text(case_id, "Thank you")

    await derm.close_case(case_id, "advice_and_guidance", "CANARY-ADVICE emollient twice daily")
    closed = await wait_for(gp_rt.case_events, lambda e: e["state"] == "closed")
    assert closed["outcome_category"] == "advice_and_guidance"
    coded, content = await gp.outcome(case_id)
    assert coded["category"] == "advice_and_guidance"
    assert content["summary"].startswith("CANARY-ADVICE")

    server.stop()
    needles = []
    for canary in CANARIES:
        raw = canary.encode()
        needles += [
            raw,
            raw.hex().encode(),
            base64.b64encode(raw)[:16],
            raw.decode().encode("utf-16-le"),
        ]
    scanned = 0
    for path in [*server.data_dir.rglob("*"), server.log_file, server.stdout_file]:
        if path.is_file():
            data = path.read_bytes()
            scanned += len(data)
            for needle in needles:
                assert needle not in data, f"canary found in {path.name}"
    assert scanned > 10_000
    assert server.log_file.stat().st_size > 0
    # The audit chain of the whole flow verifies offline.
    verify = subprocess.run(  # noqa: ASYNC221 - the server is stopped; a short child
        [sys.executable, "-m", "server", "audit", "verify", "--data-dir", str(server.data_dir)],
        env=server.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit log verifies" in verify.stdout


async def test_sigkill_mid_conversation_loses_and_duplicates_nothing(
    server: ServerProcess, world: World
) -> None:
    w = world
    gp, derm = w.gp.client, w.derm.client
    case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
    await derm.move(case_id, "claim")
    gp_rt = await gp.connect_realtime()
    derm_rt = await derm.connect_realtime()
    await derm_rt.call("join", {"case_id": case_id})

    acked: dict[str, set[str]] = {"gp": set(), "derm": set()}
    per_side = 60
    enough = asyncio.Event()

    async def talk(name: str, client, rt) -> None:  # type: ignore[no-untyped-def]
        for i in range(per_side):
            msg_id, envelope = await client.seal(case_id, ContentType.TEXT, {"text": f"{name} {i}"})
            await rt.send(case_id, msg_id, envelope)
            acked[name].add(msg_id)
            if len(acked["gp"]) + len(acked["derm"]) >= 40:
                enough.set()
            await asyncio.sleep(0.01)

    talkers = asyncio.gather(talk("gp", gp, gp_rt), talk("derm", derm, derm_rt))
    await asyncio.wait_for(enough.wait(), timeout=60)
    server.kill()  # SIGKILL: no shutdown, no flush beyond what was committed
    await asyncio.sleep(0.5)
    await server.start()
    await asyncio.wait_for(talkers, timeout=90)
    assert gp_rt.connect_count >= 2 and derm_rt.connect_count >= 2

    all_acked = acked["gp"] | acked["derm"]
    assert len(all_acked) == 2 * per_side
    total = 1 + 2 * per_side  # the history message too
    for rt in (gp_rt, derm_rt):
        seen: list[dict] = []
        async with asyncio.timeout(30):
            while len(seen) < total:
                seen.append(await rt.messages.get())
        await asyncio.sleep(0.3)
        assert rt.messages.empty(), "a message was delivered twice"
        ids = [m["client_msg_id"] for m in seen]
        assert len(ids) == len(set(ids)) == total
        assert all_acked <= set(ids)
        assert [m["seq"] for m in seen] == list(range(1, total + 1))
    stored = await gp.messages(case_id)
    stored += await gp.messages(case_id, after_seq=len(stored))
    assert len(stored) == total and len({m["client_msg_id"] for m in stored}) == total
    assert uuid.UUID(stored[-1]["client_msg_id"]).version == 7
