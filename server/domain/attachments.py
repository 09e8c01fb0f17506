"""Storing one attachment's ciphertext: the checks both upload routes share.

Used by the case upload (``CaseService.upload``) and the patient-link upload
(``PatientLinkService.upload``), so every bad upload gets the same stable code on both
(issue 6, "Bad input"; ``docs/api.md``, "Photos"):

* the attachment id is a UUID and the declared SHA-256 is 32 bytes (else ``invalid_header``);
* a body shorter than the smallest attachment record is refused (``empty_upload``): the
  streaming format (``crypto.attachment``) always has its header and at least one tag;
* over the cap: ``payload_too_large``; the hash of what arrived differs from the declared
  one: ``hash_mismatch``; the stream broke off: ``upload_incomplete``. In each case the blob
  written so far is removed (the blob store removes its own temp file), so nothing is left.
* Idempotent retry: the same id, in the same case, from the same uploader, with the same
  ciphertext hash answers the existing attachment (``created`` False) instead of a conflict,
  because a client that lost the first answer cannot tell whether it arrived. Anything else
  under a used id (another case, another hash, another uploader) is ``conflict``.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime

import storage
from crypto.attachment import attachment_length
from server.errors import (
    Conflict,
    EmptyUpload,
    HashMismatch,
    InvalidHeader,
    PayloadTooLarge,
)

__all__ = ["MIN_ATTACHMENT_BYTES", "Stored", "check_upload_headers", "store_attachment"]

#: The smallest valid attachment record: its header and one (empty, final) chunk's tag.
MIN_ATTACHMENT_BYTES = attachment_length(0)


@dataclass(frozen=True, slots=True)
class Stored:
    attachment: storage.Attachment
    #: False when this was a retry of an upload that had already been stored
    created: bool


def check_upload_headers(attachment_id: str, declared_sha256: str) -> bytes:
    """Validate ``X-Attachment-Id`` and ``X-Ciphertext-SHA256``; the declared hash as bytes.

    Messages name the header, never the value sent (it is client data)."""
    try:
        parsed = uuid.UUID(attachment_id)
    except ValueError:
        raise InvalidHeader("X-Attachment-Id must be a UUID") from None
    if str(parsed) != attachment_id:
        # uuid.UUID also takes upper case, braces, "urn:uuid:" and no dashes; one spelling
        # only (lower-case, dashed), so one attachment can never be known under two ids.
        raise InvalidHeader("X-Attachment-Id must be a UUID") from None
    if len(declared_sha256) != 64:
        raise InvalidHeader("X-Ciphertext-SHA256 must be 64 hex digits")
    try:
        return bytes.fromhex(declared_sha256)
    except ValueError:
        raise InvalidHeader("X-Ciphertext-SHA256 must be 64 hex digits") from None


def _same(existing: storage.Attachment, case_id: str, uploader_id: str, sha256: bytes) -> bool:
    return (
        existing.case_id == case_id
        and existing.uploader_id == uploader_id
        and hmac.compare_digest(existing.ciphertext_sha256, sha256)
    )


async def _existing(store: storage.Storage, attachment_id: str) -> storage.Attachment | None:
    try:
        return await store.get_attachment(attachment_id)
    except storage.NotFound:
        return None


async def store_attachment(
    store: storage.Storage,
    *,
    attachment_id: str,
    case_id: str,
    uploader_id: str,
    declared_sha256: bytes,
    declared_length: int,
    chunks: AsyncIterable[bytes],
    max_size: int,
    now: datetime,
) -> Stored:
    """Stream ``chunks`` into the blob store and record the attachment (see module doc).

    ``declared_length`` is the request's ``Content-Length``, already known to be at most
    ``max_size``; the caller (the HTTP handler) refuses uploads without one."""
    if declared_length < MIN_ATTACHMENT_BYTES:
        raise EmptyUpload()
    before = await _existing(store, attachment_id)
    # A clash is decided before reading the body (it need not be streamed only to be
    # thrown away). A retry's bytes are still streamed and checked against the declared
    # hash below, so "same hash" means the same ciphertext arrived; its copy is dropped.
    if before is not None and not _same(before, case_id, uploader_id, declared_sha256):
        raise Conflict("an attachment with this id exists")
    try:
        info = await store.blobs.put(chunks, max_size=max_size)
    except storage.BlobTooLarge:
        raise PayloadTooLarge("the photo is larger than the limit") from None
    if not hmac.compare_digest(info.sha256, declared_sha256):
        await store.blobs.delete(info.blob_id)
        raise HashMismatch()
    if before is not None:
        await store.blobs.delete(info.blob_id)
        return Stored(before, created=False)
    try:
        attachment = await store.create_attachment(
            storage.Attachment(
                attachment_id=attachment_id,
                case_id=case_id,
                uploader_id=uploader_id,
                blob_id=info.blob_id,
                ciphertext_sha256=info.sha256,
                size=info.size,
                content_type="application/octet-stream",
                metadata=b"",
                created_at=now,
            )
        )
    except storage.Conflict:
        await store.blobs.delete(info.blob_id)
        # Two attempts of the same upload raced: the one that lost answers like a retry.
        raced = await _existing(store, attachment_id)
        if raced is not None and _same(raced, case_id, uploader_id, info.sha256):
            return Stored(raced, created=False)
        raise Conflict("an attachment with this id exists") from None
    return Stored(attachment, created=True)
