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

import contextlib
import datetime as dt
import io
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client_py.api import ApiError, HttpApi, b64d, b64e
from client_py.errors import (
    KeyChangedError,
    LogRewrittenError,
    NoKeyLogError,
    NoRecordsKeyError,
    RemovedPersonError,
    TrustError,
    UnknownPersonError,
    UnknownRecordsKeyError,
    VerifiedKeyChangedError,
)
from client_py.identity import Enrolment, Identity, enrol, login_keys, unlock
from client_py.keylog import KeyLog
from client_py.monitor import Expected, Report, audit
from client_py.orgkeys import (
    PendingHandover,
    accept_certified,
    certified_invite,
    parse_link,
    wrap_handover,
)
from client_py.pins import PersonPin, PinStore, default_pins_path
from client_py.realtime import RealtimeClient, RealtimeError
from client_py.retention import parse_date, retention_for
from client_py.thread import ServedMessage, ThreadItem, read_thread
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
from crypto.envelope import (
    GENESIS_HASH,
    message_hash,
    open_message,
    parse_message_header,
    seal_message,
)
from crypto.errors import CaseKeyUnwrapError, MessageHeaderError, MessageOpenError
from crypto.fingerprint import key_id, safety_number
from crypto.merkle import leaf_hash, root_hash
from crypto.statement import CertifiedMember

__all__ = [
    "ApiError",
    "DermlineClient",
    "MissingCaseKeyError",
    "Thread",
    "ThreadPhoto",
    "legacy_thumbnail_target",
]

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


#: A reader's own sent message missing from the thread the server shows.
WITHHELD_NOTICE = (
    "Messages you sent in this conversation are not shown: the server may be holding them "
    "back from you (and from the others)."
)


class MissingCaseKeyError(RuntimeError):
    """The server holds no wrap of this case's key (for that epoch) for this user."""

    def __init__(self) -> None:
        super().__init__("no case key for this user")


@dataclass
class Thread:
    """A case thread as its reader sees it: every message (readable or not, with its
    warnings) in the server's order, and notices about the people in it (a colleague whose
    keys changed: their new signatures are not trusted until the change is accepted)."""

    items: list[ThreadItem]
    notices: list[str]


def new_message_id() -> str:
    """A UUIDv7 (time-ordered, RFC 9562) made by the sender."""
    import os
    import time

    ms = time.time_ns() // 1_000_000
    rand = bytearray(os.urandom(10))
    raw = ms.to_bytes(6, "big") + bytes([0x70 | (rand[0] & 0x0F), rand[1]])
    raw += bytes([0x80 | (rand[2] & 0x3F)]) + bytes(rand[3:10])
    return str(uuid.UUID(bytes=raw))


class DermlineClient:
    def __init__(
        self,
        base_url: str,
        *,
        origin: str | None = None,
        ssl: Any = None,
        ack_timeout: float = 5.0,
        pins_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
        log_public_key: bytes | None = None,
    ) -> None:
        """``pins_path``: the pins file (client_py.pins); by default one per server host and
        user under the configuration folder that ``environ`` (os.environ) names.
        ``log_public_key``: the server's key-log key given out of band (else pinned on first
        contact)."""
        self.base_url = base_url.rstrip("/")
        self._pins_path = pins_path
        self._environ = os.environ if environ is None else environ
        self._pins: PinStore | None = None
        self._keylog: KeyLog | None = None
        self._pending_handover: PendingHandover | None = None
        #: Unix milliseconds for the statements this client signs (issued at, invite
        #: expiry); replaceable so that tests can follow a server's fake clock.
        self.clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
        self._log_public_key = log_public_key
        self.api = HttpApi(base_url, origin=origin, ssl=ssl)
        self._origin = origin
        self._ack_timeout = ack_timeout
        self.identity: Identity | None = None
        self.me: dict[str, Any] = {}
        self._case_keys: dict[tuple[str, int], bytes] = {}
        # The key commitment verified when each case key was unwrapped (or made here).
        self._case_key_commitments: dict[tuple[str, int], bytes] = {}
        # Per case, the current epoch the server reported (messages are sealed under it).
        self._epochs: dict[str, int] = {}
        # Per case, the participants whose keys the key log or the pins refused, and why.
        self._refused: dict[str, dict[str, TrustError]] = {}
        # Per case, the newest message this client holds: (seq, message hash), its own last
        # sent included, so its next message chains to it (docs/protocol.md section 23).
        self._newest: dict[str, tuple[int, bytes]] = {}
        # Per case, the hashes of the messages this client sent and the server stored: a
        # thread that leaves one out is being held back (WITHHELD_NOTICE).
        self._sent: dict[str, set[bytes]] = {}
        # Cases this client created (their first message starts the chain).
        self._created: set[str] = set()
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
        """Enrol through an invite. ``token`` may be the whole link or its fragment: a
        certified link (``token.s.key id``) is checked against the organisation key it names
        and answered with a member statement signed by the invite key (client_py.orgkeys);
        the organisation key is pinned; an administrator's handover of it is re-wrapped to
        them at their first sign-in."""
        enrolment = enrol(password)
        body: dict[str, Any] = {
            k: (v if isinstance(v, str) else b64e(v)) for k, v in enrolment.request.items()
        }
        link = parse_link(token)
        if link is not None:
            token = link.token
        if link is not None and link.certified:
            pins = PinStore(
                self._pins_path
                or default_pins_path(self.base_url, enrolment.identity.user_id, self._environ)
            )
            member, self._pending_handover = await accept_certified(self, link, enrolment, pins)
            body["member_statement"] = b64e(member)
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
        path = self._pins_path or default_pins_path(
            self.base_url, self.identity.user_id, self._environ
        )
        self._pins = PinStore(path)
        self._keylog = KeyLog(self.api, self._pins, log_public_key=self._log_public_key)
        if self._pending_handover is not None:
            await wrap_handover(self, self._pending_handover)
            self._pending_handover = None

    @property
    def keylog(self) -> KeyLog:
        """Tree heads and directory answers checked against the key log (after login)."""
        if self._keylog is None:
            raise RuntimeError("log in first")
        return self._keylog

    @property
    def pins(self) -> PinStore:
        """The keys this device trusts for the signed-in user (after login)."""
        if self._pins is None:
            raise RuntimeError("log in first")
        return self._pins

    @staticmethod
    def _head_of(answer: Mapping[str, Any]) -> str:
        """The answer's tree head; an answer without one is refused, never read on trust."""
        head = answer.get("tree_head")
        if not isinstance(head, str):
            raise NoKeyLogError
        return head

    def _trusted_signing_key(self, user_id: str, wanted_key_id: bytes) -> bytes | None:
        """The signing key with this id that this device trusts for ``user_id``."""
        me = self._me()
        keys = [me.signing.public_key] if user_id == me.user_id else []
        keys += self.pins.signing_keys(user_id)
        return next((k for k in keys if key_id(k) == wanted_key_id), None)

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
        """An invite to ``org_id``: for an organisation with an organisation key, the whole
        certified link (client_py.orgkeys.certified_invite); otherwise the server's token
        (an uncertified invite, as from a server without the key log)."""
        checked = await self.keylog.directory(org_id)
        if checked.org_public_key is not None:
            return await certified_invite(self, org_id, role, login_name)
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
        # Every recipient's key is checked against the key log and the pins before anything
        # is encrypted (docs/protocol.md section 18).
        records_key = await self._records_key(practice_id)
        derm_keys = await self._recipients(service_id, "dermatologist")
        case_id = str(uuid.uuid4())
        case_key = generate_case_key()

        def wrap(public_key: bytes) -> str:
            return self._wrap(case_key, case_id, 0, public_key)

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
                "recipient_id": user,
                "wrapped_key": wrap(public_key),
            }
            for user, public_key in derm_keys.items()
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
                "participants": [me.user_id, *derm_keys],
                "case_keys": keys,
            },
        )
        self._case_keys[(case_id, 0)] = case_key
        self._case_key_commitments[(case_id, 0)] = case_key_commitment(
            case_key, case_id=uuid.UUID(case_id), epoch=0
        )
        self._epochs[case_id] = 0
        self._created.add(case_id)
        await self.post_message(case_id, ContentType.CLINICAL_HISTORY, clinical_history)
        return case_id

    async def get_case(self, case_id: str) -> dict[str, Any]:
        detail = await self.api.get(f"{V1}/cases/{case_id}")
        others = [p for p in detail["participants"] if p["user_id"] != self._me().user_id]
        # Each participant's keys as the key log proves them, then the pins: a person who
        # fails either is not trusted (their messages show as unreadable) and the reason
        # becomes a notice of the thread.
        head = await self.keylog.accept_head(self._head_of(detail))
        org_keys = {o["org_id"]: self.keylog.org_key(o, head) for o in detail["orgs"]}
        good, refused = self.keylog.members(others, head, org_keys)
        orgs_of = {p["user_id"]: p.get("org_id") for p in others}
        for user, member in good.items():
            # A removal the log holds but the server does not act on (docs/protocol.md
            # section 24): warned, and the next epoch leaves them out.
            if await self.keylog.removal_after(member, orgs_of[user] or "", head):
                refused[user] = RemovedPersonError(member.name)
        self._refused[case_id] = refused
        self._epochs[case_id] = int(detail["case"]["key_epoch"])
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
        participants |= {r["user_id"] for r in detail.get("removed", [])}
        for k in detail["case_keys"]:
            if (
                k["recipient_kind"] == "user"
                and k["recipient_id"] == me.user_id
                and k["epoch"] == epoch
            ):
                record = b64d(k["wrapped_key"])
                # The creating GP wrapped it, or (shared later or rotated) another
                # participant: the wrapper must be (or have been) a participant, and the key
                # this device pinned for them must have signed.
                header = parse_case_key_wrap_header(record)
                wrapper = str(header.wrapper_user_id)
                signing = self._trusted_signing_key(wrapper, header.wrapper_key_id)
                if wrapper not in participants or signing is None:
                    raise CaseKeyUnwrapError
                key = open_case_key_wrap(
                    record,
                    case_id=uuid.UUID(case_id),
                    epoch=epoch,
                    recipient=me.encryption,
                    wrapper_signing_public_key=signing,
                    wrapper_user_id=uuid.UUID(wrapper),
                )
                commitment = header.commitment
                if commitment is not None:  # None: a legacy 0x06 wrap, stored before 0x0b
                    self._case_key_commitments[(case_id, epoch)] = commitment
                self._case_keys[(case_id, epoch)] = key
                return key
        raise MissingCaseKeyError

    # ------------------------------------------------------------------ keys people compare

    async def _find_person(self, user_id: str) -> bool:
        """Look ``user_id`` up in every directory this user can read, keys checked against
        the key log and then the pins (first contact pins; a change is noted as pending).
        True if found; a person the log does not vouch for raises its reason."""
        orgs = (await self.api.get(f"{V1}/orgs"))["organisations"]
        for org in orgs:
            try:
                directory = await self.keylog.directory(org["org_id"])
            except ApiError:
                continue  # not a directory this user may read
            refused = directory.refused.get(user_id)
            if refused is not None and not isinstance(
                refused, KeyChangedError | VerifiedKeyChangedError
            ):
                raise refused
            if refused is not None or user_id in directory.members:
                return True
        return False

    async def safety_number(self, user_id: str) -> tuple[PersonPin, str]:
        """The safety number to compare with ``user_id`` (docs/protocol.md section 7), for
        the keys the server shows now: the pinned ones, or the changed ones waiting to be
        accepted (``pin.pending``). The person is pinned on first contact."""
        me = self._me()
        await self._find_person(user_id)
        pin = self.pins.people.get(user_id)
        if pin is None:
            raise UnknownPersonError
        theirs = pin.pending or pin.keys
        ours = (me.signing.public_key, me.encryption.public_key)
        return pin, safety_number(ours, theirs)

    def accept_keys(self, user_id: str) -> PersonPin:
        """Accept the changed keys whose safety number the user compared (unverified
        people only; a verified person must be verified again)."""
        if user_id not in self.pins.people:
            raise UnknownPersonError
        return self.pins.accept(user_id)

    def verify_keys(self, user_id: str) -> PersonPin:
        """Mark the keys whose safety number the user compared in person as verified."""
        if user_id not in self.pins.people:
            raise UnknownPersonError
        return self.pins.verify(user_id)

    async def monitor(self, org_id: str, expected: Expected | None = None) -> Report:
        """Fetch every log entry, recompute the tree against the newest signed head (which
        must extend the pinned one), and audit the entries about ``org_id``
        (client_py.monitor). ``LogRewrittenError`` if the entries are not the head's."""
        head = await self.keylog.accept_head(
            (await self.api.get(f"{V1}/transparency/head"))["tree_head"]
        )
        entries: list[bytes] = []
        while len(entries) < head.tree_size:
            end = min(len(entries) + 1000, head.tree_size)
            page = await self.api.get(f"{V1}/transparency/entries", start=len(entries), end=end)
            before = len(entries)
            for item in page["entries"]:
                if int(item["index"]) == len(entries) and len(entries) < head.tree_size:
                    entries.append(b64d(item["entry"]))
            if len(entries) == before:
                break
        if (
            len(entries) != head.tree_size
            or root_hash([leaf_hash(e) for e in entries]) != head.root_hash
        ):
            raise LogRewrittenError
        pin = self.pins.orgs.get(org_id)
        report, org_key = audit(
            entries,
            org_id=org_id,
            org_public_key=None if pin is None else pin.org_public_key,
            expected=expected,
        )
        if org_key is not None and (pin is None or pin.org_public_key is None):
            self.pins.pin_org_key(org_id, org_id if pin is None else pin.name, org_key)
        return report

    async def colleagues_without_key(self, case_id: str) -> list[dict[str, str]]:
        """The service's dermatologists who are not participants of the case, so hold no wrap
        of its key ("directory dermatologists minus participants"): each ``user_id`` with the
        ``encryption_public_key`` to wrap to, checked against the key log and the pins."""
        detail = await self.get_case(case_id)
        service_id = detail["case"]["service_id"]
        participants = {p["user_id"] for p in detail["participants"]}
        derms = await self._recipients(service_id, "dermatologist")
        return [
            {"user_id": user, "encryption_public_key": b64e(key)}
            for user, key in derms.items()
            if user not in participants
        ]

    async def _recipients(self, org_id: str, role: str) -> dict[str, bytes]:
        """User id -> encryption key of every member of ``org_id`` with ``role``, each
        proven by the key log and equal to the pins; the first who is not stops everything
        (a ``TrustError`` that names them)."""
        answer = await self.api.get(f"{V1}/orgs/{org_id}/directory")
        entries = [
            m
            for m in answer["members"]
            if any(x["org_id"] == org_id and x["role"] == role for x in m["memberships"])
        ]
        self._head_of(answer)
        directory = await self.keylog.directory(org_id, answer)
        out: dict[str, bytes] = {}
        for m in entries:
            if m["user_id"] in directory.refused:
                raise directory.refused[m["user_id"]]
            member = directory.members[m["user_id"]]
            if await self.keylog.removal_after(member, org_id, directory.head) is not None:
                raise RemovedPersonError(member.name)
            out[m["user_id"]] = member.encryption_public_key
        return out

    async def _records_key(self, org_id: str) -> bytes:
        """The records key of an organisation this user belongs to: the newest of the chain
        the key log proves, extending the pin (or, uncertified, the key pinned on first
        use). ``RecordsKeyChangedError`` for any other."""
        directory = await self.keylog.directory(org_id)
        key = self.keylog.records_key(
            directory.org, directory.head, directory.org_public_key, directory.admins()
        )
        if key is None:
            raise NoRecordsKeyError(directory.org["name"])
        return key

    def _wrap(self, case_key: bytes, case_id: str, epoch: int, recipient_public_key: bytes) -> str:
        """The case key of ``epoch`` wrapped (0x0b, signed by me) to one recipient."""
        me = self._me()
        return b64e(
            wrap_case_key(
                case_key,
                case_id=uuid.UUID(case_id),
                epoch=epoch,
                recipient_public_key=recipient_public_key,
                wrapper_user_id=uuid.UUID(me.user_id),
                wrapper_signing_key=me.signing,
            )
        )

    async def share_case_key(self, case_id: str) -> list[str]:
        """Wrap the current epoch's case key to every dermatologist of the case's service who
        lacks it and post the wraps; returns the new participants' ids (empty if nobody
        lacks it).

        The key is the one :meth:`case_key` opened and checked against its commitment, so
        each new wrap carries the same commitment, which the server compares with the
        epoch's (``case_key_mismatch`` otherwise). The same epoch: a member joining is no
        reason for a new key (docs/protocol.md section 8).
        """
        lacking = await self.colleagues_without_key(case_id)  # reads the current epoch
        epoch = self._epochs[case_id]
        key = await self.case_key(case_id, epoch)
        if not lacking:
            return []
        wraps = [
            {
                "recipient_id": d["user_id"],
                "wrapped_key": self._wrap(key, case_id, epoch, b64d(d["encryption_public_key"])),
            }
            for d in lacking
        ]
        answer = await self.api.post(f"{V1}/cases/{case_id}/keys", {"case_keys": wraps})
        return list(answer["added"])

    # ------------------------------------------------------------------ epochs

    async def _case_records_keys(self, detail: Mapping[str, Any]) -> dict[str, bytes]:
        """Org id -> records key to wrap a new epoch to: the practice's and, if it has one,
        the service's, each checked against the key log (chain, pin)."""
        case = detail["case"]
        wanted = [case["practice_id"], case["service_id"]]
        out: dict[str, bytes] = {}
        head = await self.keylog.accept_head(self._head_of(detail))
        for org in detail["orgs"]:
            if org["org_id"] not in wanted:
                continue
            org_key = self.keylog.org_key(org, head)
            key = self.keylog.records_key(org, head, org_key, await self._admins(org))
            if key is not None:
                out[org["org_id"]] = key
        if case["practice_id"] not in out:
            # An uncertified (legacy) records key is in no log entry, so the case detail
            # cannot prove it; a member of the practice takes it from the practice's
            # directory and the pins.
            with contextlib.suppress(ApiError):  # not a member: UnknownRecordsKeyError
                out[case["practice_id"]] = await self._records_key(case["practice_id"])
        if case["practice_id"] not in out:
            raise UnknownRecordsKeyError
        return out

    async def _admins(self, org: Mapping[str, Any]) -> list[CertifiedMember]:
        """The certified administrators of ``org`` (who may approve a records-key change),
        from its directory when this user may read it; none otherwise."""
        try:
            directory = await self.keylog.directory(org["org_id"])
        except ApiError:
            return []
        return directory.admins()

    async def rotate(self, case_id: str) -> int:
        """Start the next epoch of a case (docs/protocol.md section 24): a fresh case key,
        wrapped (0x0b, with its commitment) to every remaining participant whose keys the
        key log and the pins vouch for, to me, and to the records keys; posted as a
        compare-and-set on the epoch. Returns the case's epoch afterwards: if another
        participant's rotation won the race (``epoch_conflict``), theirs, after reloading.
        """
        me = self._me()
        detail = await self.get_case(case_id)
        epoch = int(detail["case"]["key_epoch"])
        await self.case_key(case_id, epoch)  # only a holder of the current key rotates
        refused = self._refused.get(case_id, {})
        recipients: dict[str, bytes] = {me.user_id: me.encryption.public_key}
        skipped: list[TrustError] = []
        for p in detail["participants"]:
            user = p["user_id"]
            if user == me.user_id:
                continue
            if user in refused:
                # Removed in the key log, or keys the log or the pins do not vouch for:
                # never given the new key. If the server still counts them, it refuses
                # the epoch (wrap_recipients) and the reason below is what the user sees.
                skipped.append(refused[user])
                continue
            recipients[user] = self.pins.people[user].encryption_public_key
        records = await self._case_records_keys(detail)
        new_key = generate_case_key()
        following = epoch + 1
        keys = [
            {
                "recipient_kind": "user",
                "recipient_id": user,
                "wrapped_key": self._wrap(new_key, case_id, following, public_key),
            }
            for user, public_key in recipients.items()
        ] + [
            {
                "recipient_kind": "organisation",
                "recipient_id": org_id,
                "wrapped_key": self._wrap(new_key, case_id, following, public_key),
            }
            for org_id, public_key in records.items()
        ]
        try:
            await self.api.post(
                f"{V1}/cases/{case_id}/epochs", {"epoch": following, "case_keys": keys}
            )
        except ApiError as exc:
            if exc.code == "wrap_recipients" and skipped:
                raise skipped[0] from None
            if exc.code != "epoch_conflict":
                raise
            await self.get_case(case_id)  # someone else rotated first: use theirs
            return self._epochs[case_id]
        self._case_keys[(case_id, following)] = new_key
        self._case_key_commitments[(case_id, following)] = case_key_commitment(
            new_key, case_id=uuid.UUID(case_id), epoch=following
        )
        self._epochs[case_id] = following
        return following

    async def _ensure_epoch(self, case_id: str, *, refused_by_server: bool = False) -> None:
        """Before sealing: know the current epoch and rotate first if the server says a
        removal needs a new one (in the case detail, or by refusing the old epoch:
        ``refused_by_server``), or if someone the key log shows removed still holds the
        current key."""
        before = self._epochs.get(case_id)
        detail = await self.get_case(case_id)
        removed = {
            user
            for user, error in self._refused.get(case_id, {}).items()
            if isinstance(error, RemovedPersonError)
        }
        epoch = detail["case"]["key_epoch"]
        holds_current = any(
            k["epoch"] == epoch and k["recipient_kind"] == "user" and k["recipient_id"] in removed
            for k in detail["case_keys"]
        )
        # A refusal from the server counts only if nobody rotated since this client sealed.
        refused_here = refused_by_server and epoch == before
        if detail.get("rotation") is not None or refused_here or holds_current:
            await self.rotate(case_id)

    async def seal(
        self, case_id: str, content_type: ContentType, body: dict[str, Any]
    ) -> tuple[str, str]:
        """(client message id, base64url envelope) for a message body."""
        me = self._me()
        if case_id not in self._epochs:
            await self._ensure_epoch(case_id)
        if case_id not in self._newest and case_id not in self._created:
            # A device that holds none of the thread (a fresh command line process, a
            # second device) reads it first, so its message names the newest one shown
            # instead of claiming to start the conversation.
            await self.read_thread(case_id)
        epoch = self._epochs[case_id]
        key = await self.case_key(case_id, epoch)
        msg_id = new_message_id()
        newest = self._newest.get(case_id)
        envelope = seal_message(
            encode_content(content_type, body),
            case_key=key,
            case_id=uuid.UUID(case_id),
            epoch=epoch,
            client_message_id=uuid.UUID(msg_id),
            sender_user_id=uuid.UUID(me.user_id),
            sender_signing_key=me.signing,
            content_type=content_type,
            previous_hash=GENESIS_HASH if newest is None else newest[1],
        )
        return msg_id, b64e(envelope)

    def _hold(self, case_id: str, seq: int, envelope: bytes) -> None:
        """Remember a message as the newest held if it is (by the server's seq): one this
        client read, or one it sent and the server stored."""
        newest = self._newest.get(case_id)
        if newest is None or seq >= newest[0]:
            self._newest[case_id] = (seq, message_hash(envelope))

    def note_sent(self, case_id: str, seq: int, envelope_b64: str) -> None:
        """Tell the client that a message it sealed was stored at ``seq`` (for callers that
        post a sealed envelope themselves), so its next message chains to it."""
        record = b64d(envelope_b64)
        self._hold(case_id, seq, record)
        self._sent.setdefault(case_id, set()).add(message_hash(record))

    async def open(self, message: dict[str, Any]) -> tuple[ContentType, dict[str, Any]]:
        """Verify and decrypt one message dict (as the server sends it), with the key of
        the epoch its header names and the signing key pinned for the sender it names.

        Raises ``MessageOpenError`` (or ``MessageHeaderError``, ``CaseKeyUnwrapError``,
        ``MissingCaseKeyError``); :meth:`read_thread` is what shows a whole thread with
        unreadable items and chain warnings.
        """
        case_id = message["case_id"]
        record = b64d(message["envelope"])
        header = parse_message_header(record)
        sender = str(header.sender_user_id)
        if sender != message["sender_id"]:
            raise MessageOpenError
        key = await self.case_key(case_id, header.epoch)
        signing = self._trusted_signing_key(sender, header.sender_key_id)
        if signing is None:
            await self.get_case(case_id)
            signing = self._trusted_signing_key(sender, header.sender_key_id)
        if signing is None:
            raise MessageOpenError
        opened = open_message(
            record,
            case_key=key,
            case_id=uuid.UUID(case_id),
            epoch=header.epoch,
            sender_signing_public_key=signing,
            sender_user_id=header.sender_user_id,
        )
        if "seq" in message:
            self._hold(case_id, int(message["seq"]), record)
        return opened.header.content_type, decode_content(opened.header.content_type, opened.body)

    async def read_thread(self, case_id: str) -> Thread:
        """The whole thread as its reader must see it (client_py.thread): every message
        opened with its epoch's key and the sender's pinned signing key, the hash chain
        checked in the server's order, findings as warnings at their messages, unreadable
        messages as items with a reason; never repaired."""
        me = self._me()
        detail = await self.get_case(case_id)
        notices = [
            self._change_notice(self.pins.people[p["user_id"]])
            for p in detail["participants"]
            if p["user_id"] in self.pins.people
            and self.pins.people[p["user_id"]].pending is not None
        ]
        notices += [
            error.message
            for error in self._refused.get(case_id, {}).values()
            if not isinstance(error, KeyChangedError | VerifiedKeyChangedError)
        ]
        served: list[ServedMessage] = []
        after = 0
        while page := await self.messages(case_id, after_seq=after):
            for wire in page:
                after = max(after, int(wire["seq"]))
                served.append(ServedMessage.from_wire(wire, b64d(wire["envelope"])))
        epochs: set[int] = set()
        senders: set[str] = set()
        for m in served:
            try:
                header = parse_message_header(m.record)
            except MessageHeaderError:
                continue
            epochs.add(header.epoch)
            senders.add(str(header.sender_user_id))
        case_keys: dict[int, bytes] = {}
        for epoch in sorted(epochs):
            try:
                case_keys[epoch] = await self.case_key(case_id, epoch)
            except (CaseKeyUnwrapError, MissingCaseKeyError):
                continue  # its messages show as unreadable: no key for that epoch
        signing_keys = {
            user: ([me.signing.public_key] if user == me.user_id else [])
            + self.pins.signing_keys(user)
            for user in senders
        }
        items = read_thread(
            served, case_id=uuid.UUID(case_id), case_keys=case_keys, signing_keys=signing_keys
        )
        readable = [(i, m) for i, m in zip(items, served, strict=True) if i.readable]
        if readable:
            self._hold(case_id, readable[-1][1].seq, readable[-1][1].record)
        shown = {i.message_hash for i in items if i.message_hash is not None}
        if self._sent.get(case_id, set()) - shown:
            notices.append(WITHHELD_NOTICE)
        return Thread(items, notices)

    @staticmethod
    def _change_notice(pin: PersonPin) -> str:
        error = (VerifiedKeyChangedError if pin.verified else KeyChangedError)(
            pin.user_id, pin.name
        )
        return error.message

    async def post_message(
        self, case_id: str, content_type: ContentType, body: dict[str, Any]
    ) -> int:
        """Send over HTTP (idempotent); returns the sequence number.

        Refused because the case needs a new epoch (``key_rotation_required``) or moved on to
        one (``stale_epoch``): rotate or reload, reseal the same body under the current
        epoch and send again (once; nothing is lost, docs/protocol.md section 24)."""
        for attempt in (1, 2):
            msg_id, envelope = await self.seal(case_id, content_type, body)
            try:
                answer = await self.api.post(
                    f"{V1}/cases/{case_id}/messages",
                    {"client_msg_id": msg_id, "envelope": envelope},
                )
            except ApiError as exc:
                if attempt == 2 or exc.code not in ("key_rotation_required", "stale_epoch"):
                    raise
                await self._ensure_epoch(
                    case_id, refused_by_server=exc.code == "key_rotation_required"
                )
                continue
            self.note_sent(case_id, int(answer["seq"]), envelope)
            return int(answer["seq"])
        raise AssertionError("unreachable")

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
        envelope = None
        if content_type is not None and body is not None:
            msg_id, envelope = await self.seal(case_id, content_type, body)
            payload = {"message": {"client_msg_id": msg_id, "envelope": envelope}}
        answer = dict(await self.api.post(f"{V1}/cases/{case_id}/{action}", payload))
        if envelope is not None:
            self.note_sent(case_id, int(answer["last_seq"]), envelope)
        return answer

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
        and its thumbnail. Returns the message's seq. Photos never travel over Socket.IO."""
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
        for attempt in (1, 2):
            msg_id, envelope = await self.seal(case_id, ContentType.TEXT, {"text": text})
            try:
                seq = await self.realtime.send(case_id, msg_id, envelope)
            except RealtimeError as exc:
                # The same rule as post_message: a new epoch first, then the same text again.
                if attempt == 2 or exc.code not in ("key_rotation_required", "stale_epoch"):
                    raise
                await self._ensure_epoch(
                    case_id, refused_by_server=exc.code == "key_rotation_required"
                )
                continue
            self.note_sent(case_id, seq, envelope)
            return seq
        raise AssertionError("unreachable")
