"""A Redis restart mid-conversation (issue 13, item 5; docs/architecture.md, "Redis
outages"): two nodes, the GP on node A, the dermatologist writing through node B. Redis is
stopped for a few seconds while the dermatologist keeps writing, and the last messages are
sent during the outage (so no later message shows the GP a gap). Once Redis is back, every
message must reach the GP's open connection, in order and once, within a bounded time,
without the GP reconnecting: the nodes tell their sockets to ``resync``.

The test runs its own redis-server on a free port (never the shared one)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from aiohttp.test_utils import TestServer

import storage
from client_py.client import DermlineClient
from server.api.keys import SERVICES
from server.app import create_app
from server.domain.clock import FakeClock
from tests.samples import HISTORY
from tests.server.harness import Live, make_world, settings_for
from tests.server.realtime.test_redis import same_device_on

REDIS_SERVER = shutil.which("redis-server")
#: after Redis is back, every message is on the GP's screen within this many seconds
BOUND = 8.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    """A redis-server of this test's own, stopped and started at will."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # an abrupt end, as a crash or a restart looks to the nodes
            self.proc.wait()
            self.proc = None


@contextlib.contextmanager
def own_redis(folder: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(_free_port(), folder)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


async def redis_restart_mid_conversation(tmp_path: Path) -> None:
    store = await storage.open_storage(storage.StorageConfig(data_dir=tmp_path))
    channel = f"dermline-test-{secrets.token_hex(4)}"
    clock = FakeClock()
    servers = []
    clients: list[DermlineClient] = []
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    with own_redis(redis_dir) as redis:
        try:
            url = f"redis://127.0.0.1:{redis.port}/0"
            for _ in range(2):
                settings = settings_for(tmp_path, redis_url=url, redis_channel=channel)
                app = create_app(settings, clock=clock, store=store, environ={})
                server = TestServer(app, host="127.0.0.1")
                await server.start_server()
                servers.append((server, app))
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
            gp_rt = await w.gp.client.connect_realtime()
            derm_b = same_device_on(w.derm.client, urls[1])
            clients.append(derm_b)
            await derm_b.connect_realtime()
            await gp_rt.call("join", {"case_id": case_id})

            seen: list[int] = []

            async def screen() -> None:  # what the GP's client shows, in order
                while True:
                    seen.append(int((await gp_rt.messages.get())["seq"]))

            shown = asyncio.create_task(screen())
            sent = [await derm_b.send_text(case_id, f"before {i}") for i in range(3)]
            async with asyncio.timeout(5):
                while sent[-1] not in seen:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            redis.stop()
            # Redis is away for about three seconds; the dermatologist keeps writing (each
            # send is acknowledged: the message is stored), and stops before it returns.
            outage = time.monotonic()
            while time.monotonic() - outage < 3.0:
                sent.append(await derm_b.send_text(case_id, f"during {len(sent)}"))
                await asyncio.sleep(0.2)
            assert sent[-1] not in seen  # the last ones did not cross the nodes live
            redis.start()
            back = time.monotonic()
            async with asyncio.timeout(BOUND):
                while seen[-1:] != sent[-1:]:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            took = time.monotonic() - back
            shown.cancel()
            assert seen == [1, *sent], "every message once, in order"
            assert gp_rt.connect_count == 1, "the GP never reconnected"
            assert gp_rt.resync_count >= 1, "the node told its sockets to resync"
            assert took < BOUND
        finally:
            for c in clients:
                await c.close()
            for server, _ in servers:
                await server.close()
            await store.close()


if REDIS_SERVER:  # collected only where redis-server is installed, never reported as skipped

    async def test_a_redis_restart_loses_no_live_message(tmp_path: Path) -> None:
        await redis_restart_mid_conversation(tmp_path)
