"""The server on the in-memory reference store (``storage.memory``), which a test passes in
directly: the same case flow as on SQL. The server itself can never open it: storage is
opened from a configuration only (``storage.open_storage``), which refuses it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

import storage
from crypto.content import ContentType
from server.api.keys import SERVICES
from server.app import create_app
from server.domain.clock import FakeClock
from storage.memory import MemoryStorage
from tests.samples import HISTORY
from tests.server.harness import Live, make_world, settings_for


@asynccontextmanager
async def memory_server(data_dir: Path) -> AsyncIterator[Live]:
    store = MemoryStorage()
    clock = FakeClock()
    settings = settings_for(data_dir)
    app = create_app(settings, clock=clock, store=store, environ={})
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    live = Live(
        str(server.make_url("")).rstrip("/"), clock, settings, app[SERVICES], [], app, store
    )
    try:
        yield live
    finally:
        for c in live.clients:
            await c.close()
        await server.close()
        await store.close()


async def test_the_case_flow_runs_on_the_memory_store(tmp_path: Path) -> None:
    async with memory_server(tmp_path) as live:
        assert isinstance(live.store, MemoryStorage)
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY, priority="urgent")
        assert [c["case_id"] for c in await derm.queue(w.service_id)] == [case_id]
        claimed = await derm.move(case_id, "claim")
        assert claimed["state"] == "in_review"
        asked = await derm.move(case_id, "ask", ContentType.QUESTION, {"text": "How big?"})
        assert asked["state"] == "awaiting_gp" and asked["last_seq"] == 2
        await gp.move(case_id, "answer", ContentType.TEXT, {"text": "6 mm"})
        closed = await derm.close_case(case_id, "advice_and_guidance", "Emollients")
        assert closed["state"] == "closed"
        texts = [(await gp.open(m))[0] for m in await gp.messages(case_id)]
        assert texts == [ContentType.CLINICAL_HISTORY, ContentType.QUESTION, ContentType.TEXT]
        verified = await live.store.verify_audit()
        assert verified.entries == len(await live.store.list_audit(limit=10_000)) > 0


async def test_storage_is_never_opened_on_the_memory_store(tmp_path: Path) -> None:
    config = storage.StorageConfig(backend="memory", data_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(storage.InvalidArgument):
        await storage.open_storage(config)
    # refused before a key file or a database was made
    assert await asyncio.to_thread(os.listdir, tmp_path) == []
