"""A request body that stalls after its headers (or between chunks of a photo upload) is
answered ``408 request_timeout`` after ``DERMLINE_BODY_READ_TIMEOUT`` instead of holding the
connection open; a body cut short by the client is a ``400``, never an internal error; and
nothing of a stalled upload is left in the blob store."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import uuid
from pathlib import Path

from crypto.attachment import encrypt_attachment, new_file_key
from tests.samples import HISTORY
from tests.server.harness import Live, live_server, make_world
from tests.server.logcapture import Captured, captured_log

#: The server's timeout in these tests, and how long a test waits for its answer at most
#: (a busy machine can be slow; the old code never answered at all).
TIMEOUT = 1
PATIENCE = 30.0


async def _send_and_stall(live: Live, head: list[str], body: bytes, *, close: bool) -> bytes:
    """Send a request's head and part of its body, then either wait for an answer without
    sending more (``close`` False) or go away (``close`` True); return what came back."""
    host, port = live.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(("\r\n".join([*head, f"Host: {host}:{port}"]) + "\r\n\r\n").encode() + body)
    await writer.drain()
    out = b""
    try:
        if not close:
            # Until the whole answer is in: after a 408 the server lingers a while, reading
            # and dropping what else comes, before it closes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PATIENCE):
                    while not _complete(out) and (chunk := await reader.read(65536)):
                        out += chunk
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return out


def _complete(raw: bytes) -> bool:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _answer(raw: bytes) -> tuple[int, dict[str, object], str]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), head.decode()


async def _wait_for_request_line(log: Captured, route_end: str) -> list[str]:
    for _ in range(int(PATIENCE / 0.02)):
        statuses = [
            str(f["status"])
            for f in log.fields("http.request")
            if str(f.get("route", "")).endswith(route_end)
        ]
        if statuses:
            return statuses
        await asyncio.sleep(0.02)
    return []


def _no_errors(log: Captured) -> None:
    assert log.events(logging.ERROR) == []
    assert "http.internal_error" not in log.events()


async def test_a_stalled_json_body_is_answered_408(tmp_path: Path) -> None:
    with captured_log() as log:
        async with live_server(
            tmp_path / "data", production_runner=True, body_read_timeout=TIMEOUT
        ) as live:
            head = [
                "POST /api/v1/auth/prelogin HTTP/1.1",
                "Content-Type: application/json",
                "Content-Length: 200",
            ]
            raw = await _send_and_stall(live, head, b'{"login_name": ', close=False)
            assert raw, "no answer: the server is still waiting for the body"
            status, answer, head_text = _answer(raw)
            assert status == 408 and answer["error"]["code"] == "request_timeout"  # type: ignore[index]
            assert "connection: close" in head_text.lower()
            # The next request on a fresh connection is served as usual.
            client = live.client()
            assert "kdf_params" in await client.api.post(
                "/api/v1/auth/prelogin", {"login_name": "someone@example.org"}
            )
    _no_errors(log)


async def test_a_json_body_cut_short_is_a_400_not_an_internal_error(tmp_path: Path) -> None:
    with captured_log() as log:
        async with live_server(tmp_path / "data", production_runner=True) as live:
            head = [
                "POST /api/v1/auth/prelogin HTTP/1.1",
                "Content-Type: application/json",
                "Content-Length: 200",
            ]
            assert await _send_and_stall(live, head, b'{"login_name": ', close=True) == b""
            assert await _wait_for_request_line(log, "/auth/prelogin") == ["400"]
    _no_errors(log)


async def test_an_upload_stalled_between_chunks_is_answered_408_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with captured_log() as log:
        async with live_server(data, production_runner=True, body_read_timeout=TIMEOUT) as live:
            w = await make_world(live)
            gp = w.gp.client
            case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
            path = f"/api/v1/cases/{case_id}/attachments"
            record, digest = encrypt_attachment(new_file_key(), os.urandom(3 * 1024 * 1024))
            aid = str(uuid.uuid4())
            head = [
                f"POST {path} HTTP/1.1",
                f"Cookie: {gp.api.cookie_header()}",
                f"X-CSRF-Token: {gp.api.csrf_token}",
                "Content-Type: application/octet-stream",
                f"Content-Length: {len(record)}",
                f"X-Attachment-Id: {aid}",
                f"X-Ciphertext-SHA256: {digest.hex()}",
            ]
            # More than a blob chunk (the store has begun its temp file), then silence.
            raw = await _send_and_stall(live, head, record[: len(record) // 2], close=False)
            assert raw, "no answer: the server is still waiting for the body"
            status, answer, _ = _answer(raw)
            assert status == 408 and answer["error"]["code"] == "request_timeout"  # type: ignore[index]
            assert sorted(data.glob("blobs/??/*.blob")) == []
            assert sorted(data.glob("blobs/tmp/*")) == []
            assert (await gp.api.get(path))["attachments"] == []
            # The same upload then goes through.
            stored = await gp.api.session.post(
                live.url + path,
                data=io.BytesIO(record),
                headers={
                    "Content-Type": "application/octet-stream",
                    "X-Attachment-Id": aid,
                    "X-Ciphertext-SHA256": digest.hex(),
                    "X-CSRF-Token": gp.api.csrf_token or "",
                },
            )
            assert stored.status == 201
            stored.release()
    _no_errors(log)
