"""The Python client: accept an invite, log in with TOTP, cases, end-to-end encrypted
messages in real time, close with an outcome.

Example::

    client = DermlineClient("http://127.0.0.1:8443")
    await client.accept_invite(token, "gp@example.org", "Dr Gee", password)
    await client.login("gp@example.org", password, totp=lambda: pyotp.TOTP(secret).now())
    case_id = await client.create_case(practice_id, service_id, history)
    await client.connect_realtime()
    await client.send_text(case_id, "Any thoughts?")

Everything the server receives is ciphertext and routing metadata (``crypto/``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client_py.api import ApiError, HttpApi, b64d, b64e
from client_py.identity import Enrolment, Identity, enrol, login_keys, unlock
from client_py.realtime import RealtimeClient
from client_py.retention import parse_date, retention_for
from crypto.attachment import decrypt_attachment, encrypt_attachment, new_file_key
from crypto.case_key import (
    case_key_commitment,
    case_key_matches_commitment,
    generate_case_key,
    open_case_key_wrap,
    parse_case_key_wrap_header,
    wrap_case_key,
)
from crypto.content import ContentType, decode_content, encode_content
from crypto.envelope import GENESIS_HASH, message_hash, open_message, seal_message
from crypto.errors import CaseKeyUnwrapError

__all__ = ["ApiError", "DermlineClient", "ThreadPhoto", "legacy_thumbnail_target"]

V1 = "/api/v1"

_LEGACY_THUMB_PREFIX = "image/jpeg; dermline-role=thumbnail; for="
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def legacy_thumbnail_target(media_type: str) -> str | None:
    """For an old web client's separate thumbnail reference, the attachment id of the photo
    it belongs to; ``None`` for an ordinary photo reference. Nothing writes this any more:
    a photo's thumbnail now travels inside its own reference (docs/photos.md)."""
    if not media_type.startswith(_LEGACY_THUMB_PREFIX):
        return None
    target = media_type[len(_LEGACY_THUMB_PREFIX) :]
    return target if _UUID_RE.fullmatch(target) else None


@dataclass
class ThreadPhoto:
    """A photo of a case thread: its decrypted reference body and who sent it."""

    seq: int
    sender_id: str
    reference: dict[str, Any] = field(repr=False)
    #: An old client's separate thumbnail reference for this photo (see DermlineClient.photos).
    legacy_thumbnail: dict[str, Any] | None = field(default=None, repr=False)


def new_message_id() -> str:
    """A UUIDv7 (time-ordered, RFC 9562) made by the sender (DESIGN section 6)."""
    import os
    import time

    ms = time.time_ns() // 1_000_000
    rand = bytearray(os.urandom(10))
    raw = ms.to_bytes(6, "big") + bytes([0x70 | (rand[0] & 0x0F), rand[1]])
    raw += bytes([0x80 | (rand[2] & 0x3F)]) + bytes(rand[3:10])
    return str(uuid.UUID(bytes=raw))


class DermlineClient:
    def __init__(
        self, base_url: str, *, origin: str | None = None, ssl: Any = None, ack_timeout: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = HttpApi(base_url, origin=origin, ssl=ssl)
        self._origin = origin
        self._ack_timeout = ack_timeout
        self.identity: Identity | None = None
        self.me: dict[str, Any] = {}
        self._case_keys: dict[tuple[str, int], bytes] = {}
        # The key commitment verified when each case key was unwrapped (or made here).
        self._case_key_commitments: dict[tuple[str, int], bytes] = {}
        self._signing_keys: dict[str, bytes] = {}
        self._last_hash: dict[str, bytes] = {}
        self.realtime: RealtimeClient | None = None

    async def close(self) -> None:
        """Idempotent: disconnect the socket and close the HTTP session (even when
        disconnecting the socket fails)."""
        try:
            if self.realtime is not None:
                await self.realtime.disconnect()
                self.realtime = None
        finally:
            if not self.api.session.closed:
                await self.api.close()

    # ------------------------------------------------------------------ accounts

    async def accept_invite(
        self,
        token: str,
        login_name: str,
        display_name: str,
        password: str,
    ) -> Enrolment:
        enrolment = enrol(password)
        body: dict[str, Any] = {
            k: (v if isinstance(v, str) else b64e(v)) for k, v in enrolment.request.items()
        }
        body.update(token=token, login_name=login_name, display_name=display_name)
        await self.api.post(f"{V1}/invites/accept", body)
        return enrolment

    async def login(
        self,
        login_name: str,
        password: str,
        *,
        totp: Callable[[], str] | None = None,
        recovery_code: str | None = None,
    ) -> str:
        """Password then second factor (a TOTP code or a recovery code; a passkey needs a
        browser). Returns "done"; "enrol" when TOTP is not set up yet (then call
        :meth:`begin_totp_enrolment` and :meth:`confirm_totp`); or "passkey_enrol" when the
        organisation requires a passkey and the account has none: the session stays pending
        until one is registered in the web client (docs/api.md "Passkeys")."""
        pre = await self.api.post(f"{V1}/auth/prelogin", {"login_name": login_name})
        auth_key, kek = login_keys(password, b64d(pre["kdf_params"]))
        self._kek = kek
        step = await self.api.post(
            f"{V1}/auth/login", {"login_name": login_name, "auth_key": b64e(auth_key)}
        )
        if step["next"] == "enrol":
            return "enrol"
        body: dict[str, Any] = (
            {"recovery_code": recovery_code} if recovery_code else {"code": totp() if totp else ""}
        )
        answer = await self.api.post(f"{V1}/auth/totp", body)
        if answer.get("next") == "passkey_enrol":
            return "passkey_enrol"
        await self._unlock()
        return "done"

    async def begin_totp_enrolment(self) -> dict[str, str]:
        return dict(await self.api.post(f"{V1}/auth/totp/enrol"))

    async def confirm_totp(self, code: str) -> list[str]:
        answer = await self.api.post(f"{V1}/auth/totp/confirm", {"code": code})
        await self._unlock()
        return list(answer["recovery_codes"])

    async def _unlock(self) -> None:
        self.me = await self.api.get(f"{V1}/me")
        self.identity = unlock(
            self.me["user_id"],
            self._kek,
            b64d(self.me["wrapped_usk"]),
            b64d(self.me["sealed_private_keys"]),
        )

    async def logout(self) -> None:
        await self.api.post(f"{V1}/auth/logout")

    # ------------------------------------------------------------------ organisations

    async def create_organisation(
        self, kind: str, name: str, records_public_key: bytes | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "name": name}
        if records_public_key is not None:
            body["records_public_key"] = b64e(records_public_key)
        return dict(await self.api.post(f"{V1}/orgs", body))

    async def set_records_key(self, org_id: str, public_key: bytes) -> dict[str, Any]:
        return dict(
            await self.api.put(
                f"{V1}/orgs/{org_id}/records-key", {"records_public_key": b64e(public_key)}
            )
        )

    async def invite(self, org_id: str, role: str, login_name: str | None = None) -> str:
        body: dict[str, Any] = {"role": role}
        if login_name:
            body["login_name"] = login_name
        answer = await self.api.post(f"{V1}/orgs/{org_id}/invites", body)
        return str(answer["token"])

    # ------------------------------------------------------------------ cases

    def _me(self) -> Identity:
        if self.identity is None:
            raise RuntimeError("log in first")
        return self.identity

    async def create_case(
        self,
        practice_id: str,
        service_id: str,
        clinical_history: dict[str, Any],
        *,
        priority: str = "routine",
    ) -> str:
        """Open a case addressed to the service's dermatologists and post the history."""
        me = self._me()
        orgs = {o["org_id"]: o for o in (await self.api.get(f"{V1}/orgs"))["organisations"]}
        records_key = b64d(orgs[practice_id]["records_public_key"])
        derms = await self._service_dermatologists(service_id)
        case_id = str(uuid.uuid4())
        case_key = generate_case_key()

        def wrap(public_key: bytes) -> str:
            return self._wrap_epoch0(case_key, case_id, public_key)

        keys = [
            {
                "recipient_kind": "user",
                "recipient_id": me.user_id,
                "wrapped_key": wrap(me.encryption.public_key),
            }
        ]
        keys += [
            {
                "recipient_kind": "user",
                "recipient_id": d["user_id"],
                "wrapped_key": wrap(b64d(d["encryption_public_key"])),
            }
            for d in derms
        ]
        keys.append(
            {
                "recipient_kind": "organisation",
                "recipient_id": practice_id,
                "wrapped_key": wrap(records_key),
            }
        )
        await self.api.post(
            f"{V1}/cases",
            {
                "case_id": case_id,
                "practice_id": practice_id,
                "service_id": service_id,
                "priority": priority,
                "participants": [me.user_id, *[d["user_id"] for d in derms]],
                "case_keys": keys,
            },
        )
        self._case_keys[(case_id, 0)] = case_key
        self._case_key_commitments[(case_id, 0)] = case_key_commitment(
            case_key, case_id=uuid.UUID(case_id), epoch=0
        )
        await self.post_message(case_id, ContentType.CLINICAL_HISTORY, clinical_history)
        return case_id

    async def get_case(self, case_id: str) -> dict[str, Any]:
        detail = await self.api.get(f"{V1}/cases/{case_id}")
        for p in detail["participants"]:
            self._signing_keys[p["user_id"]] = b64d(p["signing_public_key"])
        return dict(detail)

    async def case_key(self, case_id: str, epoch: int = 0) -> bytes:
        """The case key of an epoch, for sealing and opening its messages.

        Unwrapped from my wrap (signature, wrapper, addressing and, for a committed 0x0b
        wrap, the key commitment checked by ``open_case_key_wrap``; the wrapper is the
        creating GP or, for a key shared later, another participant), then cached with the
        commitment; every later use checks the cached key against that commitment again
        (docs/protocol.md section 8). Raises ``CaseKeyUnwrapError`` if it does not match.
        """
        if (case_id, epoch) in self._case_keys:
            key = self._case_keys[(case_id, epoch)]
            commitment = self._case_key_commitments.get((case_id, epoch))
            if commitment is not None and not case_key_matches_commitment(
                key, commitment, case_id=uuid.UUID(case_id), epoch=epoch
            ):
                raise CaseKeyUnwrapError
            return key
        me = self._me()
        detail = await self.get_case(case_id)
        participants = {p["user_id"] for p in detail["participants"]}
        for k in detail["case_keys"]:
            if (
                k["recipient_kind"] == "user"
                and k["recipient_id"] == me.user_id
                and k["epoch"] == epoch
            ):
                record = b64d(k["wrapped_key"])
                # The creating GP wrapped it, or (shared later) another participant: the
                # wrapper must be a participant, and its listed key must have signed.
                wrapper = str(parse_case_key_wrap_header(record).wrapper_user_id)
                if wrapper not in participants:
                    raise CaseKeyUnwrapError
                key = open_case_key_wrap(
                    record,
                    case_id=uuid.UUID(case_id),
                    epoch=epoch,
                    recipient=me.encryption,
                    wrapper_signing_public_key=self._signing_keys[wrapper],
                    wrapper_user_id=uuid.UUID(wrapper),
                )
                commitment = parse_case_key_wrap_header(record).commitment
                if commitment is not None:  # None: a legacy 0x06 wrap, stored before 0x0b
                    self._case_key_commitments[(case_id, epoch)] = commitment
                self._case_keys[(case_id, epoch)] = key
                return key
        raise RuntimeError("no case key for this user")

    async def colleagues_without_key(self, case_id: str) -> list[dict[str, Any]]:
        """The service's dermatologists (directory entries) who are not participants of the
        case, so hold no wrap of its key: "directory dermatologists minus participants"."""
        detail = await self.get_case(case_id)
        service_id = detail["case"]["service_id"]
        participants = {p["user_id"] for p in detail["participants"]}
        derms = await self._service_dermatologists(service_id)
        return [m for m in derms if m["user_id"] not in participants]

    async def _service_dermatologists(self, service_id: str) -> list[dict[str, Any]]:
        """The service's dermatologists, as directory entries (with their public keys)."""
        directory = await self.api.get(f"{V1}/orgs/{service_id}/directory")
        return [
            m
            for m in directory["members"]
            if any(
                x["org_id"] == service_id and x["role"] == "dermatologist" for x in m["memberships"]
            )
        ]

    def _wrap_epoch0(self, case_key: bytes, case_id: str, recipient_public_key: bytes) -> str:
        """The case key wrapped (0x0b, signed by me) to one recipient, base64url."""
        me = self._me()
        return b64e(
            wrap_case_key(
                case_key,
                case_id=uuid.UUID(case_id),
                epoch=0,
                recipient_public_key=recipient_public_key,
                wrapper_user_id=uuid.UUID(me.user_id),
                wrapper_signing_key=me.signing,
            )
        )

    async def share_case_key(self, case_id: str) -> list[str]:
        """Wrap the case key (epoch 0) to every dermatologist of the case's service who lacks
        it and post the wraps; returns the new participants' ids (empty if nobody lacks it).

        The key is the one :meth:`case_key` opened and checked against its commitment, so
        each new wrap carries the same commitment, which the server compares with the
        epoch's (``case_key_mismatch`` otherwise). The same epoch: a member joining is no
        reason for a new key (docs/protocol.md section 8).
        """
        key = await self.case_key(case_id)
        lacking = await self.colleagues_without_key(case_id)
        if not lacking:
            return []
        wraps = [
            {
                "recipient_id": d["user_id"],
                "wrapped_key": self._wrap_epoch0(key, case_id, b64d(d["encryption_public_key"])),
            }
            for d in lacking
        ]
        answer = await self.api.post(f"{V1}/cases/{case_id}/keys", {"case_keys": wraps})
        return list(answer["added"])

    async def seal(
        self, case_id: str, content_type: ContentType, body: dict[str, Any]
    ) -> tuple[str, str]:
        """(client message id, base64url envelope) for a message body."""
        me = self._me()
        key = await self.case_key(case_id)
        msg_id = new_message_id()
        envelope = seal_message(
            encode_content(content_type, body),
            case_key=key,
            case_id=uuid.UUID(case_id),
            epoch=0,
            client_message_id=uuid.UUID(msg_id),
            sender_user_id=uuid.UUID(me.user_id),
            sender_signing_key=me.signing,
            content_type=content_type,
            previous_hash=self._last_hash.get(case_id, GENESIS_HASH),
        )
        return msg_id, b64e(envelope)

    async def open(self, message: dict[str, Any]) -> tuple[ContentType, dict[str, Any]]:
        """Verify and decrypt a message dict (as the server sends it)."""
        case_id = message["case_id"]
        key = await self.case_key(case_id)
        sender = message["sender_id"]
        if sender not in self._signing_keys:
            await self.get_case(case_id)
        record = b64d(message["envelope"])
        opened = open_message(
            record,
            case_key=key,
            case_id=uuid.UUID(case_id),
            epoch=0,
            sender_signing_public_key=self._signing_keys[sender],
        )
        self._last_hash[case_id] = message_hash(record)
        return opened.header.content_type, decode_content(opened.header.content_type, opened.body)

    async def post_message(
        self, case_id: str, content_type: ContentType, body: dict[str, Any]
    ) -> int:
        """Send over HTTP (idempotent); returns the sequence number."""
        msg_id, envelope = await self.seal(case_id, content_type, body)
        answer = await self.api.post(
            f"{V1}/cases/{case_id}/messages", {"client_msg_id": msg_id, "envelope": envelope}
        )
        return int(answer["seq"])

    async def messages(self, case_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
        answer = await self.api.get(f"{V1}/cases/{case_id}/messages", after_seq=after_seq)
        return list(answer["messages"])

    async def my_cases(self) -> list[dict[str, Any]]:
        return list((await self.api.get(f"{V1}/cases"))["cases"])

    async def queue(self, service_id: str) -> list[dict[str, Any]]:
        return list((await self.api.get(f"{V1}/services/{service_id}/queue"))["cases"])

    async def move(
        self,
        case_id: str,
        action: str,
        content_type: ContentType | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """claim, ask, answer, withdraw, submit, resubmit; optionally with a message."""
        payload = None
        if content_type is not None and body is not None:
            msg_id, envelope = await self.seal(case_id, content_type, body)
            payload = {"message": {"client_msg_id": msg_id, "envelope": envelope}}
        return dict(await self.api.post(f"{V1}/cases/{case_id}/{action}", payload))

    async def close_case(
        self,
        case_id: str,
        category: str,
        summary: str,
        *,
        details: dict[str, Any] | None = None,
        urgency: str | None = None,
        destination: str | None = None,
        reasons: list[str] | None = None,
        date_of_birth: str | None = None,
    ) -> dict[str, Any]:
        """Close with an outcome: the category and codes in the clear, the clinical content
        sealed as an outcome message (also stored as the outcome's payload). With the
        patient's ``date_of_birth`` (from the clinical history) the retention date goes
        too (``client_py.retention``)."""
        _msg_id, envelope = await self.seal(
            case_id,
            ContentType.OUTCOME,
            {"category": category, "summary": summary, "details": details or {}},
        )
        outcome: dict[str, Any] = {"category": category, "payload": envelope}
        if urgency:
            outcome["urgency"] = urgency
        if destination:
            outcome["destination"] = destination
        if reasons:
            outcome["reasons"] = reasons
        body: dict[str, Any] = {"outcome": outcome}
        if date_of_birth is not None:
            today = dt.datetime.now(dt.UTC).date()
            body["retention"] = retention_for(parse_date(date_of_birth), today).wire()
        return dict(await self.api.post(f"{V1}/cases/{case_id}/close", body))

    async def outcome(self, case_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(coded outcome, decrypted clinical content)."""
        detail = await self.get_case(case_id)
        coded = detail["outcome"]
        record = {
            "case_id": case_id,
            "sender_id": coded["author_id"],
            "envelope": coded["payload"],
        }
        _ctype, body = await self.open(record)
        return coded, body

    async def downgrade_referral(self, case_id: str, urgency: str, reason: str) -> dict[str, Any]:
        """Referring GP: lower a two-week-wait referral to ``urgency`` ("urgent" or
        "routine"). The reason is sealed as a text message for the thread (end-to-end
        encrypted); the server stores the new coded outcome and keeps the original."""
        msg_id, envelope = await self.seal(case_id, ContentType.TEXT, {"text": reason})
        body = {"urgency": urgency, "reason": {"client_msg_id": msg_id, "envelope": envelope}}
        return dict(await self.api.post(f"{V1}/cases/{case_id}/outcome/downgrade", body))

    # ------------------------------------------------------------------ photos

    async def _upload_attachment(self, case_id: str, plaintext: bytes) -> dict[str, Any]:
        """Encrypt under a fresh file key and upload over HTTP. Returns the reference fields
        (attachment id, file key, ciphertext hash and size) that only the signed, encrypted
        photo-reference message carries."""
        file_key = new_file_key()
        record, digest = encrypt_attachment(file_key, plaintext)
        attachment_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Attachment-Id": attachment_id,
            "X-Ciphertext-SHA256": digest.hex(),
        }
        if self.api.csrf_token:
            headers["X-CSRF-Token"] = self.api.csrf_token
        url = f"{self.base_url}{V1}/cases/{case_id}/attachments"
        async with self.api.session.post(
            url, data=io.BytesIO(record), headers=headers, ssl=self.api._ssl
        ) as resp:
            # 201 stored; 200 is a retry whose first answer was lost (same id, hash, bytes).
            if resp.status not in (200, 201):
                err = (await resp.json(content_type=None)).get("error", {})
                raise ApiError(resp.status, err.get("code", "unknown"), err.get("message", ""))
        return {
            "attachment_id": attachment_id,
            "file_key": b64e(file_key),
            "ciphertext_sha256": digest.hex(),
            "ciphertext_size": len(record),
        }

    async def upload_photo(
        self,
        case_id: str,
        image: bytes,
        *,
        tag: str,
        body_site: str,
        media_type: str = "image/jpeg",
        caption: str | None = None,
        thumbnail: bytes | None = None,
    ) -> int:
        """Encrypt a (prepared) photo with a fresh file key, upload the ciphertext over HTTP,
        then post the photo-reference message that carries the key and the SHA-256.

        ``thumbnail``: the prepared thumbnail's JPEG bytes (``client_py.photo.prepare_photo``
        makes both). It is uploaded first, as its own attachment under its own key, and named
        in the same reference (its ``thumbnail`` object), so one signature binds the photo
        and its thumbnail. Returns the message's seq. Photos never travel over Socket.IO
        (DESIGN section 6)."""
        thumb = None if thumbnail is None else await self._upload_attachment(case_id, thumbnail)
        body: dict[str, Any] = {
            **await self._upload_attachment(case_id, image),
            "media_type": media_type,
            "tag": tag,
            "body_site": body_site,
        }
        if caption:
            body["caption"] = caption
        if thumb is not None:
            body["thumbnail"] = thumb
        return await self.post_message(case_id, ContentType.PHOTO_REFERENCE, body)

    async def _download(self, case_id: str, attachment: dict[str, Any]) -> bytes:
        """Fetch an attachment, check the SHA-256 from the (signed) reference and decrypt."""
        url = f"{self.base_url}{V1}/cases/{case_id}/attachments/{attachment['attachment_id']}"
        async with self.api.session.get(url, ssl=self.api._ssl) as resp:
            if resp.status != 200:
                err = (await resp.json(content_type=None)).get("error", {})
                raise ApiError(resp.status, err.get("code", "unknown"), err.get("message", ""))
            record = await resp.read()
        return decrypt_attachment(
            b64d(attachment["file_key"]),
            record,
            expected_sha256=bytes.fromhex(attachment["ciphertext_sha256"]),
        )

    async def download_photo(self, case_id: str, reference: dict[str, Any]) -> bytes:
        """Fetch, check the SHA-256 from the (signed) reference and decrypt."""
        return await self._download(case_id, reference)

    async def download_thumbnail(self, case_id: str, reference: dict[str, Any]) -> bytes | None:
        """The thumbnail named inside a photo reference, fetched, hash-checked and decrypted;
        ``None`` if the reference has none (a photo sent without one, or by an old client)."""
        thumb = reference.get("thumbnail")
        return None if thumb is None else await self._download(case_id, thumb)

    async def photos(self, case_id: str) -> list[ThreadPhoto]:
        """Every photo of a case thread, opened and signature-checked, in thread order.

        Old web clients posted a photo's thumbnail as a reference of its own, linked by its
        media type (``image/jpeg; dermline-role=thumbnail; for=<photo attachment id>``).
        Such a reference becomes the ``legacy_thumbnail`` of the photo it names, and is left
        out of the list, only if that photo has no thumbnail of its own and the same
        participant sent both; the first one wins (the web client's rule, ``threadPhotos``).
        Any other is listed as the photo it is: nothing a participant signed goes unseen.
        """
        refs: list[ThreadPhoto] = []
        after = 0
        while page := await self.messages(case_id, after_seq=after):
            for m in page:
                after = max(after, int(m["seq"]))
                ctype, body = await self.open(m)
                if ctype is ContentType.PHOTO_REFERENCE:
                    refs.append(ThreadPhoto(m["seq"], m["sender_id"], body))
        bare = {
            r.reference["attachment_id"]: r.sender_id
            for r in refs
            if legacy_thumbnail_target(r.reference["media_type"]) is None
            and "thumbnail" not in r.reference
        }
        pairs: dict[str, ThreadPhoto] = {}
        for r in refs:
            target = legacy_thumbnail_target(r.reference["media_type"])
            if target is not None and target not in pairs and bare.get(target) == r.sender_id:
                pairs[target] = r
        paired = {id(r) for r in pairs.values()}
        photos = [r for r in refs if id(r) not in paired]
        for photo in photos:
            if legacy_thumbnail_target(photo.reference["media_type"]) is None:
                thumb = pairs.get(photo.reference["attachment_id"])
                photo.legacy_thumbnail = thumb.reference if thumb is not None else None
        return photos

    # ------------------------------------------------------------------ real time

    async def connect_realtime(self) -> RealtimeClient:
        self.realtime = RealtimeClient(
            self.base_url,
            self.api.cookie_header,
            origin=self._origin,
            ack_timeout=self._ack_timeout,
            ssl=self.api._ssl,
        )
        await self.realtime.connect()
        return self.realtime

    async def send_text(self, case_id: str, text: str) -> int:
        """Seal and send over Socket.IO with retries until acknowledged; returns seq."""
        if self.realtime is None:
            raise RuntimeError("connect_realtime first")
        msg_id, envelope = await self.seal(case_id, ContentType.TEXT, {"text": text})
        return await self.realtime.send(case_id, msg_id, envelope)
