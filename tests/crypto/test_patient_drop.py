"""crypto.patient_drop: the link fragment and the patient's drop record (docs/protocol.md 17)."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid

import pytest

from crypto import patient_drop as pd
from crypto.account import generate_key_pair, key_pair_from_seed
from crypto.content import ContentType, decode_content, encode_content
from crypto.errors import PatientDropError, PatientLinkFormatError
from crypto.primitives.hpke import seal_base

LINK = uuid.UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
BOX = key_pair_from_seed(bytes(range(32)))
THUMB = pd.PatientThumbnail(
    attachment_id=uuid.UUID(int=7),
    file_key=b"\x02" * 32,
    ciphertext_sha256=b"\x03" * 32,
    ciphertext_size=999,
)
PHOTO = pd.PatientPhoto(
    attachment_id=uuid.UUID(int=5),
    file_key=b"\x01" * 32,
    ciphertext_sha256=b"\xaa" * 32,
    ciphertext_size=123_456,
    media_type="image/jpeg",
    tag="close_up",
    body_site="left forearm",
    thumbnail=THUMB,
    quality_verdict="warn",
    quality_reasons=("blurred",),
    send_anyway_reason="it is the best I can do",
)


def seal(photo: pd.PatientPhoto = PHOTO, index: int = 0) -> bytes:
    return pd.seal_patient_photo(
        photo, link_id=LINK, index=index, drop_box_public_key=BOX.public_key
    )


def test_round_trip_with_every_field() -> None:
    record = seal(index=3)
    assert record[:3] == b"\x01\x01\x0a"
    assert pd.parse_patient_photo_header(record) == pd.DropHeader(link_id=LINK, index=3)
    assert pd.open_patient_photo(record, link_id=LINK, drop_box=BOX) == (3, PHOTO)


def test_round_trip_minimal_photo() -> None:
    minimal = dataclasses.replace(
        PHOTO, thumbnail=None, quality_verdict=None, quality_reasons=(), send_anyway_reason=None
    )
    assert pd.open_patient_photo(seal(minimal), link_id=LINK, drop_box=BOX) == (0, minimal)


def test_quality_ok_with_no_reasons() -> None:
    ok = dataclasses.replace(PHOTO, quality_verdict="ok", quality_reasons=())
    assert pd.open_patient_photo(seal(ok), link_id=LINK, drop_box=BOX)[1] == ok


def test_repr_hides_keys_and_clinical_text() -> None:
    text = repr(PHOTO)
    assert "left forearm" not in text and "best I can do" not in text
    assert "blurred" not in text and repr(b"\x01" * 32) not in text
    assert repr(b"\x02" * 32) not in repr(THUMB)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r[:-1],
        lambda r: r + b"\x00",
        lambda r: b"",
        lambda r: r[:22],
        lambda r: bytes([2]) + r[1:],
        lambda r: r[:1] + bytes([2]) + r[2:],
        lambda r: r[:2] + bytes([8]) + r[3:],
        lambda r: r[:3] + bytes([r[3] ^ 1]) + r[4:],  # link id
        lambda r: r[:22] + bytes([r[22] ^ 1]) + r[23:],  # index
        lambda r: r[:30] + bytes([r[30] ^ 1]) + r[31:],  # enc
        lambda r: r[:100] + bytes([r[100] ^ 1]) + r[101:],  # ciphertext
        lambda r: r[:-1] + bytes([r[-1] ^ 1]),  # tag
    ],
)
def test_any_change_is_refused(mutate: object) -> None:
    bad = mutate(seal())  # type: ignore[operator]
    with pytest.raises(PatientDropError):
        pd.open_patient_photo(bad, link_id=LINK, drop_box=BOX)


def test_header_parse_refuses_bad_shapes() -> None:
    record = seal()
    for bad in (b"", record[:23], record[: 23 + 65 + 17], b"\x01\x01\x06" + record[3:]):
        with pytest.raises(PatientDropError):
            pd.parse_patient_photo_header(bad)
    # Too long a body can never be a record (64 KiB limit), refused before any decryption.
    huge = record[:23] + bytes(65 + 16 + pd.MAX_DROP_BODY_BYTES + 1)
    with pytest.raises(PatientDropError):
        pd.parse_patient_photo_header(huge)


def test_wrong_link_or_key_is_refused() -> None:
    with pytest.raises(PatientDropError):
        pd.open_patient_photo(seal(), link_id=uuid.UUID(int=1), drop_box=BOX)
    with pytest.raises(PatientDropError):
        pd.open_patient_photo(seal(), link_id=LINK, drop_box=generate_key_pair())


def _raw(body: bytes, index: int = 0) -> bytes:
    """A record around an arbitrary body, as a hostile patient could make."""
    header = b"\x01\x01\x0a" + LINK.bytes + index.to_bytes(4, "big")
    info = b"dermline/v1/patient-drop\x00" + LINK.bytes + index.to_bytes(4, "big")
    enc, ct = seal_base(BOX.public_key, info, header, body, ikm_e=b"\x09" * 32)
    return header + enc + ct


def _good_body() -> dict[str, object]:
    body: dict[str, object] = json.loads(
        pd.open_patient_photo.__globals__["_encode_body"](PHOTO)  # the module's own encoder
    )
    return body


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b'{"v":1,"v":1}',
        b"[1]",
        b'{"v":true}',
        b'{"v":2}',
        b'{"v":1,"x":NaN}',
        b"[" * 100_000,
        json.dumps({**_good_body(), "tag": "selfie"}).encode(),
        json.dumps({**_good_body(), "extra": 1}).encode(),
        json.dumps({**_good_body(), "quality": {"verdict": "bad", "reasons": []}}).encode(),
        json.dumps({**_good_body(), "thumbnail": {"attachment_id": "x"}}).encode(),
        json.dumps({**_good_body(), "file_key": "A" * 42 + "B"}).encode(),
    ],
)
def test_hostile_bodies_are_refused(body: bytes) -> None:
    if len(body) > pd.MAX_DROP_BODY_BYTES:
        body = body[: pd.MAX_DROP_BODY_BYTES]
    with pytest.raises(PatientDropError):
        pd.open_patient_photo(_raw(body), link_id=LINK, drop_box=BOX)


def test_oversized_body_refused_after_decryption() -> None:
    # A body of exactly the limit passes the clear-length bound and must still parse.
    body = b" " * pd.MAX_DROP_BODY_BYTES
    with pytest.raises(PatientDropError):
        pd.open_patient_photo(_raw(body), link_id=LINK, drop_box=BOX)


def test_good_raw_body_opens() -> None:
    assert pd.open_patient_photo(
        _raw(json.dumps(_good_body()).encode(), 2), link_id=LINK, drop_box=BOX
    ) == (2, PHOTO)


def test_misuse_raises_type_or_value_errors() -> None:
    with pytest.raises(TypeError):
        pd.seal_patient_photo("x", link_id=LINK, index=0, drop_box_public_key=BOX.public_key)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        seal(dataclasses.replace(PHOTO, thumbnail="x"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schema"):
        seal(dataclasses.replace(PHOTO, tag="selfie"))
    with pytest.raises(ValueError, match="Unicode"):
        seal(dataclasses.replace(PHOTO, body_site="\ud800"))
    with pytest.raises(ValueError, match="64 KiB"):
        seal(dataclasses.replace(PHOTO, quality_reasons=("x" * 50_000, "y" * 50_000)))
    with pytest.raises(ValueError):
        seal(index=1 << 32)
    with pytest.raises(TypeError):
        pd.open_patient_photo(seal(), link_id=LINK, drop_box="key")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pd.parse_link_fragment(b"x")  # type: ignore[arg-type]


def test_link_fragment_round_trip() -> None:
    token = bytes(range(32))
    text = pd.format_link_fragment(token, BOX.public_key)
    assert len(text) == 43 + 1 + 87 and "=" not in text
    assert pd.parse_link_fragment(text) == (token, BOX.public_key)


def test_link_fragment_refuses_typos() -> None:
    good = pd.format_link_fragment(bytes(32), BOX.public_key)
    token_text, key_text = good.split(".")
    not_a_point = base64.urlsafe_b64encode(b"\x04" + bytes(64)).rstrip(b"=").decode()
    for bad in (
        "",
        token_text,
        token_text + key_text,
        token_text + "." + key_text[:-1],
        token_text[:-1] + "B." + key_text,  # non-zero spare bits: a second encoding
        token_text + "." + key_text[:-1] + "B",
        token_text + "=." + key_text,
        token_text + "." + not_a_point,
    ):
        with pytest.raises(PatientLinkFormatError):
            pd.parse_link_fragment(bad)


def test_patient_link_content_type() -> None:
    body = {
        "link_id": str(LINK),
        "expires_at_ms": 1_790_000_000_000,
        "max_photos": 6,
        "drop_box_private_key": base64.urlsafe_b64encode(BOX.private_key).rstrip(b"=").decode(),
    }
    data = encode_content(ContentType.PATIENT_LINK, body)
    assert decode_content(ContentType.PATIENT_LINK, data) == {**body, "v": 1}
    assert ContentType.PATIENT_LINK == 0x09
    with pytest.raises(ValueError):
        ContentType(0x08)  # left unassigned (crypto/content.py docstring)


def test_seal_refuses_an_invalid_public_key() -> None:
    from crypto.errors import PublicKeyError

    with pytest.raises(PublicKeyError):
        pd.seal_patient_photo(PHOTO, link_id=LINK, index=0, drop_box_public_key=b"\x04" + bytes(64))


def test_body_rules_that_differ_from_message_bodies() -> None:
    # docs/protocol.md section 17: empty reasons allowed, the thumbnail may repeat the photo's
    # id, and the limit is 64 KiB (tested above), unlike message bodies (section 10).
    box = key_pair_from_seed(b"b" * 32)
    same_id = dataclasses.replace(
        PHOTO,
        quality_verdict="warn",
        quality_reasons=(),
        thumbnail=dataclasses.replace(THUMB, attachment_id=PHOTO.attachment_id),
    )
    record = pd.seal_patient_photo(
        same_id, link_id=LINK, index=0, drop_box_public_key=box.public_key
    )
    assert pd.open_patient_photo(record, link_id=LINK, drop_box=box) == (0, same_id)
