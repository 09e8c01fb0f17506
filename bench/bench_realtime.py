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

import storage
from crypto.account import generate_key_pair

__all__ = ["main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(data_dir: Path, pairs: int) -> dict[str, Any]:
    store = await storage.open_storage(storage.StorageConfig(data_dir=data_dir))
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


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dermline-bench-"))
    data_dir = work / "data"
    t0 = time.perf_counter()
    plan = await prepare(data_dir, args.pairs)
    prepare_s = time.perf_counter() - t0
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(plan))
    results: dict[str, Any] = {"pairs": args.pairs, "prepare_seconds": round(prepare_s, 1)}
    env = dict(os.environ, DERMLINE_LOG_LEVEL="WARNING", DERMLINE_CLIENT_BACKLOG_LIMIT="2048")
    for mode in ("dermline", "bare"):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        if mode == "dermline":
            probe = ["bench.serve_probed", str(work / "probes.json")] if args.probe else ["server"]
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
        else:
            cmd = [sys.executable, "-m", "bench.bench_realtime", "--serve-bare", str(port)]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
        try:
            await wait_healthy(url)
            idle_before = rss_kib(server.pid)
            out = work / f"{mode}.json"
            load = [
                sys.executable,
                "-m",
                "bench.loadgen",
                "--url",
                url,
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
            marker = work / f"{mode}.connected"
            load += ["--marker", str(marker)]
            proc = await asyncio.create_subprocess_exec(*load)
            while not marker.exists() and proc.returncode is None:  # noqa: ASYNC110 - another process
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.5)  # settle: every client connected and idle
            idle_after = rss_kib(server.pid)
            cpu_before, wall_before = cpu_seconds(server.pid), time.perf_counter()
            await proc.wait()
            cpu_share = (cpu_seconds(server.pid) - cpu_before) / (time.perf_counter() - wall_before)
            if proc.returncode != 0:
                raise RuntimeError(f"load generator failed in {mode} mode")
            results[mode] = json.loads(out.read_text())
            results[mode]["server_rss_kib_before_clients"] = idle_before
            results[mode]["server_rss_kib_clients_idle"] = idle_after
            # Server CPU (1.0 = one core) over the load phase, and the machine's load: on a
            # shared machine the latencies mean little when the load exceeds the cores.
            results[mode]["server_cpu_cores"] = round(cpu_share, 2)
            results[mode]["load_average_after"] = load_average()
            clients = results[mode]["clients"]
            results[mode]["kib_per_idle_client"] = round((idle_after - idle_before) / clients, 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
        if mode == "dermline" and args.probe:
            results[mode]["server_probes"] = json.loads((work / "probes.json").read_text())
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
    args = p.parse_args(argv)
    if args.serve_bare is not None:
        return serve_bare(args.serve_bare)
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
