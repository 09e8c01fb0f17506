"""Reading a thread (client_py.thread): records made with the crypto makers, served in
orders and shapes a hostile server could choose; every finding is a warning at its message,
unreadable messages are items with a reason, and nothing is repaired."""

from __future__ import annotations

import os
import time
import uuid

from client_py.thread import (
    FINDING_WARNINGS,
    LEGACY_NOTE,
    ServedMessage,
    ThreadItem,
    Unreadable,
    read_thread,
)
from crypto.account import KeyPair, generate_key_pair
from crypto.case_key import generate_case_key
from crypto.content import ContentType, encode_content
from crypto.envelope import (
    GENESIS_HASH,
    message_hash,
    parse_message_header,
    seal_legacy_message_from_parts,
    seal_message,
)
from crypto.transcript import Finding

CASE = uuid.uuid4()
GP, DERM = str(uuid.uuid4()), str(uuid.uuid4())
KEYS = {GP: generate_key_pair(), DERM: generate_key_pair()}
CASE_KEYS = {0: generate_case_key(), 1: generate_case_key()}
SIGNING = {user: [pair.public_key] for user, pair in KEYS.items()}


def seal(
    sender: str,
    text: str,
    previous: bytes,
    *,
    epoch: int = 0,
    case_key: bytes | None = None,
    signer: KeyPair | None = None,
    case_id: uuid.UUID = CASE,
    body: bytes | None = None,
) -> bytes:
    return seal_message(
        encode_content(ContentType.TEXT, {"text": text}) if body is None else body,
        case_key=CASE_KEYS[epoch] if case_key is None else case_key,
        case_id=case_id,
        epoch=epoch,
        client_message_id=uuid.uuid4(),
        sender_user_id=uuid.UUID(sender),
        sender_signing_key=signer or KEYS[sender],
        content_type=ContentType.TEXT,
        previous_hash=previous,
    )


def chain(n: int) -> list[bytes]:
    """``n`` messages, alternating senders, each naming the one before."""
    records: list[bytes] = []
    previous = GENESIS_HASH
    for i in range(n):
        record = seal(GP if i % 2 == 0 else DERM, f"message {i + 1}", previous)
        records.append(record)
        previous = message_hash(record)
    return records


def served(records: list[bytes], seqs: list[int] | None = None) -> list[ServedMessage]:
    out = []
    for i, record in enumerate(records):
        sender = str(parse_message_header(record).sender_user_id)
        out.append(ServedMessage(seqs[i] if seqs else i + 1, sender, record))
    return out


def read(messages: list[ServedMessage], **overrides: object) -> list[ThreadItem]:
    args: dict[str, object] = {"case_id": CASE, "case_keys": CASE_KEYS, "signing_keys": SIGNING}
    args.update(overrides)
    return read_thread(messages, **args)  # type: ignore[arg-type]


def texts(items: list[ThreadItem]) -> list[str | None]:
    return [None if i.body is None else i.body["text"] for i in items]


def test_an_honest_thread_reads_without_a_warning() -> None:
    records = chain(4)
    items = read(served(records))
    assert texts(items) == ["message 1", "message 2", "message 3", "message 4"]
    assert all(i.readable and i.warnings == () and not i.legacy for i in items)
    assert [i.sender_id for i in items] == [GP, DERM, GP, DERM]
    assert [i.message_hash for i in items] == [message_hash(r) for r in records]


def test_a_dropped_message_is_a_gap_at_the_next_one() -> None:
    records = chain(4)
    items = read(served([records[0], records[1], records[3]], [1, 2, 4]))
    assert [i.warnings for i in items] == [(), (), (FINDING_WARNINGS[Finding.GAP],)]
    assert texts(items) == ["message 1", "message 2", "message 4"]  # nothing repaired


def test_two_swapped_messages_are_a_reorder() -> None:
    records = chain(3)
    items = read(served([records[0], records[2], records[1]]))
    assert items[1].warnings == (FINDING_WARNINGS[Finding.REORDER],)
    assert texts(items) == ["message 1", "message 3", "message 2"]


def test_a_replayed_message_is_shown_as_a_repeat() -> None:
    records = chain(2)
    items = read(served([records[0], records[1], records[1]]))
    assert items[2].warnings == (FINDING_WARNINGS[Finding.REPLAY],)


def test_a_thread_that_does_not_start_at_the_start() -> None:
    records = chain(3)
    items = read(served(records[1:]))
    assert items[0].warnings == (
        FINDING_WARNINGS[Finding.GENESIS],
        FINDING_WARNINGS[Finding.GAP],
    )
    # A second message claiming to start the conversation.
    restart = seal(GP, "again", GENESIS_HASH)
    items = read(served([*records, restart]))
    assert items[3].warnings == (FINDING_WARNINGS[Finding.GENESIS],)


def test_two_people_sending_at_once_is_not_a_finding() -> None:
    first = seal(GP, "history", GENESIS_HASH)
    a = seal(GP, "more", message_hash(first))
    b = seal(DERM, "question", message_hash(first))
    items = read(served([first, a, b]))
    assert all(i.warnings == () for i in items)


def test_a_garbled_message_is_one_unreadable_item_and_the_rest_loads() -> None:
    records = chain(3)
    garbled = bytearray(records[1])
    garbled[-1] ^= 1  # signature broken
    items = read(served([records[0], bytes(garbled), records[2]]))
    assert items[1].unreadable == Unreadable.NOT_AUTHENTIC
    assert items[1].body is None and items[1].content_type is None
    assert texts(items) == ["message 1", None, "message 3"]
    # The next message names the one this reader could not open: a gap, as seen.
    assert items[2].warnings == (FINDING_WARNINGS[Finding.GAP],)


def test_reasons_for_unreadable_messages() -> None:
    first = chain(1)[0]
    previous = message_hash(first)
    outsider = str(uuid.uuid4())
    cases = {
        Unreadable.DAMAGED: ServedMessage(2, GP, b"\x01\x01\x0e" + os.urandom(40)),
        Unreadable.OTHER_CASE: ServedMessage(2, GP, seal(GP, "x", previous, case_id=uuid.uuid4())),
        Unreadable.SENDER_MISMATCH: ServedMessage(2, DERM, seal(GP, "x", previous)),
        Unreadable.NO_KEY: ServedMessage(
            2, GP, seal(GP, "x", previous, epoch=7, case_key=b"k" * 32)
        ),
        # Signed by a key that is not the sender's pinned one (a substituted signing key).
        Unreadable.UNKNOWN_SENDER: ServedMessage(2, GP, seal(GP, "x", previous, signer=KEYS[DERM])),
        Unreadable.NOT_AUTHENTIC: ServedMessage(2, GP, seal(GP, "x", previous)[:-1] + b"\0"),
        Unreadable.CONTENT: ServedMessage(2, GP, seal(GP, "x", previous, body=b"not json")),
    }
    outsider_message = seal(outsider, "x", previous, signer=generate_key_pair())
    for reason, message in [
        *cases.items(),
        (Unreadable.UNKNOWN_SENDER, ServedMessage(2, outsider, outsider_message)),
    ]:
        items = read([ServedMessage(1, GP, first), message])
        assert items[1].unreadable == reason, reason
        assert items[0].readable and items[0].warnings == ()


def test_a_message_sealed_under_another_key_of_the_epoch_is_unreadable() -> None:
    """The envelope binds the epoch's commitment: a second key for the same epoch fails."""
    first = chain(1)[0]
    other = seal(GP, "x", message_hash(first), case_key=generate_case_key())
    items = read(served([first, other]))
    assert items[1].unreadable == Unreadable.NOT_AUTHENTIC


def test_each_message_opens_with_the_key_of_its_epoch() -> None:
    first = seal(GP, "epoch 0", GENESIS_HASH)
    second = seal(DERM, "epoch 1", message_hash(first), epoch=1)
    items = read(served([first, second]))
    assert texts(items) == ["epoch 0", "epoch 1"]
    assert [i.epoch for i in items] == [0, 1]
    # A reader without the key of epoch 1 (someone removed) reads epoch 0 only.
    items = read(served([first, second]), case_keys={0: CASE_KEYS[0]})
    assert items[1].unreadable == Unreadable.NO_KEY and items[1].epoch == 1


def test_a_legacy_message_carries_the_older_app_note() -> None:
    legacy = seal_legacy_message_from_parts(
        encode_content(ContentType.TEXT, {"text": "old"}),
        case_key=CASE_KEYS[0],
        case_id=CASE,
        epoch=0,
        client_message_id=uuid.uuid4(),
        sender_user_id=uuid.UUID(GP),
        sender_signing_key=KEYS[GP],
        content_type=ContentType.TEXT,
        timestamp_ms=time.time_ns() // 1_000_000,
        previous_hash=GENESIS_HASH,
        nonce=os.urandom(12),
    )
    new = seal(DERM, "new", message_hash(legacy))
    items = read(served([legacy, new]))
    assert items[0].legacy and items[0].warnings == (LEGACY_NOTE,)
    assert not items[1].legacy and items[1].warnings == ()


def test_an_earlier_accepted_signing_key_still_verifies_its_messages() -> None:
    old, new = KEYS[GP], generate_key_pair()
    first = seal(GP, "before", GENESIS_HASH, signer=old)
    second = seal(GP, "after", message_hash(first), signer=new)
    keys = {**SIGNING, GP: [new.public_key, old.public_key]}
    items = read(served([first, second]), signing_keys=keys)
    assert texts(items) == ["before", "after"]
    # With only the new key pinned, the old message does not verify.
    items = read(served([first, second]), signing_keys={**SIGNING, GP: [new.public_key]})
    assert items[0].unreadable == Unreadable.UNKNOWN_SENDER


def test_the_body_stays_out_of_repr() -> None:
    items = read(served(chain(1)))
    assert "message 1" not in repr(items[0])
