"""Photos over HTTP: streamed, size-capped, hash-checked, ciphertext only, authorised."""

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from client_py.api import ApiError
from client_py.client import DermlineClient
from crypto.attachment import encrypt_attachment, new_file_key
from crypto.content import ContentType
from server.domain.attachments import MIN_ATTACHMENT_BYTES
from server.logs import LOGGER_NAME
from tests.samples import HISTORY
from tests.server.harness import live_server, make_world


async def test_photo_round_trip_and_limits(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data", max_upload_bytes=2 * 1024 * 1024) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        photo = b"\xff\xd8\xff" + os.urandom(300_000)  # stands in for a prepared JPEG
        seq = await gp.upload_photo(case_id, photo, tag="close_up", body_site="left forearm")
        assert seq == 2
        msgs = await derm.messages(case_id)
        ctype, ref = await derm.open(msgs[-1])
        assert ctype is ContentType.PHOTO_REFERENCE
        assert await derm.download_photo(case_id, ref) == photo
        listed = (await derm.api.get(f"/api/v1/cases/{case_id}/attachments"))["attachments"]
        assert [a["attachment_id"] for a in listed] == [ref["attachment_id"]]
        assert listed[0]["ciphertext_sha256"] == ref["ciphertext_sha256"]

        url = f"{live.url}/api/v1/cases/{case_id}/attachments"
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Attachment-Id": "3f1c2b9a-1111-4222-8333-444455556666",
            "X-CSRF-Token": gp.api.csrf_token or "",
        }
        session = gp.api.session
        # Over the cap: 413, nothing stored.
        big = os.urandom(2 * 1024 * 1024 + 1)
        async with session.post(
            url, data=io.BytesIO(big), headers={**headers, "X-Ciphertext-SHA256": "00" * 32}
        ) as resp:
            assert resp.status == 413
        # Declared hash differs from what arrived: 422.
        async with session.post(
            url, data=b"abc" * 50, headers={**headers, "X-Ciphertext-SHA256": "00" * 32}
        ) as resp:
            assert resp.status == 422
            assert (await resp.json())["error"]["code"] == "hash_mismatch"
        async with session.post(
            url,
            data=b"abc",
            headers={**headers, "Content-Type": "image/jpeg", "X-Ciphertext-SHA256": "00" * 32},
        ) as resp:
            assert resp.status == 415
        listed = (await gp.api.get(f"/api/v1/cases/{case_id}/attachments"))["attachments"]
        assert len(listed) == 1
        blobs = [p for p in (tmp_path / "data" / "blobs").rglob("*.blob")]
        assert len(blobs) == 1
        assert photo[3:40] not in blobs[0].read_bytes()


async def test_photo_access_is_authorised(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await w.gp.client.upload_photo(case_id, b"photo bytes", tag="locator", body_site="back")
        _, ref = await w.derm.client.open((await w.derm.client.messages(case_id))[-1])
        other = await w.admin.client.create_organisation("practice", "Oak")
        stranger = await live.person(
            await w.admin.client.invite(other["org_id"], "gp"), "s@example.org", "S"
        )
        with pytest.raises(ApiError) as err:
            await stranger.client.download_photo(case_id, ref)
        assert err.value.status == 404
        # The dermatologist has not claimed: may read, may not upload.
        with pytest.raises(ApiError) as err:
            await w.derm.client.upload_photo(case_id, b"x", tag="locator", body_site="back")
        assert err.value.status == 403
        async with (
            aiohttp.ClientSession() as anon,
            anon.get(
                f"{live.url}/api/v1/cases/{case_id}/attachments/{ref['attachment_id']}"
            ) as resp,
        ):
            assert resp.status == 401


# ---------------------------------------------------------------- bad uploads


def _record(plaintext: bytes) -> tuple[bytes, str]:
    """A real attachment record (crypto.attachment) and its SHA-256 in hex."""
    record, digest = encrypt_attachment(new_file_key(), plaintext)
    return record, digest.hex()


def _left_behind(data: Path) -> tuple[list[Path], list[Path]]:
    """Blob files and temp files in the blob store."""
    return sorted(data.glob("blobs/??/*.blob")), sorted(data.glob("blobs/tmp/*"))


async def _post(
    gp: DermlineClient,
    url: str,
    body: Any,
    *,
    attachment_id: str,
    sha: str,
    extra: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {
        "Content-Type": "application/octet-stream",
        "X-Attachment-Id": attachment_id,
        "X-Ciphertext-SHA256": sha,
        "X-CSRF-Token": gp.api.csrf_token or "",
        **(extra or {}),
    }
    if isinstance(body, bytes):
        body = io.BytesIO(body)  # aiohttp warns about large raw bytes bodies
    async with gp.api.session.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def _raw_upload(
    live_url: str,
    gp: DermlineClient,
    path: str,
    head: dict[str, str],
    body: bytes,
    *,
    answered: bool,
) -> bytes:
    """Send a request's head and ``body`` over a raw socket, then close our side; return
    whatever the server answered (``answered``: wait for the whole answer; otherwise listen
    briefly and expect nothing)."""
    host, port = live_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Cookie: {gp.api.cookie_header()}",
        f"X-CSRF-Token: {gp.api.csrf_token}",
        "Content-Type: application/octet-stream",
        *(f"{k}: {v}" for k, v in head.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    return await _finish(reader, writer, answered)


async def _finish(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answered: bool
) -> bytes:
    # An expected answer may take a while on a busy machine, and may come in more than one
    # read: wait for its first bytes without a tight limit, then read on until the server
    # closes or goes quiet. Silence is only listened for briefly (it cannot end early).
    out = b""
    wait = 30.0 if answered else 0.5
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), timeout=wait):
            out += chunk
            wait = 0.5
    except TimeoutError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return out


async def test_bad_uploads_are_refused_with_stable_codes_and_store_nothing(
    tmp_path: Path,
) -> None:
    cap = 256 * 1024
    data = tmp_path / "data"
    async with live_server(data, max_upload_bytes=cap) as live:
        w = await make_world(live)
        gp = w.gp.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        path = f"/api/v1/cases/{case_id}/attachments"
        url = live.url + path
        record, sha = _record(b"\xff\xd8\xff" + os.urandom(5000))
        short = record[: MIN_ATTACHMENT_BYTES - 1]
        aid = str(uuid.uuid4())

        async def chunked() -> AsyncIterator[bytes]:
            yield record[:100]
            yield record[100:]

        refusals: list[tuple[int, str, Any, dict[str, str]]] = [
            # Chunked transfer: no Content-Length, refused before the body is read.
            (411, "length_required", chunked(), {}),
            # Zero bytes, and one byte short of the smallest attachment record.
            (422, "empty_upload", b"", {"X-Ciphertext-SHA256": hashlib.sha256().hexdigest()}),
            (
                422,
                "empty_upload",
                short,
                {"X-Ciphertext-SHA256": hashlib.sha256(short).hexdigest()},
            ),
            # The bytes are fine, the declared hash is another one.
            (422, "hash_mismatch", record, {"X-Ciphertext-SHA256": "ab" * 32}),
            # More than the cap arrives (streamed cap) ...
            (413, "payload_too_large", os.urandom(cap + 1), {}),
            # Malformed headers, the value never echoed.
            (400, "invalid_header", record, {"X-Attachment-Id": "not-a-uuid"}),
            # Upper case (with a letter for certain: a random id has none once in a million).
            (400, "invalid_header", record, {"X-Attachment-Id": (aid[:-1] + "a").upper()}),
            (400, "invalid_header", record, {"X-Attachment-Id": "{" + aid + "}"}),
            (400, "invalid_header", record, {"X-Attachment-Id": ""}),
            (400, "invalid_header", record, {"X-Ciphertext-SHA256": "zz" * 32}),
            (400, "invalid_header", record, {"X-Ciphertext-SHA256": sha[:-2]}),
            (400, "invalid_header", record, {"X-Ciphertext-SHA256": ""}),
            (415, "unsupported_media_type", record, {"Content-Type": "image/jpeg"}),
        ]
        for status, code, body, extra in refusals:
            got, answer = await _post(gp, url, body, attachment_id=aid, sha=sha, extra=extra)
            assert (got, answer["error"]["code"]) == (status, code), (status, code)
            assert "not-a-uuid" not in answer["error"]["message"]

        # Content-Length itself over the cap: 413 before any body byte is sent.
        answer = await _raw_upload(
            live.url,
            gp,
            path,
            {"Content-Length": str(cap + 1), "X-Attachment-Id": aid, "X-Ciphertext-SHA256": sha},
            b"",
            answered=True,
        )
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b'"payload_too_large"' in answer

        assert (await gp.api.get(f"{path}"))["attachments"] == []
        assert _left_behind(data) == ([], [])
        # After all that, the same upload goes through.
        got, answer = await _post(gp, url, record, attachment_id=aid, sha=sha)
        assert got == 201 and answer["attachment_id"] == aid and answer["size"] == len(record)
        assert len(_left_behind(data)[0]) == 1


@pytest.mark.parametrize("production_runner", [True, False], ids=["run_app", "cancelling"])
async def test_truncated_upload_stores_nothing_and_server_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, production_runner: bool
) -> None:
    """Production (``web.run_app``) lets the handler run on: the cut-short body is refused
    as ``upload_incomplete``. A server that cancels handlers on disconnect (aiohttp's test
    server) must clean up just the same (the blob store's cancellation-safe abort)."""
    data = tmp_path / "data"
    # The dermline logger does not propagate (server.logs): listen on it directly.
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    async with live_server(data, production_runner=production_runner) as live:
        w = await make_world(live)
        gp = w.gp.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        path = f"/api/v1/cases/{case_id}/attachments"
        record, sha = _record(os.urandom(3 * 1024 * 1024))
        aid = str(uuid.uuid4())
        head = {
            "Content-Length": str(len(record)),
            "X-Attachment-Id": aid,
            "X-Ciphertext-SHA256": sha,
        }
        # Headers, then about 1.5 MiB of the body (more than a blob chunk, so the blob
        # store has begun writing its temp file), then the client goes away.
        answer = await _raw_upload(
            live.url, gp, path, head, record[: len(record) // 2], answered=False
        )
        assert answer == b""  # nobody to answer: the server is still waiting for bytes
        # The server notices the close; wait (bounded) until it is done with the request.

        def upload_statuses() -> set[str]:
            return {
                r.__dict__["fields"]["status"]
                for r in caplog.records
                if r.getMessage() == "http.request"
                and r.__dict__["fields"].get("route", "").endswith("/attachments")
            }

        def done() -> bool:
            if production_runner:
                return bool(upload_statuses())
            # A cancelled handler answers nobody and logs no request line.
            return bool(list(data.glob("blobs/tmp/*.part"))) is False

        for _ in range(1500):  # up to 30 s: a busy machine can take more than a moment
            if done():
                break
            await asyncio.sleep(0.02)
        # Refused as upload_incomplete (400), never an internal error; nothing left behind.
        assert upload_statuses() == ({"400"} if production_runner else set())
        assert not [r for r in caplog.records if r.getMessage() == "http.internal_error"]
        assert _left_behind(data) == ([], [])
        logger.removeHandler(caplog.handler)
        assert (await gp.api.get(path))["attachments"] == []
        # Still serving, and the same id can then be uploaded in full.
        got, body = await _post(gp, live.url + path, record, attachment_id=aid, sha=sha)
        assert got == 201 and body["ciphertext_sha256"] == sha
        blobs, temps = _left_behind(data)
        assert (len(blobs), temps) == (1, [])


async def test_retry_is_idempotent_and_a_clash_is_a_conflict(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with live_server(data) as live:
        w = await make_world(live)
        gp = w.gp.client
        case_a = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        case_b = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        url_a = f"{live.url}/api/v1/cases/{case_a}/attachments"
        url_b = f"{live.url}/api/v1/cases/{case_b}/attachments"
        record, sha = _record(os.urandom(70_000))
        aid = str(uuid.uuid4())
        first = await _post(gp, url_a, record, attachment_id=aid, sha=sha)
        assert first[0] == 201
        # The answer was lost; the client sends the same upload again: the stored one.
        again = await _post(gp, url_a, record, attachment_id=aid, sha=sha)
        assert again == (200, first[1])
        assert len(_left_behind(data)[0]) == 1

        other, other_sha = _record(os.urandom(70_000))
        clashes = [
            (url_a, other, other_sha),  # same id, another ciphertext
            (url_b, record, sha),  # same id and bytes, another case
        ]
        for url, body, digest in clashes:
            got, answer = await _post(gp, url, body, attachment_id=aid, sha=digest)
            assert (got, answer["error"]["code"]) == (409, "conflict")
        # A retry whose bytes do not match the hash it declares is still a mismatch.
        got, answer = await _post(gp, url_a, other, attachment_id=aid, sha=sha)
        assert (got, answer["error"]["code"]) == (422, "hash_mismatch")
        # Another participant re-using the id in the same case: not a retry of theirs.
        await w.derm.client.move(case_a, "claim")
        got, answer = await _post(w.derm.client, url_a, record, attachment_id=aid, sha=sha)
        assert (got, answer["error"]["code"]) == (409, "conflict")

        assert (await gp.api.get(f"/api/v1/cases/{case_b}/attachments"))["attachments"] == []
        listed = (await gp.api.get(f"/api/v1/cases/{case_a}/attachments"))["attachments"]
        assert [a["ciphertext_sha256"] for a in listed] == [sha]
        blobs, temps = _left_behind(data)
        assert (len(blobs), temps) == (1, [])
        # A's attachment is not reachable through B's URL (nor B's through A's).
        async with gp.api.session.get(f"{url_b}/{aid}") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"


async def test_upload_to_a_case_out_of_reach_is_not_found(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with live_server(data) as live:
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        other = await w.admin.client.create_organisation("practice", "Oak")
        stranger = await live.person(
            await w.admin.client.invite(other["org_id"], "gp"), "s@example.org", "S"
        )
        record, sha = _record(os.urandom(10_000))
        for case in (case_id, str(uuid.uuid4())):  # another organisation's, and no case
            got, answer = await _post(
                stranger.client,
                f"{live.url}/api/v1/cases/{case}/attachments",
                record,
                attachment_id=str(uuid.uuid4()),
                sha=sha,
            )
            assert (got, answer["error"]["code"]) == (404, "not_found")
        assert (await w.gp.client.api.get(f"/api/v1/cases/{case_id}/attachments")) == {
            "attachments": []
        }
        assert _left_behind(data) == ([], [])
