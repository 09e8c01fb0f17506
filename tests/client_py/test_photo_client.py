"""The Python client's photos: one signed reference binds a photo and its thumbnail, each its
own attachment under its own key; listing a thread's photos skips an old web client's separate
thumbnail references (pairing one with its photo only when the same participant sent both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from client_py.client import DermlineClient, legacy_thumbnail_target
from client_py.photo import prepare_photo
from crypto.content import ContentType, decode_photo_reference, encode_content
from crypto.errors import AttachmentError
from tests.samples import HISTORY
from tests.server.harness import live_server, make_world

SAMPLES = Path(__file__).resolve().parents[1] / "vectors" / "photos"
LEGACY = "image/jpeg; dermline-role=thumbnail; for="


async def _listed(client: DermlineClient, case_id: str) -> list[str]:
    answer = await client.api.get(f"/api/v1/cases/{case_id}/attachments")
    return sorted(a["attachment_id"] for a in answer["attachments"])


async def test_photo_with_thumbnail_round_trip(tmp_path: Path) -> None:
    prepared = prepare_photo((SAMPLES / "sharp.jpg").read_bytes())
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        seq = await gp.upload_photo(
            case_id,
            prepared.jpeg,
            tag="close_up",
            body_site="left forearm",
            caption="ruler for scale",
            thumbnail=prepared.thumbnail,
        )
        assert seq == 2  # ONE message for the photo and its thumbnail
        await gp.upload_photo(case_id, prepared.jpeg, tag="locator", body_site="left arm")

        photos = await derm.photos(case_id)
        assert [(p.seq, p.sender_id) for p in photos] == [(2, w.gp.user_id), (3, w.gp.user_id)]
        ref, plain = photos[0].reference, photos[1].reference
        thumb = ref["thumbnail"]
        assert ref["media_type"] == "image/jpeg" and ref["caption"] == "ruler for scale"
        assert sorted(thumb) == [
            "attachment_id",
            "ciphertext_sha256",
            "ciphertext_size",
            "file_key",
        ]
        assert thumb["attachment_id"] != ref["attachment_id"]
        assert await derm.download_thumbnail(case_id, ref) == prepared.thumbnail
        assert await derm.download_photo(case_id, ref) == prepared.jpeg
        # The typed decoder reads the same body (crypto.content.PhotoThumbnail).
        typed = decode_photo_reference(encode_content(ContentType.PHOTO_REFERENCE, ref))
        assert typed.thumbnail is not None
        assert str(typed.thumbnail.attachment_id) == thumb["attachment_id"]
        assert typed.thumbnail.ciphertext_size == thumb["ciphertext_size"]
        # Without a thumbnail: no field, nothing to download.
        assert "thumbnail" not in plain
        assert await derm.download_thumbnail(case_id, plain) is None
        # Three attachments: the two photos and the one thumbnail.
        assert await _listed(derm, case_id) == sorted(
            [ref["attachment_id"], thumb["attachment_id"], plain["attachment_id"]]
        )
        # A server that serves the photo for the thumbnail is caught by the signed hash.
        swapped = {**ref, "thumbnail": {**thumb, "attachment_id": ref["attachment_id"]}}
        with pytest.raises(AttachmentError):
            await derm.download_thumbnail(case_id, swapped)


async def test_legacy_thumbnail_references_are_not_photos(tmp_path: Path) -> None:
    prepared = prepare_photo((SAMPLES / "sharp.jpg").read_bytes())
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)

        async def legacy_pair(tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
            # What the web client used to post: the thumbnail's own reference first, its
            # media type naming the photo, then the photo's ordinary reference.
            thumb = await gp._upload_attachment(case_id, prepared.thumbnail)
            photo = await gp._upload_attachment(case_id, prepared.jpeg)
            common = {"tag": tag, "body_site": "back"}
            thumb_ref = {**thumb, **common, "media_type": LEGACY + photo["attachment_id"]}
            photo_ref = {**photo, **common, "media_type": "image/jpeg"}
            await gp.post_message(case_id, ContentType.PHOTO_REFERENCE, thumb_ref)
            await gp.post_message(case_id, ContentType.PHOTO_REFERENCE, photo_ref)
            return thumb_ref, photo_ref

        thumb_a, photo_a = await legacy_pair("close_up")
        thumb_b, photo_b = await legacy_pair("dermoscopic")
        await gp.upload_photo(
            case_id, prepared.jpeg, tag="locator", body_site="back", thumbnail=prepared.thumbnail
        )
        # The dermatologist's own "thumbnail" for the GP's photo A: it comes after the GP's
        # and pairs with nothing (even alone it would not dress another participant's photo),
        # so it is listed as a photo of its own.
        await derm.move(case_id, "claim")
        await derm.post_message(
            case_id,
            ContentType.PHOTO_REFERENCE,
            {**thumb_b, "media_type": LEGACY + photo_a["attachment_id"]},
        )

        photos = await derm.photos(case_id)
        assert [p.reference["tag"] for p in photos][:3] == ["close_up", "dermoscopic", "locator"]
        assert len(photos) == 4 and photos[3].sender_id == w.derm.user_id
        assert photos[3].reference["attachment_id"] == thumb_b["attachment_id"]
        assert [p.reference["attachment_id"] for p in photos[:2]] == [
            photo_a["attachment_id"],
            photo_b["attachment_id"],
        ]
        assert photos[0].legacy_thumbnail is not None
        assert photos[0].legacy_thumbnail["attachment_id"] == thumb_a["attachment_id"]
        assert photos[1].legacy_thumbnail is not None
        assert photos[1].legacy_thumbnail["attachment_id"] == thumb_b["attachment_id"]
        assert photos[2].legacy_thumbnail is None and "thumbnail" in photos[2].reference
        assert await derm.download_photo(case_id, photos[0].legacy_thumbnail) == (
            prepared.thumbnail
        )
        assert await derm.download_thumbnail(case_id, photos[2].reference) == prepared.thumbnail

        # A legacy thumbnail sent by someone else than the photo's sender pairs with nothing:
        # it is listed as the photo it is (nothing a participant signed goes unseen).
        case2 = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        photo = await gp._upload_attachment(case2, prepared.jpeg)
        await gp.post_message(
            case2,
            ContentType.PHOTO_REFERENCE,
            {**photo, "tag": "close_up", "body_site": "back", "media_type": "image/jpeg"},
        )
        await derm.move(case2, "claim")
        await derm.post_message(
            case2,
            ContentType.PHOTO_REFERENCE,
            {**thumb_a, "media_type": LEGACY + photo["attachment_id"]},
        )
        photos2 = await derm.photos(case2)
        assert [p.reference["attachment_id"] for p in photos2] == [
            photo["attachment_id"],
            thumb_a["attachment_id"],
        ]
        assert [p.legacy_thumbnail for p in photos2] == [None, None]


def test_legacy_thumbnail_target() -> None:
    target = "0b0a7f7e-3c1d-4c2e-9f00-1234567890ab"
    assert legacy_thumbnail_target(LEGACY + target) == target
    assert legacy_thumbnail_target("image/jpeg") is None
    assert legacy_thumbnail_target(LEGACY + target.upper()) is None
    assert legacy_thumbnail_target(LEGACY + target + "; x=1") is None
