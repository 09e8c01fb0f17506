"""Reading a case thread: each message opened with the key of its epoch, the hash chain
checked in the server's order, and every finding shown at the message where it occurs.

The rules (docs/protocol.md sections 22 and 23):

* A message that fails to open (damaged record, no key for its epoch, unknown sender,
  signature, commitment, decryption, content) is one **unreadable** item with its reason;
  the rest of the thread still loads. Unreadable messages are left out of the chain check,
  so a message that names one of them shows a gap: what this reader was shown of it is not
  what its sender chained to.
* ``crypto.transcript.check_transcript`` runs over the readable messages in the server's
  order; each finding becomes a plain-words warning on its message. Nothing is repaired,
  dropped or reordered here: the reader sees the thread the server served, with warnings.
* A legacy 0x07 message carries the note that it is not bound to the case key commitment.

:func:`read_thread` is pure: the caller passes the case keys of the epochs it could open
and every signing key it trusts for each person (the pins, ``client_py.pins``), so the
server's answer decides nothing here but the order and the bytes.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from crypto.content import ContentType, decode_content
from crypto.envelope import message_hash, open_message, parse_message_header
from crypto.errors import ContentError, MessageHeaderError, MessageOpenError, PublicKeyError
from crypto.fingerprint import key_id
from crypto.transcript import Finding, TranscriptEntry, check_transcript

__all__ = [
    "FINDING_WARNINGS",
    "LEGACY_NOTE",
    "ServedMessage",
    "ThreadItem",
    "Unreadable",
    "read_thread",
]

#: What a person is told at a message, per finding (docs/threat-model.md, attack table).
FINDING_WARNINGS: Final[Mapping[Finding, str]] = {
    Finding.GENESIS: (
        "This message claims to start the conversation, but it is not where the conversation "
        "starts: messages may have been removed or replaced."
    ),
    Finding.GAP: (
        "A message before this one is missing: it was not shown to you (removed or held "
        "back), or you and others are being shown different conversations."
    ),
    Finding.REORDER: (
        "This message follows one that is shown after it: the order of the conversation "
        "has been changed."
    ),
    Finding.REPLAY: "This message was shown before: it is a repeat, not a new message.",
}

LEGACY_NOTE: Final = "Sent with an older app version: not bound to the case key commitment."


class Unreadable:
    """The reasons a message cannot be opened, as shown in the thread (fixed text)."""

    DAMAGED: Final = "The message is damaged: its format is not valid."
    OTHER_CASE: Final = "The message belongs to another case."
    NO_KEY: Final = "You hold no key for the part of the conversation this message is in."
    UNKNOWN_SENDER: Final = (
        "The message is signed with a key this device does not trust for its sender "
        "(someone unknown, or a colleague whose changed keys you have not accepted)."
    )
    SENDER_MISMATCH: Final = "The server names another sender than the one who signed it."
    NOT_AUTHENTIC: Final = (
        "The message does not verify: it was not signed by its sender's key, or not sealed "
        "with this conversation's key."
    )
    CONTENT: Final = "The message opened, but its content is not valid."


@dataclass(frozen=True)
class ServedMessage:
    """One message as the server served it: its seq, the sender it claims, the record."""

    seq: int
    sender_id: str
    record: bytes = field(repr=False)

    @classmethod
    def from_wire(cls, message: Mapping[str, Any], record: bytes) -> ServedMessage:
        return cls(int(message["seq"]), str(message["sender_id"]), record)


@dataclass(frozen=True)
class ThreadItem:
    """One message of the thread as the reader sees it.

    ``body`` is patient data and stays out of ``repr``. ``unreadable`` is the reason when
    the message could not be opened (then ``content_type`` and ``body`` are None).
    """

    seq: int
    sender_id: str
    epoch: int | None
    content_type: ContentType | None
    body: dict[str, Any] | None = field(repr=False)
    warnings: tuple[str, ...] = ()
    unreadable: str | None = None
    legacy: bool = False
    message_hash: bytes | None = field(default=None, repr=False)

    @property
    def readable(self) -> bool:
        return self.unreadable is None


@dataclass
class _Opened:
    item: ThreadItem
    entry: TranscriptEntry | None


def _signing_key(keys: Sequence[bytes], wanted: bytes) -> bytes | None:
    for key in keys:
        try:
            if key_id(key) == wanted:
                return key
        except PublicKeyError:
            continue
    return None


def _open_one(
    message: ServedMessage,
    case_id: uuid.UUID,
    case_keys: Mapping[int, bytes],
    signing_keys: Mapping[str, Sequence[bytes]],
) -> _Opened:
    def unreadable(reason: str, epoch: int | None = None) -> _Opened:
        item = ThreadItem(message.seq, message.sender_id, epoch, None, None, (), reason)
        return _Opened(item, None)

    try:
        header = parse_message_header(message.record)
    except MessageHeaderError:
        return unreadable(Unreadable.DAMAGED)
    if header.case_id != case_id:
        return unreadable(Unreadable.OTHER_CASE, header.epoch)
    sender = str(header.sender_user_id)
    if sender != message.sender_id:
        return unreadable(Unreadable.SENDER_MISMATCH, header.epoch)
    key = case_keys.get(header.epoch)
    if key is None:
        return unreadable(Unreadable.NO_KEY, header.epoch)
    signing_key = _signing_key(signing_keys.get(sender, ()), header.sender_key_id)
    if signing_key is None:
        return unreadable(Unreadable.UNKNOWN_SENDER, header.epoch)
    try:
        opened = open_message(
            message.record,
            case_key=key,
            case_id=case_id,
            epoch=header.epoch,
            sender_signing_public_key=signing_key,
            sender_user_id=header.sender_user_id,
        )
    except MessageOpenError:
        return unreadable(Unreadable.NOT_AUTHENTIC, header.epoch)
    try:
        body = decode_content(opened.header.content_type, opened.body)
    except ContentError:
        return unreadable(Unreadable.CONTENT, header.epoch)
    digest = message_hash(message.record)
    item = ThreadItem(
        message.seq,
        sender,
        header.epoch,
        opened.header.content_type,
        body,
        legacy=opened.header.commitment is None,
        message_hash=digest,
    )
    entry = TranscriptEntry(message.seq, header.client_message_id, header.previous_hash, digest)
    return _Opened(item, entry)


def read_thread(
    messages: Sequence[ServedMessage],
    *,
    case_id: uuid.UUID,
    case_keys: Mapping[int, bytes],
    signing_keys: Mapping[str, Sequence[bytes]],
) -> list[ThreadItem]:
    """Open every message and check the chain; one item per message, in the server's order.

    ``case_keys``: epoch -> the case key this reader opened (and checked against its
    commitment) for that epoch. ``signing_keys``: user id -> every signing key this reader
    trusts for that person (the pinned one and any accepted earlier); the header's sender
    key id picks one.
    """
    opened = [_open_one(m, case_id, case_keys, signing_keys) for m in messages]
    readable = [o for o in opened if o.entry is not None]
    findings = check_transcript([o.entry for o in readable if o.entry is not None])
    for o, found in zip(readable, findings, strict=True):
        warnings = [FINDING_WARNINGS[f] for f in found]
        if o.item.legacy:
            warnings.append(LEGACY_NOTE)
        o.item = dataclasses.replace(o.item, warnings=tuple(warnings))
    return [o.item for o in opened]
