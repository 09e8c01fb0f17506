"""Real-time benchmark (issue 4 "Performance"; DESIGN section 11).

    python -m bench.bench_realtime [--pairs 500] [--rate 300] [--duration 20]

1. Prepares a data directory through the storage interface: ``pairs`` cases, each with a
   GP and a dermatologist (so ``2 * pairs`` users) who hold a signed-in, two-factor session
   (made directly in storage: logging 1,000 people in through TOTP would take 30 s steps).
2. Starts the Dermline server (``python -m server serve``, SQLite, synchronous=FULL) and
   runs ``bench.loadgen`` in its own process: one Socket.IO client per user, ``rate``
   messages per second, real end-to-end encrypted envelopes.
3. Starts a bare python-socketio relay (no auth, no storage, same event names) and runs
   the same load against it.
4. Prints both results side by side (p50/p99 of send-to-ack and send-to-delivery) as JSON.

``--serve-bare PORT`` runs only the bare relay (used by step 3).

Several nodes (issue 13, item 6): ``--backend postgres --nodes 3 --redis redis://...`` runs
three server processes on one PostgreSQL schema (made for the run, dropped after it) and one
Redis channel; each pair's GP connects to node ``i % nodes`` and its dermatologist to the
next node, so every message crosses nodes through Redis (with one node nothing does). The
result adds each node's CPU over the load phase and the CPU per message (all nodes, and per
node). ``--runs R`` repeats the Dermline measurement R times (same data), for the spread;
``--no-bare`` leaves the bare relay out.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

import storage
from crypto.account import generate_key_pair

__all__ = ["main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def storage_config(args: argparse.Namespace, data_dir: Path) -> storage.StorageConfig:
    if args.backend == "postgres":
        return storage.StorageConfig(
            backend="postgres",
            data_dir=data_dir,
            postgres_dsn=args.dsn,
            postgres_schema=args.schema,
        )
    return storage.StorageConfig(data_dir=data_dir)


async def prepare(config: storage.StorageConfig, pairs: int) -> dict[str, Any]:
    store = await storage.open_storage(config)
    now = dt.datetime.now(dt.UTC)
    records = generate_key_pair()
    practice = await store.create_organisation(
        storage.Organisation(
            str(uuid.uuid4()), storage.OrgKind.PRACTICE, "Bench Surgery", records.public_key, now
        )
    )
    service = await store.create_organisation(
        storage.Organisation(str(uuid.uuid4()), storage.OrgKind.SERVICE, "Bench Skin", None, now)
    )
    plan: dict[str, Any] = {"pairs": []}

    async def user(kind: str, i: int, org: str, role: storage.Role) -> dict[str, Any]:
        enc, sig = generate_key_pair(), generate_key_pair()
        uid = str(uuid.uuid4())
        await store.create_user(
            storage.NewUser(
                user_id=uid,
                login_name=f"{kind}{i}@bench.example",
                display_name=f"{kind} {i}",
                kdf_params=b"bench",
                auth_key_hash="bench",
                wrapped_usk=b"bench",
                encryption_public_key=enc.public_key,
                signing_public_key=sig.public_key,
                sealed_private_keys=b"bench",
                created_at=now,
            ),
            [storage.Membership(org, role)],
        )
        token = secrets.token_urlsafe(32)
        await store.create_session(
            storage.Session(
                session_id_hash=hashlib.sha256(token.encode()).digest(),
                user_id=uid,
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(hours=6),
                client_address="127.0.0.1",
                mfa_verified=True,
            )
        )
        return {
            "user_id": uid,
            "token": token,
            "signing_private": base64.b64encode(sig.private_key).decode(),
        }

    for i in range(pairs):
        gp = await user("gp", i, practice.org_id, storage.Role.GP)
        derm = await user("derm", i, service.org_id, storage.Role.DERMATOLOGIST)
        case_id = str(uuid.uuid4())
        await store.create_case(
            storage.NewCase(
                case_id,
                practice.org_id,
                service.org_id,
                gp["user_id"],
                storage.Priority.ROUTINE,
                now,
            ),
            [
                storage.Participant(case_id, gp["user_id"], storage.Role.GP, now),
                storage.Participant(case_id, derm["user_id"], storage.Role.DERMATOLOGIST, now),
            ],
            [],
        )
        await store.transition_case(
            case_id,
            storage.CaseState.SUBMITTED,
            storage.CaseState.IN_REVIEW,
            now,
            claimed_by=derm["user_id"],
        )
        plan["pairs"].append(
            {
                "case_id": case_id,
                "case_key": base64.b64encode(os.urandom(32)).decode(),
                "gp": gp,
                "derm": derm,
            }
        )
    await store.close()
    return plan


async def wait_healthy(url: str, path: str = "/healthz") -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url + path) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


def serve_bare(port: int) -> int:
    """The baseline: python-socketio relaying to a room, acking with a counter."""
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=["http://bench"])
    app = web.Application()
    sio.attach(app)
    counter = {"n": 0}

    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, data["case_id"])
        return {"ok": True}

    async def send(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        counter["n"] += 1
        await sio.emit("message", data, room=data["case_id"], skip_sid=sid)
        return {"ok": True, "seq": counter["n"]}

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    sio.on("join", join)
    sio.on("send", send)
    app.router.add_get("/healthz", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _serve(
    args: argparse.Namespace, work: Path, data_dir: Path, env: dict[str, str], node: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    probe = ["bench.serve_probed", str(work / f"probes{node}.json")] if args.probe else ["server"]
    cmd = [
        sys.executable,
        "-m",
        *probe,
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
    return server, f"http://127.0.0.1:{port}"


async def _measure(
    args: argparse.Namespace,
    work: Path,
    plan_file: Path,
    mode: str,
    urls: list[str],
    pids: list[int],
    tag: str,
) -> dict[str, Any]:
    """One load phase against running servers: the load generator in its own process."""
    idle_before = sum(rss_kib(pid) for pid in pids)
    out = work / f"{tag}.json"
    load = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        ",".join(urls),
        "--plan",
        str(plan_file),
        "--rate",
        str(args.rate),
        "--duration",
        str(args.duration),
        "--out",
        str(out),
    ]
    if mode == "bare":
        load.append("--bare")
    marker = work / f"{tag}.connected"
    load += ["--marker", str(marker)]
    load_before = load_average()
    proc = await asyncio.create_subprocess_exec(*load)
    while not marker.exists() and proc.returncode is None:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # settle: every client connected and idle
    idle_after = sum(rss_kib(pid) for pid in pids)
    cpu_before, wall_before = [cpu_seconds(pid) for pid in pids], time.perf_counter()
    done = marker.with_suffix(".done")
    while not done.exists() and proc.returncode is None:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.05)
    wall = time.perf_counter() - wall_before
    cpu = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu_before, strict=True)]
    await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed in {mode} mode")
    result: dict[str, Any] = json.loads(out.read_text())
    result["server_rss_kib_before_clients"] = idle_before
    result["server_rss_kib_clients_idle"] = idle_after
    # Server CPU (1.0 = one core) over the load phase (from the clients' idle settling to the
    # last delivery; the catch-up test after it is left out), and the machine's load: on a
    # shared machine the latencies mean little when the load exceeds the cores.
    result["server_cpu_cores"] = round(sum(cpu) / wall, 2)
    result["server_cpu_cores_per_node"] = [round(c / wall, 2) for c in cpu]
    sends = max(1, int(result.get("all_sends", result["sends"])))
    result["server_cpu_ms_per_message"] = round(sum(cpu) / sends * 1000, 3)
    result["server_cpu_ms_per_message_per_node"] = [round(c / sends * 1000, 3) for c in cpu]
    result["load_average_before"] = load_before
    result["load_average_after"] = load_average()
    clients = result["clients"]
    result["kib_per_idle_client"] = round((idle_after - idle_before) / clients, 1)
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dermline-bench-"))
    data_dir = work / "data"
    args.schema = f"bench_{secrets.token_hex(4)}"
    t0 = time.perf_counter()
    plan = await prepare(storage_config(args, data_dir), args.pairs)
    prepare_s = time.perf_counter() - t0
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(plan))
    results: dict[str, Any] = {
        "pairs": args.pairs,
        "backend": args.backend,
        "nodes": args.nodes,
        "prepare_seconds": round(prepare_s, 1),
    }
    env = dict(os.environ, DERMLINE_LOG_LEVEL="WARNING", DERMLINE_CLIENT_BACKLOG_LIMIT="2048")
    if args.backend == "postgres":
        env["DERMLINE_DATABASE_URL"] = args.dsn
        env["DERMLINE_DATABASE_SCHEMA"] = args.schema
    if args.redis:
        env["DERMLINE_REDIS_URL"] = args.redis
        env["DERMLINE_REDIS_CHANNEL"] = f"dermline-bench-{secrets.token_hex(4)}"
    try:
        servers = []
        try:
            for node in range(args.nodes):
                servers.append(await _serve(args, work, data_dir, env, node))
            urls = [url for _, url in servers]
            for url in urls:
                await wait_healthy(url)
            runs = []
            for r in range(args.runs):
                runs.append(
                    await _measure(
                        args,
                        work,
                        plan_file,
                        "dermline",
                        urls,
                        [proc.pid for proc, _ in servers],
                        f"dermline{r}",
                    )
                )
            results["dermline"] = runs[0] if args.runs == 1 else runs
        finally:
            for proc, _ in servers:
                proc.terminate()
            for proc, _ in servers:
                proc.wait(timeout=30)
        if args.probe:
            results["server_probes"] = [
                json.loads((work / f"probes{n}.json").read_text()) for n in range(args.nodes)
            ]
        if not args.no_bare:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            cmd = [sys.executable, "-m", "bench.bench_realtime", "--serve-bare", str(port)]
            bare = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
            try:
                await wait_healthy(url)
                results["bare"] = await _measure(
                    args, work, plan_file, "bare", [url], [bare.pid], "bare"
                )
            finally:
                bare.terminate()
                bare.wait(timeout=30)
    finally:
        if args.backend == "postgres":
            conn = await asyncpg.connect(args.dsn)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE')
            finally:
                await conn.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.bench_realtime")
    p.add_argument("--pairs", type=int, default=500, help="cases; clients = 2 x pairs")
    p.add_argument("--rate", type=float, default=300, help="messages per second")
    p.add_argument("--duration", type=float, default=20, help="measured seconds")
    p.add_argument("--serve-bare", type=int, default=None, metavar="PORT")
    p.add_argument(
        "--probe",
        action="store_true",
        help="run the server under bench.serve_probed: loop lag, GC pauses, write and send times",
    )
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--dsn", default=os.environ.get("DERMLINE_TEST_POSTGRES_DSN"))
    p.add_argument("--nodes", type=int, default=1, help="server processes (PostgreSQL only)")
    p.add_argument("--redis", default=None, help="Redis URL (needed for --nodes > 1)")
    p.add_argument("--runs", type=int, default=1, help="Dermline load phases, same data")
    p.add_argument("--no-bare", action="store_true", help="leave out the bare relay")
    args = p.parse_args(argv)
    if args.serve_bare is not None:
        return serve_bare(args.serve_bare)
    if args.backend == "postgres" and not args.dsn:
        p.error("--backend postgres needs --dsn or DERMLINE_TEST_POSTGRES_DSN")
    if args.nodes > 1 and (args.backend != "postgres" or not args.redis):
        p.error("--nodes > 1 needs --backend postgres and --redis")
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
