"""Two server nodes behind one database, Socket.IO emits crossing over Redis (DESIGN
section 8). Runs when the environment names a test Redis (CI sets
DERMLINE_TEST_REDIS_URL), like the PostgreSQL variants of the storage suite."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

import storage
from client_py.client import DermlineClient
from client_py.keylog import KeyLog
from server.api.keys import SERVICES
from server.app import create_app
from server.domain.clock import FakeClock
from server.realtime.server import Realtime
from tests.samples import HISTORY
from tests.server.harness import Live, make_world, settings_for

REDIS_URL = os.environ.get("DERMLINE_TEST_REDIS_URL")


async def _subscribers_now(channel: str, nodes: int) -> None:
    assert REDIS_URL is not None
    redis = aioredis.from_url(REDIS_URL)
    try:
        [(_name, listeners)] = await redis.pubsub_numsub(channel)
        assert listeners == nodes
    finally:
        await redis.aclose()


async def message_crosses_nodes_through_redis(tmp_path: Path, nodes: int = 2) -> None:
    store = await storage.open_storage(storage.StorageConfig(data_dir=tmp_path))
    channel = f"dermline-test-{secrets.token_hex(4)}"  # runs sharing a Redis do not cross
    clock = FakeClock()
    servers = []
    clients: list[DermlineClient] = []
    try:
        for _ in range(nodes):
            settings = settings_for(tmp_path, redis_url=REDIS_URL, redis_channel=channel)
            app = create_app(settings, clock=clock, store=store, environ={})
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            servers.append((server, app))
        # Every node subscribed to the channel while starting, before any socket connected
        # (server.realtime Realtime._start_manager): nothing published from now on is lost.
        await _subscribers_now(channel, nodes)
        urls = [str(s.make_url("")).rstrip("/") for s, _ in servers]
        a = Live(
            urls[0],
            clock,
            servers[0][1][SERVICES].settings,
            servers[0][1][SERVICES],
            clients,
            servers[0][1],
            store,
        )
        w = await make_world(a)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await w.derm.client.move(case_id, "claim")
        # The GP listens on node A; the dermatologist talks to node B with the same session.
        gp_rt = await w.gp.client.connect_realtime()
        derm_b = same_device_on(w.derm.client, urls[1])
        clients.append(derm_b)
        await derm_b.connect_realtime()
        seq = await derm_b.send_text(case_id, "via node B")
        async with asyncio.timeout(10):
            while True:
                m = await gp_rt.messages.get()
                if m["seq"] == seq:
                    break
        assert (await w.gp.client.open(m))[1]["text"] == "via node B"
    finally:
        for c in clients:
            await c.close()
        for server, _ in servers:
            await server.close()
        await store.close()


if REDIS_URL:  # collected only where a test Redis exists (CI), never reported as skipped

    async def test_message_crosses_nodes_through_redis(tmp_path: Path) -> None:
        await message_crosses_nodes_through_redis(tmp_path)

    async def test_nothing_reopens_redis_after_shutdown(tmp_path: Path) -> None:
        """Something sent after the node's Redis connections closed (a notification flushed
        at shutdown) must not open a new one: nothing would close it."""
        channel = f"dermline-test-{secrets.token_hex(4)}"
        realtime = Realtime(
            settings_for(tmp_path, redis_url=REDIS_URL, redis_channel=channel), FakeClock()
        )
        async with realtime.running():
            await realtime.notice("someone", "message", "text")  # published: one connection
        await realtime.notice("someone", "message", "text")
        manager = realtime.sio.manager
        assert manager.clients
        for redis, _pubsub in manager.clients:
            pool = redis.connection_pool
            conns = [*pool._available_connections, *pool._in_use_connections]
            assert not [c for c in conns if c.is_connected]


def same_device_on(client: DermlineClient, url: str) -> DermlineClient:
    """A client for another node that is the same signed-in device as ``client``: its session
    cookie and CSRF token, its keys, and its pins and key-log view (client_py.pins,
    client_py.keylog)."""
    other = DermlineClient(url)
    for cookie in client.api.session.cookie_jar:
        other.api.session.cookie_jar.update_cookies({cookie.key: cookie.value})
    other.api.csrf_token = client.api.csrf_token
    other.identity = client.identity
    other._case_keys = client._case_keys
    other._pins = client.pins
    other._keylog = KeyLog(other.api, other._pins)
    return other
