"""Load generator for the real-time benchmark (runs in its own process).

    python -m bench.loadgen --url URL --plan plan.json --rate 300 --duration 20 \
        --out result.json [--bare]

The plan (written by ``bench.bench_realtime``) lists case pairs: a GP and a dermatologist,
each with a session token, a user id and a signing key, and the case key. Every user gets
one Socket.IO connection (so 500 pairs = 1,000 connected clients). Messages are sealed
with the real protocol (``crypto.envelope``) before the clock starts for each send.

For each message: send-to-acknowledgement = ack time - send time (the server has
committed it durably and assigned its seq); send-to-delivery = the time the *other*
party's client receives the ``message`` event - send time. ``--bare`` runs the same load
against the bare python-socketio relay (no auth, no storage) for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import socketio

from crypto.account import key_pair_from_private
from crypto.content import ContentType, encode_content
from crypto.envelope import GENESIS_HASH, seal_message

__all__ = ["main"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Load:
    def __init__(
        self, url: str, plan: dict[str, Any], bare: bool, marker: Path | None = None
    ) -> None:
        self.marker = marker
        #: one URL per node (comma-separated): pair i's GP uses node i, its dermatologist
        #: node i + 1, so that with several nodes every message crosses through Redis
        self.urls = url.split(",")
        self.url = self.urls[0]
        self.plan = plan
        self.bare = bare
        self.sent: dict[str, float] = {}
        self.ack_ms: list[float] = []
        self.delivery_ms: list[float] = []
        self.errors = 0
        self.measuring = False
        self.clients: dict[str, socketio.AsyncClient] = {}

    async def connect_one(self, user: dict[str, Any], case_id: str, url: str) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        me = user["user_id"]

        async def on_message(data: dict[str, Any]) -> None:
            if data.get("sender_id") == me:
                return  # our own echo
            t0 = self.sent.get(data["client_msg_id"])
            if t0 is not None and self.measuring:
                self.delivery_ms.append((time.perf_counter() - t0) * 1000)

        sio.on("message", on_message)
        headers = {} if self.bare else {"Cookie": f"dermline_session={user['token']}"}
        await sio.connect(url, headers=headers, transports=["websocket"], wait_timeout=30)
        answer = await sio.call("join", {"case_id": case_id}, timeout=30)
        if not answer.get("ok"):
            raise RuntimeError(f"join refused: {answer}")
        self.clients[me] = sio

    async def connect_all(self) -> float:
        start = time.perf_counter()
        jobs = []
        n = len(self.urls)
        for i, pair in enumerate(self.plan["pairs"]):
            for shift, role in enumerate(("gp", "derm")):
                jobs.append((pair[role], pair["case_id"], self.urls[(i + shift) % n]))
        for i in range(0, len(jobs), 50):
            await asyncio.gather(*(self.connect_one(u, c, url) for u, c, url in jobs[i : i + 50]))
        return time.perf_counter() - start

    def seal(self, pair: dict[str, Any], role: str, n: int) -> tuple[str, str]:
        user = pair[role]
        msg_id = str(uuid.uuid4())
        envelope = seal_message(
            encode_content(ContentType.TEXT, {"text": f"load message {n}"}),
            case_key=base64.b64decode(pair["case_key"]),
            case_id=uuid.UUID(pair["case_id"]),
            epoch=0,
            client_message_id=uuid.UUID(msg_id),
            sender_user_id=uuid.UUID(user["user_id"]),
            sender_signing_key=user["keypair"],
            content_type=ContentType.TEXT,
            previous_hash=GENESIS_HASH,
        )
        return msg_id, b64(envelope)

    async def send_one(self, pair: dict[str, Any], role: str, n: int) -> None:
        msg_id, envelope = self.seal(pair, role, n)
        sio = self.clients[pair[role]["user_id"]]
        t0 = time.perf_counter()
        self.sent[msg_id] = t0
        try:
            answer = await sio.call(
                "send",
                {"case_id": pair["case_id"], "client_msg_id": msg_id, "envelope": envelope},
                timeout=30,
            )
        except Exception:
            self.errors += 1
            return
        if not answer.get("ok"):
            self.errors += 1
            return
        if self.measuring:
            self.ack_ms.append((time.perf_counter() - t0) * 1000)

    async def catch_up(self, missed: int) -> dict[str, float]:
        """A client that missed ``missed`` messages catches up with
        ``sync`` (rooms first, then replay in batches). Timed from the first sync call
        until every missed message is in hand."""
        pair = self.plan["pairs"][0]
        sender = self.clients[pair["derm"]["user_id"]]
        before = 0
        for n in range(missed):
            msg_id, envelope = self.seal(pair, "derm", n)
            answer = await sender.call(
                "send",
                {"case_id": pair["case_id"], "client_msg_id": msg_id, "envelope": envelope},
                timeout=30,
            )
            if n == 0:
                before = int(answer["seq"]) - 1  # the GP has seen everything up to here
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            self.url,
            headers={"Cookie": f"dermline_session={pair['gp']['token']}"},
            transports=["websocket"],
            wait_timeout=30,
        )
        got = 0
        last = before
        start = time.perf_counter()
        while got < missed:
            answer = await sio.call(
                "sync", {"cases": {pair["case_id"]: last}, "limit": 500}, timeout=30
            )
            msgs = answer["cases"][pair["case_id"]]["messages"]
            if not msgs:
                break
            got += len(msgs)
            last = msgs[-1]["seq"]
        elapsed = (time.perf_counter() - start) * 1000
        await sio.disconnect()
        return {"missed": missed, "received": got, "ms": round(elapsed, 1)}

    async def run(self, rate: float, duration: float, warmup: float) -> dict[str, Any]:
        for pair in self.plan["pairs"]:
            for role in ("gp", "derm"):
                pair[role]["keypair"] = key_pair_from_private(
                    base64.b64decode(pair[role]["signing_private"])
                )
        connect_s = await self.connect_all()
        if self.marker is not None:
            # The orchestrator samples the server's memory with every client connected and
            # idle, then lets us go on.
            self.marker.write_text("connected")
            await asyncio.sleep(3)
        pairs = self.plan["pairs"]
        tasks: set[asyncio.Task[None]] = set()
        interval = 1.0 / rate
        loop = asyncio.get_running_loop()
        start = loop.time()
        wall_start = time.time()  # for lining up with the server's probes (bench.serve_probed)
        n = 0
        measured_sends = 0
        while True:
            now = loop.time()
            elapsed = now - start
            if elapsed >= warmup + duration:
                break
            self.measuring = elapsed >= warmup
            due = start + n * interval
            if due > now:
                await asyncio.sleep(due - now)
            pair = pairs[n % len(pairs)]
            role = "gp" if (n // len(pairs)) % 2 == 0 else "derm"
            task = loop.create_task(self.send_one(pair, role, n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if self.measuring:
                measured_sends += 1
            n += 1
        self.measuring = True
        wall_end = time.time()
        await asyncio.gather(*tasks)
        await asyncio.sleep(1.0)  # let the last deliveries arrive
        if self.marker is not None:
            # The orchestrator reads the servers' CPU here, before the catch-up test.
            self.marker.with_suffix(".done").write_text("done")
        catchup = None if self.bare else await self.catch_up(1000)
        for sio in self.clients.values():
            await sio.disconnect()
        return {
            "catch_up_1000": catchup,
            "mode": "bare" if self.bare else "dermline",
            "clients": len(self.clients),
            "connect_seconds": round(connect_s, 2),
            "target_rate": rate,
            "achieved_rate": round(measured_sends / duration, 1),
            "sends": measured_sends,
            # every send of the load phase, the warm-up's included (the servers' CPU is
            # measured over all of them)
            "all_sends": n,
            "errors": self.errors,
            "ack_ms": summary(self.ack_ms),
            "delivery_ms": summary(self.delivery_ms),
            "load_wall_seconds": [round(wall_start, 3), round(wall_end, 3)],
        }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else float("nan"),
        "mean": round(statistics.fmean(values), 2) if values else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.loadgen")
    p.add_argument("--url", required=True)
    p.add_argument("--plan", type=Path, required=True)
    p.add_argument("--rate", type=float, default=300)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--bare", action="store_true")
    p.add_argument("--marker", type=Path, default=None)
    args = p.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    result = asyncio.run(
        Load(args.url, plan, args.bare, args.marker).run(args.rate, args.duration, args.warmup)
    )
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
