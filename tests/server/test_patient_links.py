"""Patient photo links over HTTP and Socket.IO (docs/api.md).

The GP makes a link, a patient without an account sends photos through it, the
dermatologist and the GP open them; single use, expiry, revocation, rate limits, bad
uploads and the audit trail."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import TypeAdapter

from client_py.api import ApiError, b64e
from client_py.patient import (
    LINK_TOKEN_HEADER,
    PatientPhotoIn,
    create_patient_link,
    fetch_patient_photos,
    send_patient_photos,
)
from crypto.account import generate_key_pair
from crypto.errors import PatientLinkFormatError
from crypto.patient_drop import PatientPhoto, parse_link_fragment, seal_patient_photo
from server.app import ROUTES
from server.wire.schemas import ErrorResponse
from tests.samples import HISTORY
from tests.server.harness import ORIGIN, Live, World, live_server, make_world


def photo(n: int, **kw: Any) -> PatientPhotoIn:
    return PatientPhotoIn(
        image=b"\xff\xd8\xff" + os.urandom(50_000 + n),
        thumbnail=b"\xff\xd8\xff" + os.urandom(2_000 + n),
        tag="close_up",
        body_site=f"CANARY-SITE-{n}",
        **kw,
    )


async def audit_actions(live: Live) -> list[tuple[str, str | None]]:
    return [(e.event.action, e.event.target) for e in await live.store.list_audit()]


async def new_case(w: World) -> str:
    return await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)


async def post_raw(
    live: Live, path: str, token: bytes | str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    """POST a patient route without any cookie; the answer must match the OpenAPI document
    (the route's response model, or the error schema with a status the route declares)."""
    header = token if isinstance(token, str) else b64e(token)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            live.url + path, headers={LINK_TOKEN_HEADER: header, **kw.pop("headers", {})}, **kw
        ) as resp,
    ):
        status, body = resp.status, await resp.json()
    (route,) = [r for r in ROUTES if r.method == "POST" and r.path == path]
    if status >= 400:
        ErrorResponse.model_validate(body)
        assert status in route.errors, (path, status)
    else:
        assert status in (route.status, *route.also)
        assert route.response is not None
        TypeAdapter(route.response).validate_python(body, strict=False)
    return status, body


async def test_end_to_end_with_realtime_notice(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        case_id = await new_case(w)
        derm_rt = await w.derm.client.connect_realtime()
        await w.derm.client.move(case_id, "claim")
        await derm_rt.call("join", {"case_id": case_id})
        state_before = (await w.gp.client.get_case(case_id))["case"]["state"]

        link = await create_patient_link(w.gp.client, case_id, max_photos=3)
        assert link.path.startswith("/#/p/") and len(link.fragment) == 131
        sent = [
            photo(0),
            photo(
                1,
                quality_verdict="warn",
                quality_reasons=("blurred",),
                send_anyway_reason="CANARY-REASON",
            ),
        ]
        assert await send_patient_photos(live.url, link.fragment, sent, origin=ORIGIN) == 2

        notice = await asyncio.wait_for(derm_rt.patient_photo_events.get(), 5)
        assert notice == {"case_id": case_id, "link_id": link.link_id}
        for reader in (w.derm.client, w.gp.client):
            got = await fetch_patient_photos(reader, case_id)
            assert [(g.index, g.image, g.thumbnail) for g in got] == [
                (i, p.image, p.thumbnail) for i, p in enumerate(sent)
            ]
            assert got[1].photo.send_anyway_reason == "CANARY-REASON"
            assert got[1].photo.quality_reasons == ("blurred",)
        # The submission changes no state; the link is used; photos are case attachments.
        assert (await w.gp.client.get_case(case_id))["case"]["state"] == state_before
        links = (await w.gp.client.api.get(f"/api/v1/cases/{case_id}/patient-links"))["links"]
        assert [(x["status"], x["uploads"]) for x in links] == [("used", 4)]  # 2 per photo
        atts = (await w.gp.client.api.get(f"/api/v1/cases/{case_id}/attachments"))["attachments"]
        assert sum(a["uploader_id"] == link.link_id for a in atts) == 4

        # Single use: the same link is refused with the one answer.
        with pytest.raises(ApiError) as err:
            await send_patient_photos(live.url, link.fragment, [photo(3)])
        assert (err.value.status, err.value.code) == (410, "link_invalid")

        # The server saw no plaintext, no key, no token, no clinical text.
        token, _pk = parse_link_fragment(link.fragment)
        blobs = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
        for secret in (sent[0].image[3:40], b"CANARY", token, b64e(token).encode()):
            assert secret not in blobs
        actions = await audit_actions(live)
        for a in (
            "patient_link.create",
            "patient_link.open",
            "patient_link.upload",
            "patient_link.submit",
            "patient_link.refused",
            "patient_link.view",
        ):
            assert a in [x[0] for x in actions], a
        assert b64e(token) not in repr(actions)


async def test_expiry_revocation_and_who_may_manage(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        case_id = await new_case(w)
        gp = w.gp.client

        short = await create_patient_link(gp, case_id, ttl_minutes=15)
        live.clock.advance(15 * 60)
        with pytest.raises(ApiError) as err:
            await send_patient_photos(live.url, short.fragment, [photo(0)])
        assert err.value.code == "link_invalid"

        link = await create_patient_link(gp, case_id)
        # Only the referring GP revokes; the dermatologist may read the list.
        with pytest.raises(ApiError) as err:
            await w.derm.client.api.post(
                f"/api/v1/cases/{case_id}/patient-links/{link.link_id}/revoke"
            )
        assert err.value.status == 403
        with pytest.raises(ApiError) as err:
            await w.derm.client.api.post(f"/api/v1/cases/{case_id}/patient-links", {})
        assert err.value.status == 403
        listed = await w.derm.client.api.get(f"/api/v1/cases/{case_id}/patient-links")
        assert {x["status"] for x in listed["links"]} == {"expired", "active"}

        revoked = await gp.api.post(f"/api/v1/cases/{case_id}/patient-links/{link.link_id}/revoke")
        assert revoked["status"] == "revoked"
        with pytest.raises(ApiError) as err:
            await send_patient_photos(live.url, link.fragment, [photo(0)])
        assert err.value.code == "link_invalid"
        # A link of another case, or an unknown one, is not found here.
        with pytest.raises(ApiError) as err:
            await gp.api.post(f"/api/v1/cases/{case_id}/patient-links/{uuid.uuid4()}/revoke")
        assert err.value.status == 404
        with pytest.raises(ApiError) as err:
            await gp.api.get(f"/api/v1/cases/{case_id}/patient-links/not-a-uuid/submission")
        assert err.value.status == 404

        # Bad parameters.
        for body in ({"ttl_minutes": 5}, {"max_photos": 11}, {"max_photos": 0}):
            with pytest.raises(ApiError) as err:
                await gp.api.post(f"/api/v1/cases/{case_id}/patient-links", body)
            assert err.value.status == 422

        # A used link cannot be revoked; a withdrawn case takes no new link and its
        # links stop working.
        used = await create_patient_link(gp, case_id)
        await send_patient_photos(live.url, used.fragment, [photo(0)])
        with pytest.raises(ApiError) as err:
            await gp.api.post(f"/api/v1/cases/{case_id}/patient-links/{used.link_id}/revoke")
        assert err.value.status == 409
        pending = await create_patient_link(gp, case_id)
        await gp.move(case_id, "withdraw")
        with pytest.raises(ApiError) as err:
            await create_patient_link(gp, case_id)
        assert err.value.status == 409
        with pytest.raises(ApiError) as err:
            await send_patient_photos(live.url, pending.fragment, [photo(0)])
        assert err.value.code == "link_invalid"


async def test_patient_requests_are_checked(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data", max_upload_bytes=200_000) as live:
        w = await make_world(live)
        case_id = await new_case(w)
        link = await create_patient_link(w.gp.client, case_id, max_photos=1)
        token, pk = parse_link_fragment(link.fragment)

        # Unknown, malformed and missing tokens: one answer.
        for bad in (os.urandom(32), "short", "!" * 43, ""):
            status, body = await post_raw(live, "/api/v1/patient/link", bad)
            assert (status, body["error"]["code"]) == (410, "link_invalid")
        status, info = await post_raw(live, "/api/v1/patient/link", token)
        assert status == 200 and info["link_id"] == link.link_id and info["max_photos"] == 1

        # Uploads: size cap, hash mismatch, media type, bad id, upload count (2 per photo).
        def up(data: bytes, sha: str, **h: str) -> dict[str, Any]:
            return {
                "data": io.BytesIO(data),
                "headers": {
                    "Content-Type": "application/octet-stream",
                    "X-Attachment-Id": str(uuid.uuid4()),
                    "X-Ciphertext-SHA256": sha,
                    **h,
                },
            }

        import hashlib

        data = os.urandom(1000)
        sha = hashlib.sha256(data).hexdigest()
        path = "/api/v1/patient/attachments"
        assert (await post_raw(live, path, token, **up(os.urandom(200_001), sha)))[0] == 413
        status, body = await post_raw(live, path, token, **up(data, "00" * 32))
        assert (status, body["error"]["code"]) == (422, "hash_mismatch")
        status, body = await post_raw(live, path, token, **up(data, "zz"))
        assert (status, body["error"]["code"]) == (400, "invalid_header")
        status, body = await post_raw(
            live, path, token, **up(data, sha, **{"X-Attachment-Id": "x"})
        )
        assert (status, body["error"]["code"]) == (400, "invalid_header")
        bad_type = up(data, sha)
        bad_type["headers"]["Content-Type"] = "image/jpeg"
        assert (await post_raw(live, path, token, **bad_type))[0] == 415
        # The cap is 2 per photo + 4 retries = 6 attempts that reached the domain. The
        # hash mismatch above was one (counted before the body is read).
        status, body = await post_raw(live, path, token, **up(b"", hashlib.sha256().hexdigest()))
        assert (status, body["error"]["code"]) == (422, "empty_upload")  # the second
        # A retry after a lost answer gets the stored attachment back (200, same body).
        same = str(uuid.uuid4())
        first = await post_raw(live, path, token, **up(data, sha, **{"X-Attachment-Id": same}))
        again = await post_raw(live, path, token, **up(data, sha, **{"X-Attachment-Id": same}))
        assert first[0] == 201 and again == (200, first[1])
        for _ in range(2):  # the fifth and sixth
            assert (await post_raw(live, path, token, **up(data, sha)))[0] == 201
        status, body = await post_raw(live, path, token, **up(data, sha))
        assert status == 409 and body["error"]["code"] == "conflict"

        # Submissions: shape, link id, index numbering, count.
        other = generate_key_pair()
        ph = PatientPhoto(
            attachment_id=uuid.uuid4(),
            file_key=os.urandom(32),
            ciphertext_sha256=os.urandom(32),
            ciphertext_size=1,
            media_type="image/jpeg",
            tag="locator",
            body_site="back",
        )

        def rec(link_id: str, index: int) -> str:
            return b64e(
                seal_patient_photo(
                    ph,
                    link_id=uuid.UUID(link_id),
                    index=index,
                    drop_box_public_key=other.public_key,
                )
            )

        sub = "/api/v1/patient/submit"
        for records in (
            ["AAAA"],
            [rec(str(uuid.uuid4()), 0)],
            [rec(link.link_id, 1)],
            [rec(link.link_id, 0), rec(link.link_id, 1)],  # more than max_photos
        ):
            status, body = await post_raw(live, sub, token, json={"records": records})
            assert status == 422, records
        status, _ = await post_raw(live, sub, token, json={"records": [rec(link.link_id, 0)]})
        assert status == 201
        status, body = await post_raw(live, sub, token, json={"records": [rec(link.link_id, 0)]})
        assert (status, body["error"]["code"]) == (410, "link_invalid")
        del pk


async def test_session_cookie_is_ignored_and_rate_limits(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data", auth_rate_per_minute=5) as live:
        w = await make_world(live)
        case_id = await new_case(w)
        link = await create_patient_link(w.gp.client, case_id)
        token, _ = parse_link_fragment(link.fragment)
        # The GP's own logged-in session opening the link needs no CSRF token: the patient
        # routes ignore cookies (the token is the credential).
        async with w.gp.client.api.session.post(
            live.url + "/api/v1/patient/link", headers={LINK_TOKEN_HEADER: b64e(token)}
        ) as resp:
            assert resp.status == 200
        # A foreign Origin is still refused.
        status, body = await post_raw(
            live, "/api/v1/patient/link", token, headers={"Origin": "https://evil.example"}
        )
        assert (status, body["error"]["code"]) == (403, "csrf_failed")
        # Per address: 5 a minute (this test's setting), guesses included.
        codes = []
        for _ in range(6):
            codes.append((await post_raw(live, "/api/v1/patient/link", os.urandom(32)))[0])
        assert codes[-1] == 429 and 410 in codes
        live.clock.advance(120)


async def test_per_link_rate_limit(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        case_id = await new_case(w)
        link = await create_patient_link(w.gp.client, case_id)
        token, _ = parse_link_fragment(link.fragment)
        statuses = [(await post_raw(live, "/api/v1/patient/link", token))[0] for _ in range(61)]
        assert statuses[:60] == [200] * 60 and statuses[60] == 429


def test_mistyped_fragment_fails_before_any_request() -> None:
    with pytest.raises(PatientLinkFormatError):
        asyncio.run(send_patient_photos("http://127.0.0.1:9", "abc.def", [photo(0)]))
