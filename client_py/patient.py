"""Patient photo links from Python (docs/protocol.md section 17).

Three roles, each a reference for the web client:

* the GP: :func:`create_patient_link` makes the drop-box key pair, asks the server for a
  link, posts the private key into the thread (content type ``patient_link``) and returns the
  URL fragment for the patient;
* the patient (no account): :func:`send_patient_photos` checks the link, encrypts and uploads
  each prepared photo and its thumbnail, seals one drop record per photo to the drop-box
  public key and submits them (single use);
* any reader of the case: :func:`fetch_patient_photos` finds the link's private key in the
  thread, opens the records, downloads the attachments and checks their hashes.

Example::

    link = await create_patient_link(gp, case_id)
    await send_patient_photos(base_url, link.fragment, [PatientPhotoIn(jpeg, thumb, ...)])
    photos = await fetch_patient_photos(dermatologist, case_id)
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from client_py.api import ApiError, b64d, b64e
from client_py.client import DermlineClient
from crypto.account import generate_key_pair, key_pair_from_private
from crypto.attachment import decrypt_attachment, encrypt_attachment, new_file_key
from crypto.content import ContentType
from crypto.patient_drop import (
    PatientPhoto,
    PatientThumbnail,
    format_link_fragment,
    open_patient_photo,
    parse_link_fragment,
    seal_patient_photo,
)

__all__ = [
    "LINK_TOKEN_HEADER",
    "PatientLinkHandle",
    "PatientPhotoIn",
    "ReceivedPatientPhoto",
    "create_patient_link",
    "fetch_patient_photos",
    "send_patient_photos",
]

V1 = "/api/v1"
LINK_TOKEN_HEADER = "X-Dermline-Link-Token"  # noqa: S105 (a header name, not a secret)


@dataclass(frozen=True)
class PatientLinkHandle:
    link_id: str
    fragment: str = field(repr=False)  # holds the token: never log it
    expires_at: str
    max_photos: int

    @property
    def path(self) -> str:
        """What to append to the server's origin for the patient (QR code / text)."""
        return "/#/p/" + self.fragment


@dataclass(frozen=True)
class PatientPhotoIn:
    """One photo the patient sends: prepared JPEG bytes (orientation applied, metadata
    stripped: ``client_py.photo``) and its thumbnail."""

    image: bytes = field(repr=False)
    thumbnail: bytes = field(repr=False)
    tag: str
    body_site: str = field(repr=False)
    quality_verdict: str | None = None
    quality_reasons: tuple[str, ...] = ()
    send_anyway_reason: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ReceivedPatientPhoto:
    link_id: str
    index: int
    photo: PatientPhoto
    image: bytes = field(repr=False)
    thumbnail: bytes | None = field(repr=False)


async def create_patient_link(
    gp: DermlineClient, case_id: str, *, ttl_minutes: int = 24 * 60, max_photos: int = 6
) -> PatientLinkHandle:
    """Make a link and put its drop-box private key into the case thread."""
    box = generate_key_pair()
    made = await gp.api.post(
        f"{V1}/cases/{case_id}/patient-links",
        {"ttl_minutes": ttl_minutes, "max_photos": max_photos},
    )
    link = made["link"]
    expires_ms = int(dt.datetime.fromisoformat(link["expires_at"]).timestamp() * 1000)
    await gp.post_message(
        case_id,
        ContentType.PATIENT_LINK,
        {
            "link_id": link["link_id"],
            "expires_at_ms": expires_ms,
            "max_photos": link["max_photos"],
            "drop_box_private_key": b64e(box.private_key),
        },
    )
    return PatientLinkHandle(
        link_id=link["link_id"],
        fragment=format_link_fragment(b64d(made["token"]), box.public_key),
        expires_at=link["expires_at"],
        max_photos=link["max_photos"],
    )


async def _check(resp: aiohttp.ClientResponse, *statuses: int) -> Any:
    body = await resp.json(content_type=None)
    if resp.status not in statuses:
        err = (body or {}).get("error", {})
        raise ApiError(resp.status, err.get("code", "unknown"), err.get("message", ""))
    return body


async def send_patient_photos(
    base_url: str, fragment: str, photos: list[PatientPhotoIn], *, origin: str | None = None
) -> int:
    """The patient's side, without an account. Returns the number of photos received.

    Raises :class:`crypto.errors.PatientLinkFormatError` for a mistyped link and
    :class:`ApiError` (``link_invalid`` and others) for a refusal."""
    token, public_key = parse_link_fragment(fragment)
    base = base_url.rstrip("/")
    headers = {LINK_TOKEN_HEADER: b64e(token)}
    if origin is not None:
        headers["Origin"] = origin
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        async with http.post(f"{base}{V1}/patient/link", headers=headers) as resp:
            info = await _check(resp, 200)
        link_id = info["link_id"]

        async def upload(data: bytes) -> tuple[str, bytes, bytes, int]:
            key = new_file_key()
            record, digest = encrypt_attachment(key, data)
            attachment_id = str(uuid.uuid4())
            async with http.post(
                f"{base}{V1}/patient/attachments",
                data=io.BytesIO(record),
                headers={
                    **headers,
                    "Content-Type": "application/octet-stream",
                    "X-Attachment-Id": attachment_id,
                    "X-Ciphertext-SHA256": digest.hex(),
                },
            ) as resp:
                await _check(resp, 201, 200)  # 200: a retry whose first answer was lost
            return attachment_id, key, digest, len(record)

        records: list[str] = []
        for index, p in enumerate(photos):
            t_id, t_key, t_sha, t_size = await upload(p.thumbnail)
            a_id, a_key, a_sha, a_size = await upload(p.image)
            photo = PatientPhoto(
                attachment_id=uuid.UUID(a_id),
                file_key=a_key,
                ciphertext_sha256=a_sha,
                ciphertext_size=a_size,
                media_type="image/jpeg",
                tag=p.tag,
                body_site=p.body_site,
                thumbnail=PatientThumbnail(uuid.UUID(t_id), t_key, t_sha, t_size),
                quality_verdict=p.quality_verdict,
                quality_reasons=p.quality_reasons,
                send_anyway_reason=p.send_anyway_reason,
            )
            records.append(
                b64e(
                    seal_patient_photo(
                        photo,
                        link_id=uuid.UUID(link_id),
                        index=index,
                        drop_box_public_key=public_key,
                    )
                )
            )
        async with http.post(
            f"{base}{V1}/patient/submit", json={"records": records}, headers=headers
        ) as resp:
            done = await _check(resp, 201)
    return int(done["received"])


async def _download(reader: DermlineClient, case_id: str, attachment_id: str) -> bytes:
    url = f"{reader.base_url}{V1}/cases/{case_id}/attachments/{attachment_id}"
    async with reader.api.session.get(url, ssl=reader.api._ssl) as resp:
        if resp.status != 200:
            await _check(resp, 200)
        return await resp.read()


async def fetch_patient_photos(reader: DermlineClient, case_id: str) -> list[ReceivedPatientPhoto]:
    """Every photo patients sent to the case, opened and hash-checked, in link and index
    order. A record that does not open raises :class:`crypto.errors.PatientDropError`."""
    keys: dict[str, bytes] = {}
    for message in await reader.messages(case_id):
        ctype, body = await reader.open(message)
        if ctype is ContentType.PATIENT_LINK:
            keys[body["link_id"]] = b64d(body["drop_box_private_key"])
    out: list[ReceivedPatientPhoto] = []
    links = (await reader.api.get(f"{V1}/cases/{case_id}/patient-links"))["links"]
    for link in sorted(links, key=lambda x: x["created_at"]):
        if link["status"] != "used" or link["link_id"] not in keys:
            continue
        box = key_pair_from_private(keys[link["link_id"]])
        sub = await reader.api.get(
            f"{V1}/cases/{case_id}/patient-links/{link['link_id']}/submission"
        )
        seen: set[int] = set()
        received: list[ReceivedPatientPhoto] = []
        for raw in sub["records"]:
            index, photo = open_patient_photo(
                b64d(raw), link_id=uuid.UUID(link["link_id"]), drop_box=box
            )
            if index in seen:
                raise ValueError("two photo records share an index")
            seen.add(index)
            image = decrypt_attachment(
                photo.file_key,
                await _download(reader, case_id, str(photo.attachment_id)),
                expected_sha256=photo.ciphertext_sha256,
            )
            thumb = None
            if photo.thumbnail is not None:
                thumb = decrypt_attachment(
                    photo.thumbnail.file_key,
                    await _download(reader, case_id, str(photo.thumbnail.attachment_id)),
                    expected_sha256=photo.thumbnail.ciphertext_sha256,
                )
            received.append(ReceivedPatientPhoto(link["link_id"], index, photo, image, thumb))
        out += sorted(received, key=lambda r: r.index)
    return out
