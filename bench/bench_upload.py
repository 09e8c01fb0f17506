"""Photo upload / download throughput on loopback (issue 6 "Performance": "upload of a 10 MB
encrypted photo on loopback at least 100 MB/s").

    python -m bench.bench_upload [--size-mb 10] [--runs 10]

1. Prepares a data directory through the storage interface (``bench.bench_realtime.prepare``:
   a GP and a dermatologist with signed-in, two-factor sessions, and a claimed case), and
   computes the GP's CSRF token from the server secret it creates there.
2. Starts the real server (``python -m server serve``, SQLite, blob store on disk) in its own
   process, so client and server do not share an event loop or a core's Python lock.
3. Encrypts one photo-sized plaintext with the protocol's attachment format
   (``crypto.attachment``; random bytes stand in for a prepared JPEG, which the server never
   decodes) and uploads it ``runs`` times under fresh attachment ids: what is timed is the
   whole HTTP request, from the first byte sent to the ``201`` answer. The server streams
   the body, seals it at rest (AES-256-GCM per 1 MiB chunk), fsyncs file and folder, checks
   the SHA-256 and records the attachment row before answering. The client's encryption is
   done once, before timing (it is the client's cost, not the transfer's).
4. Downloads it ``runs`` times (server opens the at-rest seal chunk by chunk) and checks the
   SHA-256 of every download against the record's.

Prints JSON: MB/s (10^6 bytes per second) median and min for each direction.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_realtime import free_port, prepare, wait_healthy
from crypto.attachment import encrypt_attachment, new_file_key
from server.api.middleware import csrf_token_for
from server.keyfile import derive_key, load_server_secret


def _mbps(size: int, seconds: float) -> float:
    return round(size / seconds / 1e6, 1)


async def measure(url: str, plan: dict[str, Any], csrf: str, record: bytes, runs: int) -> Any:
    pair = plan["pairs"][0]
    case_url = f"{url}/api/v1/cases/{pair['case_id']}/attachments"
    sha = hashlib.sha256(record).hexdigest()
    cookies = {"dermline_session": pair["gp"]["token"]}
    up: list[float] = []
    down: list[float] = []
    async with aiohttp.ClientSession(cookies=cookies) as http:
        ids = []
        for i in range(runs + 1):  # the first of each direction warms up and is not counted
            attachment_id = str(uuid.uuid4())
            headers = {
                "Content-Type": "application/octet-stream",
                "X-Attachment-Id": attachment_id,
                "X-Ciphertext-SHA256": sha,
                "X-CSRF-Token": csrf,
            }
            t0 = time.perf_counter()
            async with http.post(case_url, data=io.BytesIO(record), headers=headers) as resp:
                body = await resp.json()
            elapsed = time.perf_counter() - t0
            if resp.status != 201 or body["ciphertext_sha256"] != sha:
                raise RuntimeError(f"upload failed: {resp.status}")
            ids.append(attachment_id)
            if i:
                up.append(elapsed)
        for i, attachment_id in enumerate(ids):
            t0 = time.perf_counter()
            async with http.get(f"{case_url}/{attachment_id}") as resp:
                data = await resp.read()
            elapsed = time.perf_counter() - t0
            if resp.status != 200 or hashlib.sha256(data).hexdigest() != sha:
                raise RuntimeError(f"download failed: {resp.status}")
            if i:
                down.append(elapsed)
    return up, down


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dermline-bench-upload-"))
    data_dir = work / "data"
    plan = await prepare(data_dir, 1)
    # The same secret the server will load from the data directory (no environment secret).
    csrf = csrf_token_for(
        derive_key(load_server_secret(data_dir, {}), "csrf"), plan["pairs"][0]["gp"]["token"]
    )
    plaintext = os.urandom(int(args.size_mb * 1e6))
    record, digest = encrypt_attachment(new_file_key(), plaintext)
    assert hashlib.sha256(record).digest() == digest
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DERMLINE_SERVER_SECRET"}
    env["DERMLINE_LOG_LEVEL"] = "WARNING"
    cmd = [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        await wait_healthy(url)
        up, down = await measure(url, plan, csrf, record, args.runs)
    finally:
        server.terminate()
        server.wait(timeout=30)
    size = len(record)
    return {
        "record_bytes": size,
        "runs": args.runs,
        "upload_mb_per_s": {
            "median": _mbps(size, statistics.median(up)),
            "min": _mbps(size, max(up)),
        },
        "download_mb_per_s": {
            "median": _mbps(size, statistics.median(down)),
            "min": _mbps(size, max(down)),
        },
        "upload_ms": {"median": round(statistics.median(up) * 1000, 1)},
        "download_ms": {"median": round(statistics.median(down) * 1000, 1)},
        "cpus": os.cpu_count(),
        "load_average_after": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.bench_upload")
    p.add_argument("--size-mb", type=float, default=10, help="plaintext size, 10^6 bytes")
    p.add_argument("--runs", type=int, default=10, help="timed uploads and downloads")
    args = p.parse_args(argv)
    if args.runs < 1 or not 0 < args.size_mb <= 19:
        p.error("--runs >= 1 and 0 < --size-mb <= 19 (the default upload cap is 20 MiB)")
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
