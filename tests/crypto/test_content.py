"""crypto.content: bodies and the photo reference."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from crypto.content import (
    ContentType,
    PhotoReference,
    PhotoThumbnail,
    decode_content,
    decode_photo_reference,
    encode_content,
    encode_photo_reference,
)
from crypto.errors import ContentError
from tests.samples import HISTORY

REF = PhotoReference(
    attachment_id=uuid.uuid4(),
    file_key=bytes(range(32)),
    ciphertext_sha256=b"h" * 32,
    ciphertext_size=10_000_000,
    media_type="image/jpeg",
    tag="locator",
    body_site="back",
)


def test_photo_reference_round_trip() -> None:
    assert decode_photo_reference(encode_photo_reference(REF)) == REF
    with_caption = dataclasses.replace(REF, caption="ruler")
    assert decode_photo_reference(encode_photo_reference(with_caption)) == with_caption
    assert REF.file_key.hex() not in repr(REF)


THUMB = PhotoThumbnail(
    attachment_id=uuid.uuid4(),
    file_key=bytes(range(100, 132)),
    ciphertext_sha256=b"t" * 32,
    ciphertext_size=20_000,
)


def test_photo_reference_with_thumbnail_round_trip() -> None:
    ref = dataclasses.replace(REF, caption="ruler", thumbnail=THUMB)
    data = encode_photo_reference(ref)
    assert decode_photo_reference(data) == ref
    body = decode_content(ContentType.PHOTO_REFERENCE, data)
    assert body["thumbnail"] == {
        "attachment_id": str(THUMB.attachment_id),
        "file_key": "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM",
        "ciphertext_sha256": (b"t" * 32).hex(),
        "ciphertext_size": 20_000,
    }
    # Without a thumbnail the field is absent, not null: old readers see the old body.
    assert b"thumbnail" not in encode_photo_reference(REF)
    assert decode_photo_reference(encode_photo_reference(REF)).thumbnail is None
    text = repr(ref)
    assert THUMB.file_key.hex()[:8] not in text and str(THUMB.attachment_id) in text


def test_photo_reference_thumbnail_is_checked() -> None:
    same_id = dataclasses.replace(THUMB, attachment_id=REF.attachment_id)
    with pytest.raises(ValueError):
        encode_photo_reference(dataclasses.replace(REF, thumbnail=same_id))
    with pytest.raises(ValueError):
        encode_photo_reference(
            dataclasses.replace(REF, thumbnail=dataclasses.replace(THUMB, file_key=b"k" * 31))
        )
    with pytest.raises(ValueError):
        encode_photo_reference(
            dataclasses.replace(REF, thumbnail=dataclasses.replace(THUMB, ciphertext_size=-1))
        )
    with pytest.raises(TypeError):
        encode_photo_reference(
            dataclasses.replace(REF, thumbnail={"attachment_id": "x"})  # type: ignore[arg-type]
        )
    good = decode_content(
        ContentType.PHOTO_REFERENCE,
        encode_photo_reference(dataclasses.replace(REF, thumbnail=THUMB)),
    )
    # The generic decoder applies the same rules as the typed one.
    for bad_thumb in (
        {**good["thumbnail"], "attachment_id": good["attachment_id"]},
        {**good["thumbnail"], "media_type": "image/jpeg"},
        {k: v for k, v in good["thumbnail"].items() if k != "ciphertext_size"},
        "not an object",
    ):
        raw = json.dumps({**good, "thumbnail": bad_thumb}).encode()
        with pytest.raises(ContentError):
            decode_content(ContentType.PHOTO_REFERENCE, raw)
        with pytest.raises(ContentError):
            decode_photo_reference(raw)
    # The cross-field rule applies to photo references only: elsewhere "thumbnail" is unknown.
    with pytest.raises(ValueError):
        encode_content(ContentType.TEXT, {"text": "x", "thumbnail": good["thumbnail"]})


def test_encode_refuses_invalid_bodies() -> None:
    with pytest.raises(ValueError, match="text schema"):
        encode_content(ContentType.TEXT, {"text": ""})
    with pytest.raises(ValueError):
        encode_photo_reference(dataclasses.replace(REF, tag="selfie"))
    with pytest.raises(ValueError):
        encode_content(ContentType.TEXT, {"text": "x" * 100_000, "more": "y"})
    with pytest.raises(TypeError):
        encode_content(ContentType.TEXT, [("text", "x")])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_photo_reference({"tag": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_content(99, {"text": "x"})  # type: ignore[arg-type]


def test_too_large() -> None:
    body = {
        "attachment_ids": [str(uuid.UUID(int=i)) for i in range(1000)],
        "reasons": ["r" * 2000] * 1000,
    }
    with pytest.raises(ValueError, match="1 MiB"):
        encode_content(ContentType.RETAKE_REQUEST, body)
    with pytest.raises(ContentError):
        decode_content(ContentType.TEXT, b" " * ((1 << 20) + 1))


def test_decode_rejects_deep_nesting() -> None:
    with pytest.raises(ContentError):
        decode_content(ContentType.TEXT, b"[" * 100_000 + b"]" * 100_000)


def test_content_type_must_match() -> None:
    body = encode_content(ContentType.TEXT, {"text": "x"})
    assert decode_content(ContentType.QUESTION, body) == {"text": "x", "v": 1}
    with pytest.raises(ContentError):
        decode_content(ContentType.RECEIPT, body)


def test_nested_object_must_be_an_object() -> None:
    with pytest.raises(ValueError):
        encode_content(ContentType.CLINICAL_HISTORY, {**HISTORY, "patient": "Ada"})
    body = encode_content(ContentType.CLINICAL_HISTORY, HISTORY)
    assert decode_content(ContentType.CLINICAL_HISTORY, body)["patient"] == HISTORY["patient"]


def test_photo_reference_repr_hides_key_and_clinical_text() -> None:
    ref = PhotoReference(
        attachment_id=uuid.UUID(int=5),
        file_key=b"\xab" * 32,
        ciphertext_sha256=bytes(32),
        ciphertext_size=10,
        media_type="image/jpeg",
        tag="close_up",
        body_site="left-forearm-lesion",
        caption="bleeding-since-tuesday",
    )
    text = repr(ref)
    assert "ab" * 4 not in text and "left-forearm" not in text and "bleeding" not in text


def test_encode_refuses_lone_surrogates_without_quoting_them() -> None:
    with pytest.raises(ValueError) as info:
        encode_content(ContentType.TEXT, {"text": "name \ud800 here"})
    assert type(info.value) is ValueError and "name" not in str(info.value)
    # A proper surrogate pair (an astral character) is fine.
    assert "\U0001f44d".encode() in encode_content(ContentType.TEXT, {"text": "\U0001f44d"})
