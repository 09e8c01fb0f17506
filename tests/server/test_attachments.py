"""Photos over HTTP: streamed, size-capped, hash-checked, ciphertext only, authorised."""

import io
import os
from pathlib import Path

import aiohttp
import pytest

from client_py.api import ApiError
from crypto.content import ContentType
from tests.server.harness import HISTORY, live_server, make_world


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
            url, data=b"abc", headers={**headers, "X-Ciphertext-SHA256": "00" * 32}
        ) as resp:
            assert resp.status == 422
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
