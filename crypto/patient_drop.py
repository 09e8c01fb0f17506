"""The patient photo link: the link fragment and the patient's drop record (type 0x0A).

A GP's client makes a fresh P-256 "drop-box" key pair per link (docs/protocol.md section 17).
The public half travels to the patient only inside the link's URL fragment, which a browser
never sends to a server; the private half goes into the case thread in a signed, encrypted
``patient_link`` message (:class:`crypto.content.ContentType` 0x09), so every holder of the
case key (participants and the records key) can open what the patient sends.

Link fragment (after ``#/p/``)::

    base64url(token, 32 bytes) "." base64url(drop-box public key, 65 bytes)   (43 + 1 + 87)

Drop record, one per photo, made by the patient's browser::

    off  len
      0    3  01 01 0a
      3   16  link id              (the server's id of the link, not of the case)
     19    4  photo index (u32 BE, 0, 1, 2, ... within one submission)
     23   65  HPKE enc             (ephemeral public key, uncompressed point)
     88    n  HPKE ciphertext      (UTF-8 JSON photo body || 16-byte tag)

    info = "dermline/v1/patient-drop" || 0x00 || link id || photo index
    aad  = bytes 0..22 (the clear header)

Suite 2 (``01 02 0a``, docs/protocol.md section 26): the same record HPKE-sealed with X-Wing to
the drop box's *hybrid* key (:func:`seal_patient_photo_hybrid`), ``enc`` 1120 bytes at 23, the
ciphertext at 1143; same labels, and the suite byte is in the AAD.

There is no signature: the patient has no identity. Authenticity is that of the link: only
someone holding the single-use token could make the server accept the record, and only a
holder of the drop-box public key (which the server never sees) could make it open. Binding
the link id and index into ``info`` and the AAD stops the server from moving a record to
another link or reordering photos undetected.

Photo body (strict JSON, the same rules as :mod:`crypto.content`)::

    attachment_id, file_key (b64url 32), ciphertext_sha256 (hex 32), ciphertext_size,
    media_type, tag (locator | close_up | dermoscopic), body_site,
    thumbnail?: {attachment_id, file_key, ciphertext_sha256, ciphertext_size},
    quality?: {verdict: ok | warn, reasons: [str] (may be empty)}, send_anyway_reason?: str
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from crypto._wire import (
    LABEL_PREFIX,
    SUITE_HYBRID,
    SUITE_P256_SHA256_AES256GCM,
    Malformed,
    Reader,
    RecordType,
    check_bytes,
    check_uint,
    check_uuid,
    prefix,
    u32,
)
from crypto.account import HybridKeyPair, KeyPair
from crypto.content import (
    _ATTACHMENT_REF,
    _B64_32_RE,
    BODY_VERSION,
    _Attachment,
    _decode_attachment_ref,
    _encode_attachment_ref,
    _Invalid,
    _list_of,
    _no_constants,
    _no_duplicates,
    _object,
    _one_of,
    _string,
)
from crypto.errors import PatientDropError, PatientLinkFormatError, PrimitiveError, PublicKeyError
from crypto.fingerprint import hybrid_key_id
from crypto.primitives import xwing
from crypto.primitives.ecc import p256_check_public
from crypto.primitives.hpke import open_base, open_base_hybrid, seal_base, seal_base_hybrid

__all__ = [
    "DROP_HEADER_LENGTH",
    "LINK_TOKEN_LENGTH",
    "MAX_DROP_BODY_BYTES",
    "DropHeader",
    "PatientPhoto",
    "PatientThumbnail",
    "format_link_fragment",
    "open_patient_photo",
    "parse_link_fragment",
    "parse_patient_photo_header",
    "seal_patient_photo",
    "seal_patient_photo_from_parts",
    "seal_patient_photo_hybrid",
    "seal_patient_photo_hybrid_from_parts",
]

LINK_TOKEN_LENGTH: Final = 32
DROP_HEADER_LENGTH: Final = 23
# A photo body is a few hundred bytes; 64 KiB leaves room for long quality reasons while
# keeping a hostile record from making a client parse megabytes.
MAX_DROP_BODY_BYTES: Final = 1 << 16
_ENC: Final = 65
_TAG: Final = 16
_INFO_LABEL: Final = LABEL_PREFIX + b"patient-drop\x00"
_PREFIX: Final = prefix(RecordType.PATIENT_DROP)
_B64_65_RE: Final = re.compile(r"[A-Za-z0-9_-]{87}")
_TAGS: Final = frozenset({"locator", "close_up", "dermoscopic"})
_VERDICTS: Final = frozenset({"ok", "warn"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def format_link_fragment(token: bytes, drop_box_public_key: bytes) -> str:
    """``<token>.<public key>`` in base64url without padding (the part after ``#/p/``)."""
    token = check_bytes("token", token, LINK_TOKEN_LENGTH)
    drop_box_public_key = check_bytes("drop_box_public_key", drop_box_public_key, _ENC)
    return _b64(token) + "." + _b64(drop_box_public_key)


def parse_link_fragment(text: str) -> tuple[bytes, bytes]:
    """``(token, drop-box public key)`` from a fragment; :class:`PatientLinkFormatError`.

    Strict: exactly one encoding per value (no padding, zero spare bits), and the public key
    must be a valid P-256 point, so a mistyped or truncated link fails here, before the
    patient takes any photo.
    """
    if not isinstance(text, str):
        raise TypeError("text must be str")
    token_text, dot, key_text = text.partition(".")
    if (
        not dot
        # 43 characters carry 258 bits for 256: the spare bits must be zero (one encoding).
        or _B64_32_RE.fullmatch(token_text) is None
        or token_text[-1] not in "AEIMQUYcgkosw048"
        # 87 characters carry 522 bits for 520: the last character must leave two zero bits.
        or _B64_65_RE.fullmatch(key_text) is None
        or key_text[-1] not in "AEIMQUYcgkosw048"
    ):
        raise PatientLinkFormatError
    token = base64.urlsafe_b64decode(token_text + "=")
    public_key = base64.urlsafe_b64decode(key_text + "=")
    try:
        p256_check_public(public_key)
    except PrimitiveError:
        raise PatientLinkFormatError from None
    return token, public_key


@dataclass(frozen=True)
class PatientThumbnail(_Attachment):
    """The thumbnail attachment of one patient photo."""


@dataclass(frozen=True)
class PatientPhoto:
    """What a drop record says about one photo. ``repr`` hides keys and clinical text."""

    attachment_id: uuid.UUID
    file_key: bytes = field(repr=False)
    ciphertext_sha256: bytes
    ciphertext_size: int
    media_type: str
    tag: str
    body_site: str = field(repr=False)
    thumbnail: PatientThumbnail | None = None
    quality_verdict: str | None = None
    quality_reasons: tuple[str, ...] = field(default=(), repr=False)
    send_anyway_reason: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DropHeader:
    """The clear header of a drop record (the server reads it without any key)."""

    link_id: uuid.UUID
    index: int
    suite: int = SUITE_P256_SHA256_AES256GCM


_QUALITY_SCHEMA: Final = _object(
    {"verdict": _one_of(_VERDICTS), "reasons": _list_of(_string, minimum=0)}
)
_BODY_SCHEMA: Final = _object(
    {
        **_ATTACHMENT_REF,
        "media_type": _string,
        "tag": _one_of(_TAGS),
        "body_site": _string,
    },
    {
        "thumbnail": _object(_ATTACHMENT_REF),
        "quality": _QUALITY_SCHEMA,
        "send_anyway_reason": _string,
    },
)


def _encode_body(photo: PatientPhoto) -> bytes:
    if not isinstance(photo, PatientPhoto):
        raise TypeError("photo must be a PatientPhoto")
    body: dict[str, Any] = {
        "v": BODY_VERSION,
        **_encode_attachment_ref(photo),
        "media_type": photo.media_type,
        "tag": photo.tag,
        "body_site": photo.body_site,
    }
    thumb = photo.thumbnail
    if thumb is not None:
        if not isinstance(thumb, PatientThumbnail):
            raise TypeError("thumbnail must be a PatientThumbnail")
        body["thumbnail"] = _encode_attachment_ref(thumb, "thumbnail.")
    if photo.quality_verdict is not None:
        body["quality"] = {"verdict": photo.quality_verdict, "reasons": list(photo.quality_reasons)}
    if photo.send_anyway_reason is not None:
        body["send_anyway_reason"] = photo.send_anyway_reason
    if not _BODY_SCHEMA({k: v for k, v in body.items() if k != "v"}):
        raise ValueError("photo does not match the patient photo schema")
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("photo holds a string that is not valid Unicode") from None
    if len(data) > MAX_DROP_BODY_BYTES:
        raise ValueError("photo body is larger than 64 KiB")
    return data


def _decode_body(data: bytes) -> PatientPhoto:
    """Raises :class:`Malformed` for anything but a valid body.

    No size check here: :func:`_parse` already bounds the ciphertext, hence the body, to
    ``MAX_DROP_BODY_BYTES``.
    """
    try:
        body = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except (_Invalid, ValueError, RecursionError):
        raise Malformed from None
    # type() rather than isinstance: JSON true must not pass as version 1.
    if not isinstance(body, dict) or type(body.get("v")) is not int or body["v"] != BODY_VERSION:
        raise Malformed
    if not _BODY_SCHEMA({k: v for k, v in body.items() if k != "v"}):
        raise Malformed
    thumb = body.get("thumbnail")
    quality = body.get("quality")
    return PatientPhoto(
        **_decode_attachment_ref(body),
        media_type=body["media_type"],
        tag=body["tag"],
        body_site=body["body_site"],
        thumbnail=None if thumb is None else PatientThumbnail(**_decode_attachment_ref(thumb)),
        quality_verdict=None if quality is None else quality["verdict"],
        quality_reasons=() if quality is None else tuple(quality["reasons"]),
        send_anyway_reason=body.get("send_anyway_reason"),
    )


def _info(link_id: bytes, index: int) -> bytes:
    return _INFO_LABEL + link_id + u32(index)


def seal_patient_photo_from_parts(
    photo: PatientPhoto,
    *,
    link_id: uuid.UUID,
    index: int,
    drop_box_public_key: bytes,
    ikm_e: bytes,
) -> bytes:
    """Deterministic form of :func:`seal_patient_photo` (HPKE ephemeral ikm given)."""
    link = check_uuid("link_id", link_id)
    index = check_uint("index", index, 32)
    drop_box_public_key = check_bytes("drop_box_public_key", drop_box_public_key, _ENC)
    try:
        p256_check_public(drop_box_public_key)
    except PrimitiveError:
        raise PublicKeyError from None
    plaintext = _encode_body(photo)
    header = _PREFIX + link + u32(index)
    enc, ciphertext = seal_base(
        drop_box_public_key, _info(link, index), header, plaintext, ikm_e=ikm_e
    )
    return header + enc + ciphertext


def seal_patient_photo(
    photo: PatientPhoto, *, link_id: uuid.UUID, index: int, drop_box_public_key: bytes
) -> bytes:
    """HPKE-seal one photo's keys and metadata to the link's drop-box public key (0x0A).

    Raises :class:`crypto.errors.PublicKeyError` if the key is not a valid point.
    """
    return seal_patient_photo_from_parts(
        photo,
        link_id=link_id,
        index=index,
        drop_box_public_key=drop_box_public_key,
        ikm_e=os.urandom(32),
    )


def _enc_length(suite: int) -> int:
    return xwing.CIPHERTEXT_LEN if suite == SUITE_HYBRID else _ENC


def _parse(record: object) -> tuple[DropHeader, bytes]:
    reader = Reader(record)
    suite = reader.suite_prefix(RecordType.PATIENT_DROP)
    header = DropHeader(link_id=reader.uuid(), index=reader.u32(), suite=suite)
    raw = reader.consumed()
    rest = reader.take(len(check_bytes("record", record)) - DROP_HEADER_LENGTH)
    # The body is at least "{}" plus the tag; anything shorter cannot be a record.
    enc = _enc_length(suite)
    if len(rest) < enc + _TAG + 2 or len(rest) > enc + _TAG + MAX_DROP_BODY_BYTES:
        raise Malformed
    reader.end()
    return header, raw + rest


def parse_patient_photo_header(record: bytes) -> DropHeader:
    """The clear header, without any key; :class:`PatientDropError` unless the shape is v1.

    The server uses it to refuse a record made for another link.
    """
    try:
        return _parse(record)[0]
    except Malformed:
        raise PatientDropError from None


def seal_patient_photo_hybrid_from_parts(
    photo: PatientPhoto,
    *,
    link_id: uuid.UUID,
    index: int,
    drop_box_public_key: bytes,
    encapsulation: xwing.Encapsulation,
) -> bytes:
    """Deterministic form of :func:`seal_patient_photo_hybrid` (X-Wing encapsulation given)."""
    link = check_uuid("link_id", link_id)
    index = check_uint("index", index, 32)
    hybrid_key_id(drop_box_public_key)  # PublicKeyError for an invalid key
    plaintext = _encode_body(photo)
    header = prefix(RecordType.PATIENT_DROP, SUITE_HYBRID) + link + u32(index)
    enc, ciphertext = seal_base_hybrid(encapsulation, _info(link, index), header, plaintext)
    return header + enc + ciphertext


def seal_patient_photo_hybrid(
    photo: PatientPhoto, *, link_id: uuid.UUID, index: int, drop_box_public_key: bytes
) -> bytes:
    """The suite-2 drop record (``01 02 0a``) to the drop box's 1216-byte X-Wing key.

    Raises :class:`crypto.errors.PublicKeyError` if the key is not a valid X-Wing key.
    """
    hybrid_key_id(drop_box_public_key)
    return seal_patient_photo_hybrid_from_parts(
        photo,
        link_id=link_id,
        index=index,
        drop_box_public_key=drop_box_public_key,
        encapsulation=xwing.encapsulate(drop_box_public_key),
    )


def open_patient_photo(
    record: bytes, *, link_id: uuid.UUID, drop_box: KeyPair | HybridKeyPair
) -> tuple[int, PatientPhoto]:
    """Check the link id, decrypt with the drop-box private key, and parse the body.

    Returns ``(photo index, photo)``. The caller must still check that the indices of one
    submission are distinct and decrypt each attachment against its ``ciphertext_sha256``.
    Raises :class:`PatientDropError` whatever went wrong. ``drop_box`` is the P-256 pair for a
    suite-1 record and the X-Wing pair for a suite-2 one; the other suite is refused.
    """
    link = check_uuid("link_id", link_id)
    if not isinstance(drop_box, KeyPair | HybridKeyPair):
        raise TypeError("drop_box must be a KeyPair or a HybridKeyPair")
    try:
        header, raw = _parse(record)
        hybrid = isinstance(drop_box, HybridKeyPair)
        if header.link_id.bytes != link or hybrid != (header.suite == SUITE_HYBRID):
            raise Malformed
        end = DROP_HEADER_LENGTH + _enc_length(header.suite)
        enc, ciphertext = raw[DROP_HEADER_LENGTH:end], raw[end:]
        info, aad = _info(link, header.index), raw[:DROP_HEADER_LENGTH]
        if isinstance(drop_box, HybridKeyPair):
            plaintext = open_base_hybrid(drop_box.seed, enc, info, aad, ciphertext)
        else:
            plaintext = open_base(drop_box.private_key, enc, info, aad, ciphertext)
        return header.index, _decode_body(plaintext)
    except (Malformed, PrimitiveError):
        raise PatientDropError from None
