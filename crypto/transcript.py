"""The thread's transcript check: what a reader concludes from the hash chain (docs/protocol.md
section 23).

Every envelope names the message hash of the newest message its sender held (or 32 zero
bytes for the first message of a case). A reader walks the thread in the server's order and,
for each message, reports what the chain shows, never silently repairing it:

* ``gap``      it names a hash this reader has not been shown: a message dropped or withheld,
               or a fork (two readers shown different threads);
* ``reorder``  it names a message that comes *later* in the server's order;
* ``replay``   its message hash was already shown, or its client message id was, with a
               different hash;
* ``genesis``  it names the zero hash but is not the first message, or it is the first
               message and names anything else.

Two messages naming the same predecessor are legitimate concurrency (two people sending at
once), not a finding. Messages that fail to open (signature, key, structure) are the caller's
``unreadable`` items and are left out of the list: a message that names one of them then
shows a gap, which is what the reader saw.

The function is pure and sees only clear headers and hashes (:func:`entry_from_record`), so
the server's order, not the senders' clocks, is what it checks.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from crypto._wire import check_bytes, check_uint
from crypto.envelope import GENESIS_HASH, message_hash, parse_message_header

__all__ = [
    "Finding",
    "TranscriptEntry",
    "check_transcript",
    "entry_from_record",
]

_HASH: Final = 32


class Finding(enum.StrEnum):
    """One finding about one message; the order here is the order in results."""

    GENESIS = "genesis"
    GAP = "gap"
    REORDER = "reorder"
    REPLAY = "replay"


@dataclass(frozen=True)
class TranscriptEntry:
    """What the check needs of one message: the server's sequence number (for the caller's
    display; the list order is the server's order), the client message id, the hash the
    message names and its own hash."""

    seq: int
    client_message_id: uuid.UUID
    previous_hash: bytes
    message_hash: bytes

    def __post_init__(self) -> None:
        check_uint("seq", self.seq, 64)
        if not isinstance(self.client_message_id, uuid.UUID):
            raise TypeError("client_message_id must be a uuid.UUID")
        check_bytes("previous_hash", self.previous_hash, _HASH)
        check_bytes("message_hash", self.message_hash, _HASH)


def entry_from_record(seq: int, record: bytes) -> TranscriptEntry:
    """The entry of an envelope (either type) from its clear header.

    Raises :class:`~crypto.errors.MessageHeaderError` for a malformed record (the caller
    shows it as unreadable and leaves it out).
    """
    header = parse_message_header(record)
    return TranscriptEntry(
        seq=seq,
        client_message_id=header.client_message_id,
        previous_hash=header.previous_hash,
        message_hash=message_hash(record),
    )


def check_transcript(entries: Sequence[TranscriptEntry]) -> list[tuple[Finding, ...]]:
    """The findings for each message of a thread given in the server's order.

    Returns one tuple per entry, in the same order, each holding its findings in the order
    of :class:`Finding` (empty when the chain shows nothing wrong there).
    """
    for entry in entries:
        if not isinstance(entry, TranscriptEntry):
            raise TypeError("entries must be TranscriptEntry values")
    position: dict[bytes, int] = {}
    for index, entry in enumerate(entries):
        position.setdefault(entry.message_hash, index)
    seen_hashes: set[bytes] = set()
    seen_ids: dict[uuid.UUID, set[bytes]] = {}
    out: list[tuple[Finding, ...]] = []
    for index, entry in enumerate(entries):
        found: set[Finding] = set()
        names_genesis = entry.previous_hash == GENESIS_HASH
        if names_genesis != (index == 0):
            found.add(Finding.GENESIS)
        if not names_genesis and entry.previous_hash not in seen_hashes:
            later = position.get(entry.previous_hash)
            found.add(Finding.REORDER if later is not None and later > index else Finding.GAP)
        earlier_hashes = seen_ids.setdefault(entry.client_message_id, set())
        if entry.message_hash in seen_hashes or (
            earlier_hashes and entry.message_hash not in earlier_hashes
        ):
            found.add(Finding.REPLAY)
        seen_hashes.add(entry.message_hash)
        earlier_hashes.add(entry.message_hash)
        out.append(tuple(f for f in Finding if f in found))
    return out
