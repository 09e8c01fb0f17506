"""Content types and the plaintext bodies inside message envelopes.

The envelope header (binary, :mod:`crypto.envelope`) carries a one-byte content type. The
*plaintext* body inside the ciphertext is a UTF-8 JSON object, chosen because the clinical
bodies are structured and nested, both clients parse JSON natively, and the body is never
seen by the server, so its encoding does not need to be canonical for security: the
signature covers the ciphertext bytes, not a re-encoding. Rules (docs/protocol.md,
"Message bodies"):

* the top level is an object with ``"v": 1`` (the body schema version) and exactly the
  fields listed for its content type below (required ones must be present; unknown fields
  are refused so that two clients never disagree about what a message says);
* strings are non-empty unless marked optional-empty, at most 100,000 characters; no NaN or
  Infinity; no duplicate keys; the body is at most 1 MiB;
* bytes are base64url without padding (``file_key``) or lower-case hex (``ciphertext_sha256``);
  identifiers are lower-case hyphenated UUID strings;
* :func:`encode_content` writes sorted keys, no spaces, UTF-8 (``ensure_ascii=False``), which
  the generator uses for the test vectors. Decoders accept any key order and spacing.

Schemas per content type (``?`` marks an optional field):

==================  ==================================================================
text (1)            ``text``: str
clinical_history    ``patient``: {``nhs_number``, ``name``, ``date_of_birth``, ``sex``: str},
(2)                 ``body_site``, ``duration``: str, ``changes``: {``size``, ``shape``,
                    ``colour``: bool}, ``symptoms``: {``itch``, ``bleeding``, ``scaling``,
                    ``soreness``: bool}, ``previous_skin_cancer``: bool, ``skin_type``: str,
                    ``relevant_history``?, ``medicines``?: str, ``question``: str,
                    ``consent_to_photography``: bool
photo_reference     ``attachment_id``: uuid, ``file_key``: 32 bytes (b64url),
(3)                 ``ciphertext_sha256``: 32 bytes (hex), ``ciphertext_size``: int,
                    ``media_type``: str, ``tag``: ``locator`` | ``close_up`` |
                    ``dermoscopic``, ``body_site``: str, ``caption``?: str,
                    ``thumbnail``?: {``attachment_id``: uuid, ``file_key``: 32 bytes
                    (b64url), ``ciphertext_sha256``: 32 bytes (hex), ``ciphertext_size``:
                    int} -- the photo's small preview, its own attachment under its own
                    key; its ``attachment_id`` must differ from the photo's
question (4)        ``text``: str
retake_request (5)  ``attachment_ids``: [uuid], ``reasons``: [str], ``text``?: str
outcome (6)         ``category``: ``advice_and_guidance`` | ``referral`` |
                    ``image_rejected``, ``summary``: str, ``details``: {str: str | [str]}
receipt (7)         ``kind``: ``delivered`` | ``read``, ``message_ids``: [uuid] (1 to 1000)
patient_link (9)    ``link_id``: uuid, ``expires_at_ms``: int, ``max_photos``: int,
                    ``drop_box_private_key``: 32 bytes (b64url) -- the key that opens what
                    the patient sends through that link (crypto.patient_drop)
==================  ==================================================================

Content type 0x08 is deliberately left unassigned: the published v1 envelope vectors use it
as their "unknown content type" example, and vectors are never reshaped.

Domain rules (NHS number check digit, outcome codes and who may downgrade a two-week-wait
referral) belong to the domain layer; this module only guarantees shape and types.
"""

from __future__ import annotations

import base64
import enum
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypedDict

from crypto._wire import check_bytes, check_uuid
from crypto.errors import ContentError

__all__ = [
    "BODY_VERSION",
    "MAX_BODY_BYTES",
    "ContentType",
    "PhotoReference",
    "PhotoThumbnail",
    "decode_content",
    "decode_photo_reference",
    "encode_content",
    "encode_photo_reference",
]

BODY_VERSION: Final = 1
MAX_BODY_BYTES: Final = 1 << 20
_MAX_STRING: Final = 100_000
_MAX_LIST: Final = 1000
_PHOTO_TAGS: Final = frozenset({"locator", "close_up", "dermoscopic"})
_OUTCOMES: Final = frozenset({"advice_and_guidance", "referral", "image_rejected"})
_RECEIPTS: Final = frozenset({"delivered", "read"})
_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX32_RE: Final = re.compile(r"[0-9a-f]{64}")
_B64_32_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


class ContentType(enum.IntEnum):
    """Byte 71 of a message envelope header (crypto.envelope)."""

    TEXT = 0x01
    CLINICAL_HISTORY = 0x02
    PHOTO_REFERENCE = 0x03
    QUESTION = 0x04
    RETAKE_REQUEST = 0x05
    OUTCOME = 0x06
    RECEIPT = 0x07
    # 0x08 unassigned (see the module docstring).
    PATIENT_LINK = 0x09


class _Invalid(Exception):
    """Internal: the body does not match its schema."""


_Check = Callable[[object], bool]


def _string(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_STRING


def _boolean(value: object) -> bool:
    return isinstance(value, bool)


def _size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 53


def _uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def _hex32(value: object) -> bool:
    return isinstance(value, str) and _HEX32_RE.fullmatch(value) is not None


def _b64_32(value: object) -> bool:
    # 43 characters of base64url carry 258 bits; the last character must leave the two
    # spare bits zero, otherwise two strings would decode to the same key.
    return (
        isinstance(value, str)
        and _B64_32_RE.fullmatch(value) is not None
        and value[-1] in "AEIMQUYcgkosw048"
    )


def _one_of(choices: frozenset[str]) -> _Check:
    return lambda value: isinstance(value, str) and value in choices


def _list_of(item: _Check, minimum: int = 1) -> _Check:
    return lambda value: (
        isinstance(value, list)
        and minimum <= len(value) <= _MAX_LIST
        and all(item(v) for v in value)
    )


def _string_or_strings(value: object) -> bool:
    return _string(value) or _list_of(_string)(value)


def _details(value: object) -> bool:
    return (
        isinstance(value, dict)
        and len(value) <= _MAX_LIST
        and all(_string(k) and _string_or_strings(v) for k, v in value.items())
    )


def _object(required: Mapping[str, _Check], optional: Mapping[str, _Check] | None = None) -> _Check:
    optional = optional or {}

    def check(value: object) -> bool:
        if not isinstance(value, dict):
            return False
        keys = set(value)
        if not keys >= set(required) or not keys <= set(required) | set(optional):
            return False
        checks = {**required, **optional}
        return all(checks[k](v) for k, v in value.items())

    return check


#: The four fields that name an encrypted attachment: a photo's own, its thumbnail's, and
#: the same in a patient drop's photo body (crypto.patient_drop).
_ATTACHMENT_REF: Final[Mapping[str, _Check]] = {
    "attachment_id": _uuid,
    "file_key": _b64_32,
    "ciphertext_sha256": _hex32,
    "ciphertext_size": _size,
}

_SCHEMAS: Final[dict[ContentType, _Check]] = {
    ContentType.TEXT: _object({"text": _string}),
    ContentType.CLINICAL_HISTORY: _object(
        {
            "patient": _object(
                {"nhs_number": _string, "name": _string, "date_of_birth": _string, "sex": _string}
            ),
            "body_site": _string,
            "duration": _string,
            "changes": _object({"size": _boolean, "shape": _boolean, "colour": _boolean}),
            "symptoms": _object(
                {"itch": _boolean, "bleeding": _boolean, "scaling": _boolean, "soreness": _boolean}
            ),
            "previous_skin_cancer": _boolean,
            "skin_type": _string,
            "question": _string,
            "consent_to_photography": _boolean,
        },
        {"relevant_history": _string, "medicines": _string},
    ),
    ContentType.PHOTO_REFERENCE: _object(
        {
            **_ATTACHMENT_REF,
            "media_type": _string,
            "tag": _one_of(_PHOTO_TAGS),
            "body_site": _string,
        },
        {"caption": _string, "thumbnail": _object(_ATTACHMENT_REF)},
    ),
    ContentType.QUESTION: _object({"text": _string}),
    ContentType.RETAKE_REQUEST: _object(
        {"attachment_ids": _list_of(_uuid), "reasons": _list_of(_string)}, {"text": _string}
    ),
    ContentType.OUTCOME: _object(
        {"category": _one_of(_OUTCOMES), "summary": _string, "details": _details}
    ),
    ContentType.RECEIPT: _object({"kind": _one_of(_RECEIPTS), "message_ids": _list_of(_uuid)}),
    ContentType.PATIENT_LINK: _object(
        {
            "link_id": _uuid,
            "expires_at_ms": _size,
            "max_photos": _size,
            "drop_box_private_key": _b64_32,
        }
    ),
}


def _validate(content_type: ContentType, body: object) -> dict[str, Any]:
    # type() rather than isinstance: JSON true and 1.0 must not pass as version 1.
    if not isinstance(body, dict) or type(body.get("v")) is not int or body["v"] != BODY_VERSION:
        raise _Invalid
    fields = {k: v for k, v in body.items() if k != "v"}
    if not _SCHEMAS[content_type](fields):
        raise _Invalid
    # The one rule across fields: a photo's thumbnail is another attachment than the photo.
    thumbnail = fields.get("thumbnail") if content_type is ContentType.PHOTO_REFERENCE else None
    if thumbnail is not None and thumbnail["attachment_id"] == fields["attachment_id"]:
        raise _Invalid
    return body


def encode_content(content_type: ContentType, body: Mapping[str, Any]) -> bytes:
    """The UTF-8 JSON plaintext for a body; ``"v": 1`` is added. ``ValueError`` if invalid."""
    content_type = ContentType(content_type)
    if not isinstance(body, Mapping):
        raise TypeError("body must be a mapping")
    full = {**body, "v": BODY_VERSION}
    try:
        _validate(content_type, full)
    except _Invalid:
        raise ValueError(f"body does not match the {content_type.name.lower()} schema") from None
    text = json.dumps(
        full, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form. Refused with a plain ValueError, as the browser
        # port does, rather than a UnicodeEncodeError whose message quotes the text.
        raise ValueError("body holds a string that is not valid Unicode") from None
    if len(data) > MAX_BODY_BYTES:
        raise ValueError("body is larger than 1 MiB")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Invalid
    return out


def _no_constants(_: str) -> None:
    raise _Invalid


def decode_content(content_type: ContentType, data: bytes) -> dict[str, Any]:
    """Parse and check a decrypted body; raises :class:`ContentError` if it is not valid.

    Call this only on the output of :func:`crypto.envelope.open_message`, with the content
    type from its (authenticated) header.
    """
    content_type = ContentType(content_type)
    data = check_bytes("data", data)
    try:
        if len(data) > MAX_BODY_BYTES:
            raise _Invalid
        # ValueError covers JSONDecodeError, UnicodeDecodeError and an integer too long to
        # convert; RecursionError, nesting deeper than the parser's stack. Only the parse is
        # inside this clause, so no ValueError from our own checks can be turned into a
        # ContentError by mistake.
        body = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except (_Invalid, ValueError, RecursionError):
        raise ContentError from None
    try:
        return _validate(content_type, body)
    except _Invalid:
        raise ContentError from None


@dataclass(frozen=True)
class _Attachment:
    """The fields of a thumbnail here and in :mod:`crypto.patient_drop`; ``repr`` hides the
    file key."""

    attachment_id: uuid.UUID
    file_key: bytes = field(repr=False)
    ciphertext_sha256: bytes
    ciphertext_size: int


@dataclass(frozen=True)
class PhotoThumbnail(_Attachment):
    """The thumbnail attachment of a photo (the same shape as a patient drop's thumbnail)."""


@dataclass(frozen=True)
class PhotoReference:
    """A photo-reference body, with its key and hash as bytes.

    ``repr`` shows neither the file keys nor the clinical text (body site, caption).
    ``thumbnail``, when present, is a small preview in its own attachment: one signed
    message binds the photo and its thumbnail together.
    """

    attachment_id: uuid.UUID
    file_key: bytes = field(repr=False)
    ciphertext_sha256: bytes
    ciphertext_size: int
    media_type: str
    tag: str
    body_site: str = field(repr=False)
    caption: str | None = field(default=None, repr=False)
    thumbnail: PhotoThumbnail | None = None


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    # The schema admits only 43 base64url characters with zero spare bits, so this decodes.
    return base64.urlsafe_b64decode(text + "=")


class _AttachmentRef(Protocol):
    """What names an encrypted attachment: a photo, its thumbnail, a patient drop's photo."""

    @property
    def attachment_id(self) -> uuid.UUID: ...
    @property
    def file_key(self) -> bytes: ...
    @property
    def ciphertext_sha256(self) -> bytes: ...
    @property
    def ciphertext_size(self) -> int: ...


class _AttachmentRefFields(TypedDict):
    attachment_id: uuid.UUID
    file_key: bytes
    ciphertext_sha256: bytes
    ciphertext_size: int


def _encode_attachment_ref(ref: _AttachmentRef, where: str = "") -> dict[str, Any]:
    """The :data:`_ATTACHMENT_REF` fields of ``ref``; ``where`` prefixes the names in errors.

    Also used by :mod:`crypto.patient_drop`.
    """
    return {
        "attachment_id": str(
            uuid.UUID(bytes=check_uuid(where + "attachment_id", ref.attachment_id))
        ),
        "file_key": _b64(check_bytes(where + "file_key", ref.file_key, 32)),
        "ciphertext_sha256": check_bytes(
            where + "ciphertext_sha256", ref.ciphertext_sha256, 32
        ).hex(),
        "ciphertext_size": ref.ciphertext_size,
    }


def _decode_attachment_ref(body: Mapping[str, Any]) -> _AttachmentRefFields:
    """The :data:`_ATTACHMENT_REF` fields of a body its schema has checked, as values."""
    return _AttachmentRefFields(
        attachment_id=uuid.UUID(body["attachment_id"]),
        file_key=_unb64(body["file_key"]),
        ciphertext_sha256=bytes.fromhex(body["ciphertext_sha256"]),
        ciphertext_size=body["ciphertext_size"],
    )


def encode_photo_reference(ref: PhotoReference) -> bytes:
    """The photo-reference body for ``ref`` (``ValueError`` if a field is invalid)."""
    if not isinstance(ref, PhotoReference):
        raise TypeError("ref must be a PhotoReference")
    body: dict[str, Any] = {
        **_encode_attachment_ref(ref),
        "media_type": ref.media_type,
        "tag": ref.tag,
        "body_site": ref.body_site,
    }
    if ref.caption is not None:
        body["caption"] = ref.caption
    thumb = ref.thumbnail
    if thumb is not None:
        if not isinstance(thumb, PhotoThumbnail):
            raise TypeError("thumbnail must be a PhotoThumbnail")
        body["thumbnail"] = _encode_attachment_ref(thumb, "thumbnail.")
    return encode_content(ContentType.PHOTO_REFERENCE, body)


def decode_photo_reference(data: bytes) -> PhotoReference:
    """Parse a decrypted photo-reference body; raises :class:`ContentError`."""
    body = decode_content(ContentType.PHOTO_REFERENCE, data)
    thumb = body.get("thumbnail")
    return PhotoReference(
        **_decode_attachment_ref(body),
        media_type=body["media_type"],
        tag=body["tag"],
        body_site=body["body_site"],
        caption=body.get("caption"),
        thumbnail=None if thumb is None else PhotoThumbnail(**_decode_attachment_ref(thumb)),
    )
