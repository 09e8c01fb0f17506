"""DESIGN section 8, "Beyond one machine": two real server processes on one PostgreSQL
database and one Redis, with real python-socketio clients.

Topology of every test here::

    GP client ───────────────────────────────► node A ─┐
                                                         ├─ PostgreSQL (a fresh database)
    dermatologist ─► front (prefers B, then A) ─► node B ─┤   Redis (a per-test channel)
                                                         └─ one blob folder, one master key

The front is a TCP pass-through that, like nginx with ``proxy_next_upstream error``, sends
each *new* connection to the first node that accepts it; there are no sticky sessions, which
is safe because every client uses the WebSocket transport only (``docs/deploy.md``).

Shown here:

* a case created on A appears in B's queue in real time; messages flow both ways in real
  time; a photo uploaded through A is downloaded through B (shared blob folder);
* both nodes share one server secret (same fake pre-login salt; a CSRF token issued by B
  is accepted by A);
* node B is SIGKILLed mid-conversation; the dermatologist's client reconnects through the
  front to node A and, from the database catch-up, ends with every acknowledged message
  exactly once and in order, including one the GP sent while it had no socket anywhere;
* Redis pub/sub is lossy: node B is cut off from Redis while its client stays connected, a
  message published meanwhile never reaches that client live, and the database catch-up
  (triggered by the sequence gap) recovers it exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import re
import secrets
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from PIL import Image

from client_py.client import DermlineClient
from client_py.realtime import RealtimeClient
from crypto.content import ContentType
from tests.integration.live import (
    ORIGIN,
    PASSWORD,
    Person,
    ServerProcess,
    World,
    make_world,
)
from tests.samples import HISTORY

POSTGRES_DSN = os.environ.get("DERMLINE_TEST_POSTGRES_DSN")
REDIS_URL = os.environ.get("DERMLINE_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (POSTGRES_DSN and REDIS_URL),
        reason="needs DERMLINE_TEST_POSTGRES_DSN and DERMLINE_TEST_REDIS_URL (set in CI)",
    ),
]

LIVE_TIMEOUT = 10.0


# ---------------------------------------------------------------------- the front


class Front:
    """A loopback TCP pass-through standing in for the load balancer (or for a network
    path to Redis). Each new connection goes to the first backend port that accepts it;
    an established connection is never moved, it is closed when either side closes, as a
    proxy does when its upstream dies. ``cut()`` drops every connection and refuses new
    ones (accepts, then closes at once) until ``restore()``."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = 0
        self.routed: list[int] = []  # the backend chosen for each accepted connection
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.upstream_ports: set[int] = set()  # local ports of live upstream connections
        self._watch: tuple[bytes, asyncio.Event] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def watch(self, needle: bytes) -> asyncio.Event:
        """An event set when bytes containing ``needle`` next come back from a backend."""
        seen = asyncio.Event()
        self._watch = (needle, seen)
        return seen

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            if self.cut_off:
                return
            for port in self.backends:
                try:
                    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    continue  # that node is down: try the next (proxy_next_upstream error)
                self.routed.append(port)
                break
            else:
                return
            self._writers.add(up_writer)
            local = int(up_writer.get_extra_info("sockname")[1])
            self.upstream_ports.add(local)
            try:
                await asyncio.gather(
                    self._pipe(reader, up_writer, watch=False),
                    self._pipe(up_reader, writer, watch=True),
                )
            finally:
                self.upstream_ports.discard(local)
        except asyncio.CancelledError:
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
                    with contextlib.suppress(OSError, asyncio.CancelledError):
                        await w.wait_closed()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, watch: bool
    ) -> None:
        try:
            while data := await src.read(65536):
                if watch and self._watch is not None and self._watch[0] in data:
                    self._watch[1].set()
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            # One side ended: end both, as a proxy does.
            dst.close()

    async def cut(self) -> None:
        self.refuse_new()
        for w in list(self._writers):
            w.close()
        # Each connection's task ends once both of its sockets are closed.
        pending = list(self._tasks)
        if pending:
            _done, still = await asyncio.wait(pending, timeout=10)
            assert not still, "the front could not close its connections"
        assert not self.upstream_ports

    def refuse_new(self) -> None:
        """Refuse new connections (accept, then close at once); keep the open ones."""
        self.cut_off = True

    def restore(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()


# ---------------------------------------------------------------------- the cluster


class Node(ServerProcess):
    """One ``dermline serve`` process of the cluster: its own data folder (a symlink
    ``blobs`` to the shared blob folder), and the cluster's environment."""

    def __init__(self, data_dir: Path, cluster_env: dict[str, str], origins: list[str]) -> None:
        super().__init__(data_dir)
        self.cluster_env = cluster_env
        self.origins = origins

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(self.cluster_env)
        env["DERMLINE_ALLOWED_ORIGINS"] = ",".join([ORIGIN, self.url, *self.origins])
        return env


@dataclass
class Cluster:
    a: Node
    b: Node
    derm_front: Front  # the dermatologist's way in: B first, A if B is down
    redis_b: Front  # node B's path to Redis
    channel: str
    shared_blobs: Path


def _database_dsn(base: str, name: str) -> str:
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    assert POSTGRES_DSN is not None
    name = "dermline_mn_" + secrets.token_hex(6)
    assert re.fullmatch(r"[a-z0-9_]+", name)  # spliced into SQL: identifiers cannot be bound
    admin = await asyncpg.connect(POSTGRES_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _database_dsn(POSTGRES_DSN, name)
    finally:
        admin = await asyncpg.connect(POSTGRES_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def cluster(tmp_path: Path, database: str) -> AsyncIterator[Cluster]:
    assert REDIS_URL is not None
    redis_url = urllib.parse.urlsplit(REDIS_URL)
    redis_port = redis_url.port or 6379
    shared = tmp_path / "shared-blobs"
    shared.mkdir(mode=0o700)
    channel = "dermline-test-" + secrets.token_hex(6)
    cluster_env = {
        "DERMLINE_DATABASE_URL": database,
        "DERMLINE_REDIS_URL": REDIS_URL,
        # Every node must use the same channel; a unique one keeps parallel runs apart.
        "DERMLINE_REDIS_CHANNEL": channel,
        # The same master key and server secret on every node, from the environment.
        "DERMLINE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "DERMLINE_SERVER_SECRET": base64.b64encode(os.urandom(32)).decode(),
    }
    redis_b = Front([redis_port])
    await redis_b.start()
    derm_front = Front([])
    await derm_front.start()
    dirs = {name: tmp_path / name for name in ("node-a", "node-b")}
    for d in dirs.values():
        d.mkdir(mode=0o700)
        (d / "blobs").symlink_to(shared, target_is_directory=True)
    a = Node(dirs["node-a"], cluster_env, [derm_front.url])
    b_env = dict(cluster_env)
    b_env["DERMLINE_REDIS_URL"] = urllib.parse.urlunsplit(
        redis_url._replace(netloc=f"{redis_url.hostname}:{redis_b.port}")
    )
    b = Node(dirs["node-b"], b_env, [derm_front.url])
    derm_front.backends = [b.port, a.port]
    try:
        await a.start()  # first: it migrates the fresh database and prints the setup link
        await b.start()
        yield Cluster(a, b, derm_front, redis_b, channel, shared)
    finally:
        a.stop()
        b.stop()
        await derm_front.close()
        await redis_b.close()


@dataclass
class SetupVia:
    """What ``make_world`` needs of a server: where to enrol and the setup token."""

    url: str
    token: str

    def setup_token(self) -> str:
        return self.token


@dataclass
class People:
    world: World
    gp: DermlineClient  # on node A
    derm: DermlineClient  # through the front (node B while it lives)
    derm_person: Person


@pytest.fixture
async def people(cluster: Cluster) -> AsyncIterator[People]:
    # Every node that starts while there is no administrator prints a fresh setup link and
    # revokes the older ones (``OrganisationService.first_admin_invite``): B started last.
    world = await make_world(SetupVia(cluster.a.url, cluster.b.setup_token()))
    # The dermatologist signs in again through the front, so HTTP and Socket.IO both go to
    # node B: the session row is in the shared database, so any node accepts it.
    derm = DermlineClient(cluster.derm_front.url)
    person = world.derm
    await person.client.close()
    try:
        assert await derm.login(person.login_name, PASSWORD, totp=person.next_code) == "done"
        yield People(world, world.gp.client, derm, person)
    finally:
        for c in (derm, world.gp.client, world.admin.client):
            await c.close()


# ---------------------------------------------------------------------- helpers


async def both_nodes_listen(channel: str) -> None:
    """Wait until both nodes subscribe to the Redis channel. A node subscribes while it starts
    (server.realtime Realtime._start_manager), but gives up waiting after a few seconds if
    Redis is slow and then subscribes in the background: until it has, what the other node
    publishes is lost to it (no catch-up for queue events)."""
    redis = aioredis.from_url(REDIS_URL)
    try:
        async with asyncio.timeout(LIVE_TIMEOUT):
            while True:
                [(_name, listeners)] = await redis.pubsub_numsub(channel)
                if listeners == 2:
                    return
                await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


async def wait_for(q: asyncio.Queue[dict[str, Any]], pred: Any) -> dict[str, Any]:
    async with asyncio.timeout(LIVE_TIMEOUT):
        while True:
            item = await q.get()
            if pred(item):
                return item


class Inbox:
    """Everything a real-time client delivers, in order, kept for the exactly-once check."""

    def __init__(self, rt: RealtimeClient) -> None:
        self.rt = rt
        self.seen: list[dict[str, Any]] = []

    async def until(self, pred: Any) -> dict[str, Any]:
        async with asyncio.timeout(LIVE_TIMEOUT):
            while True:
                m = await self.rt.messages.get()
                self.seen.append(m)
                if pred(m):
                    return m

    async def drain_to(self, total: int) -> None:
        async with asyncio.timeout(30.0):
            while len(self.seen) < total:
                self.seen.append(await self.rt.messages.get())
        await asyncio.sleep(0.3)
        assert self.rt.messages.empty(), "a message was delivered twice"

    def check_exactly_once(self, case_id: str, total: int) -> None:
        mine = [m for m in self.seen if m["case_id"] == case_id]
        ids = [m["client_msg_id"] for m in mine]
        assert len(ids) == len(set(ids)) == total
        assert [m["seq"] for m in mine] == list(range(1, total + 1))


def tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 120, 100)).save(out, format="JPEG", quality=90)
    return out.getvalue()


async def stored_messages(client: DermlineClient, case_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = await client.messages(case_id, after_seq=len(out))
        if not page:
            return out
        out += page


# ---------------------------------------------------------------------- tests


async def test_two_nodes_real_time_then_node_b_killed_and_catch_up_on_a(
    cluster: Cluster, people: People
) -> None:
    w, gp, derm = people.world, people.gp, people.derm
    gp_rt = await gp.connect_realtime()
    derm_rt = await derm.connect_realtime()
    await both_nodes_listen(cluster.channel)
    assert cluster.derm_front.routed and set(cluster.derm_front.routed) == {cluster.b.port}
    gp_inbox, derm_inbox = Inbox(gp_rt), Inbox(derm_rt)

    # A case created on node A appears in the queue of a dermatologist on node B, live:
    # only Redis connects the two processes' Socket.IO rooms.
    case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
    queued = await wait_for(derm_rt.queue_events, lambda e: e["case_id"] == case_id)
    assert queued["state"] == "submitted"

    # Messages both ways, live: B -> A, then A -> B.
    await derm.move(case_id, "claim")
    await derm.move(case_id, "ask", ContentType.QUESTION, {"text": "Any bleeding?"})
    question = await gp_inbox.until(lambda m: m["sender_id"] == people.derm_person.user_id)
    assert (await gp.open(question))[1]["text"] == "Any bleeding?"
    await gp.move(case_id, "answer", ContentType.TEXT, {"text": "Yes, twice"})
    answer = await derm_inbox.until(lambda m: m["sender_id"] == w.gp.user_id and m["seq"] > 1)
    assert (await derm.open(answer))[1]["text"] == "Yes, twice"

    # A photo stored by node A is served by node B: one blob folder, one master key.
    image = tiny_jpeg()
    await gp.upload_photo(case_id, image, tag="close_up", body_site="left forearm")
    ref = await derm_inbox.until(lambda m: m["sender_id"] == w.gp.user_id)
    ctype, reference = await derm.open(ref)
    assert ctype == ContentType.PHOTO_REFERENCE
    assert await derm.download_photo(case_id, reference) == image
    blob_files = [p for p in cluster.shared_blobs.rglob("*.blob") if p.is_file()]
    assert len(blob_files) == 1 and image not in blob_files[0].read_bytes()

    # One server secret: both nodes answer pre-login for an unknown name with the same
    # fake salt (else asking two nodes would tell real accounts from unknown ones).
    probe = {"login_name": "nobody-" + secrets.token_hex(4) + "@example.org"}
    via_a = await gp.api.post("/api/v1/auth/prelogin", probe)
    via_b = await derm.api.post("/api/v1/auth/prelogin", probe)
    assert via_a["kdf_params"] == via_b["kdf_params"]

    # Talk both ways; kill node B (SIGKILL) mid-conversation.
    acked: dict[str, set[str]] = {"gp": set(), "derm": set()}
    per_side = 50
    enough = asyncio.Event()

    async def talk(name: str, client: DermlineClient, rt: RealtimeClient) -> None:
        for i in range(per_side):
            msg_id, envelope = await client.seal(case_id, ContentType.TEXT, {"text": f"{name} {i}"})
            await rt.send(case_id, msg_id, envelope)
            acked[name].add(msg_id)
            if len(acked["gp"]) + len(acked["derm"]) >= 30:
                enough.set()
            await asyncio.sleep(0.02)

    talkers = asyncio.gather(talk("gp", gp, gp_rt), talk("derm", derm, derm_rt))
    await asyncio.wait_for(enough.wait(), timeout=60)
    # Hold the dermatologist's reconnection at the front for a moment (a load balancer
    # still waiting for its health check), so that messages are certainly sent while it has
    # no socket anywhere; then kill node B.
    cluster.derm_front.refuse_new()
    cluster.b.kill()
    await asyncio.wait_for(derm_rt.disconnected.wait(), timeout=10)
    away_seq = await gp.send_text(case_id, "while you were away")
    assert not derm_rt.connected.is_set()
    await asyncio.sleep(0.5)
    cluster.derm_front.restore()
    await asyncio.wait_for(talkers, timeout=90)

    # The dermatologist's client came back through the front, to node A, by itself.
    assert derm_rt.connect_count >= 2
    assert cluster.derm_front.routed[-1] == cluster.a.port
    assert gp_rt.connect_count == 1, "node A stayed up: the GP never lost its socket"

    # HTTP fails over too: the CSRF token node B issued at sign-in is accepted by node A.
    http_seq = await derm.post_message(case_id, ContentType.TEXT, {"text": "over HTTP, on A"})
    assert cluster.derm_front.routed[-1] == cluster.a.port

    stored = await stored_messages(gp, case_id)
    total = len(stored)
    assert http_seq == total
    # history, question, answer, photo, the conversation, "while away", the HTTP message
    assert total == 4 + 2 * per_side + 2
    assert acked["gp"] | acked["derm"] <= {m["client_msg_id"] for m in stored}
    assert len(acked["gp"] | acked["derm"]) == 2 * per_side
    for inbox in (gp_inbox, derm_inbox):
        await inbox.drain_to(total)
        inbox.check_exactly_once(case_id, total)
    # It was emitted while the dermatologist had no socket anywhere, so nobody on its side
    # heard it live: the database catch-up is the only way it arrived.
    away = next(m for m in derm_inbox.seen if m["seq"] == away_seq)
    assert (await derm.open(away))[1]["text"] == "while you were away"
    # The last one, sent over HTTP to node A, reached the GP live and opens.
    assert (await gp.open(gp_inbox.seen[-1]))[1]["text"] == "over HTTP, on A"


async def test_redis_loses_a_publish_and_the_database_catch_up_recovers_it(
    cluster: Cluster, people: People
) -> None:
    w, gp, derm = people.world, people.gp, people.derm
    case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
    await derm.move(case_id, "claim")
    gp_rt = await gp.connect_realtime()
    derm_rt = await derm.connect_realtime()
    await both_nodes_listen(cluster.channel)
    await derm_rt.call("join", {"case_id": case_id})
    derm_inbox = Inbox(derm_rt)
    await derm_inbox.until(lambda m: m["seq"] == 1)  # the history, from the join's sync

    # Live across nodes first: A publishes, B hears it.
    live_seq = await gp.send_text(case_id, "before the cut")
    await derm_inbox.until(lambda m: m["seq"] == live_seq)

    redis = aioredis.from_url(REDIS_URL)
    try:
        # Both nodes listen on this test's own channel (DERMLINE_REDIS_CHANNEL), so runs
        # sharing the Redis cannot cross.
        [(_name, listeners)] = await redis.pubsub_numsub(cluster.channel)
        assert listeners == 2

        # Cut node B off from Redis. Its dermatologist keeps the WebSocket to node B.
        await cluster.redis_b.cut()
        # Redis has seen node B's connections close: it has no subscriber to deliver to.
        async with asyncio.timeout(10):
            while True:
                clients = await redis.client_list()
                ports = {int(c["addr"].rsplit(":", 1)[1]) for c in clients}
                if not ports & cluster.redis_b.upstream_ports:
                    break
                await asyncio.sleep(0.05)
        lost_seq = await gp.send_text(case_id, "published while node B is cut off")
        # Node A delivered it to its own sockets (python-socketio emits locally, then
        # publishes): the GP, on A, hears it live ...
        gp_inbox = Inbox(gp_rt)
        await gp_inbox.until(lambda m: m["seq"] == lost_seq)
        # ... but the dermatologist, connected all along, hears nothing: Redis dropped it.
        await asyncio.sleep(1.0)
        assert derm_rt.messages.empty()
        assert derm_rt.connected.is_set() and derm_rt.connect_count == 1
        assert derm_rt.last_seq[case_id] == live_seq

        # Reconnect node B to Redis and wait until it has subscribed again.
        resubscribed = cluster.redis_b.watch(b"subscribe")
        cluster.redis_b.restore()
        await asyncio.wait_for(resubscribed.wait(), timeout=60)
    finally:
        await redis.aclose()

    # The next live message shows a gap in the sequence; the client replays from the
    # database and delivers the lost one first, each exactly once and in order.
    next_seq = await gp.send_text(case_id, "after the cut")
    assert next_seq == lost_seq + 1
    await derm_inbox.until(lambda m: m["seq"] == next_seq)
    derm_inbox.check_exactly_once(case_id, next_seq)
    recovered = next(m for m in derm_inbox.seen if m["seq"] == lost_seq)
    assert (await derm.open(recovered))[1]["text"] == "published while node B is cut off"
    assert derm_rt.connect_count == 1, "recovered without reconnecting"
