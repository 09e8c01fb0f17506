"""Bad input gets a clear :class:`InvalidArgument`, never a driver exception or a crash
(common rules: "Bad input gets a clear error, never a crash"; issue 3: "driver exceptions
never leak upwards"). Values come from the server, which takes many of them (cursors,
sequence numbers, TOTP codes, sizes) from clients, so hostile values are tested on both
backends: integers beyond 64 bits (sqlite3 raises OverflowError, asyncpg DataError), epochs
beyond PostgreSQL's 32-bit INTEGER, garbage and hostile cursors, text that is not valid
Unicode, and oversized audit events.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from storage import (
    Attachment,
    AuditEvent,
    InvalidArgument,
    KeyRecipientKind,
    NewCase,
    Participant,
    Priority,
    ReceiptKind,
    Role,
    Session,
    Storage,
    WrappedCaseKey,
)
from tests.storage.conftest import T0, World, make_case, make_world

HUGE = 2**64
BIG_NEGATIVE = -(2**70)


def cursor_of(parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


async def test_integers_beyond_64_bits_are_invalid_arguments(store: Storage) -> None:
    await make_world(store)
    await make_case(store, "c1")
    with pytest.raises(InvalidArgument):
        await store.list_messages("c1", after_seq=HUGE)
    with pytest.raises(InvalidArgument):
        await store.list_audit(after_seq=HUGE)
    with pytest.raises(InvalidArgument):
        await store.use_totp_timecode(World.gp, HUGE, T0)
    with pytest.raises(InvalidArgument):
        await store.confirm_totp(World.gp, HUGE, [], T0)
    with pytest.raises(InvalidArgument):
        await store.confirm_totp(World.gp, "59", [], T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        await store.record_receipt("c1", World.gp, ReceiptKind.READ, HUGE, T0)
    with pytest.raises(InvalidArgument):
        await store.record_auth_failure(
            World.gp, T0, lock_after=HUGE, lock_for=dt.timedelta(minutes=1)
        )
    with pytest.raises(InvalidArgument):
        await store.record_auth_failure(World.gp, T0, lock_after=3, lock_for=60)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        await store.create_attachment(
            Attachment("a1", "c1", World.gp, "b1", b"\0" * 32, HUGE, "image/jpeg", b"m", T0)
        )
    with pytest.raises(InvalidArgument):
        await store.add_participants_with_keys(
            [Participant("c1", World.derm, Role.DERMATOLOGIST, T0)],
            [WrappedCaseKey("c1", 2**31, KeyRecipientKind.USER, World.derm, b"k", T0)],
        )
    with pytest.raises(InvalidArgument):
        await store.create_case(
            NewCase("c2", World.practice, World.service, World.gp, Priority.ROUTINE, T0),
            [],
            [WrappedCaseKey("c2", -1, KeyRecipientKind.USER, World.gp, b"k", T0)],
        )
    # and the in-range neighbours still work
    await store.create_case(
        NewCase("c3", World.practice, World.service, World.gp, Priority.ROUTINE, T0),
        [],
        [WrappedCaseKey("c3", 2**31 - 1, KeyRecipientKind.USER, World.gp, b"k", T0)],
    )
    assert (await store.get_case("c3")).key_epoch == 2**31 - 1
    assert (await store.use_totp_timecode(World.gp, 2**63 - 1, T0)).totp_last_timecode == (
        2**63 - 1
    )


HOSTILE_CURSORS = [
    cursor_of([0, HUGE, "c1"]),  # beyond 64 bits
    cursor_of([BIG_NEGATIVE, 0, "c1"]),
    cursor_of([0, 0, "c1' OR 1=1 --"]),  # not an id
    cursor_of([0, 0, "x" * 65]),
    cursor_of([True, 0, "c1"]),
    cursor_of([0, 0]),
    cursor_of({"a": 1}),
    base64.urlsafe_b64encode(b"[" * 100_000).decode(),  # deep nesting; also too long
    base64.urlsafe_b64encode(b"[" * 300).decode(),  # nesting within the length bound
    "not base64 at all!",
    "\u00e9\u00e9\u00e9\u00e9",
    "",
]


async def test_hostile_cursors_are_invalid_arguments(store: Storage) -> None:
    await make_world(store)
    for cursor in HOSTILE_CURSORS:
        with pytest.raises(InvalidArgument):
            await store.triage_queue(World.service, cursor=cursor)
        with pytest.raises(InvalidArgument):
            await store.list_cases_for_user(World.gp, cursor=cursor)


async def test_text_that_is_not_unicode_is_an_invalid_argument(store: Storage) -> None:
    await make_world(store)
    lone_surrogate = "\ud800"
    with pytest.raises(InvalidArgument):
        await store.create_session(
            Session(b"s" * 32, World.gp, T0, T0, T0, client_address=lone_surrogate)
        )
    with pytest.raises(InvalidArgument):
        await store.create_session(
            Session(b"s" * 32, World.gp, T0, T0, T0, client_address=None)  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidArgument):
        await store.update_auth_key_hash(World.gp, b"bytes-not-str")  # type: ignore[arg-type]


async def test_audit_events_are_validated_before_the_append(store: Storage) -> None:
    bad = [
        AuditEvent("", T0),
        AuditEvent("x" * 201, T0),
        AuditEvent("login.ok", T0, actor_id="a" * 2000),
        AuditEvent("login.ok", T0, target="\ud800"),
        AuditEvent("login.ok", T0, client_address=123),  # type: ignore[arg-type]
        AuditEvent("login.ok", T0, detail=b"x" * (64 * 1024 + 1)),
        AuditEvent("login.ok", T0, detail="text"),  # type: ignore[arg-type]
        AuditEvent("login.ok", dt.datetime(2026, 1, 1)),  # naive time
    ]
    for event in bad:
        with pytest.raises(InvalidArgument):
            await store.append_audit(event)
    with pytest.raises(InvalidArgument):
        await store.append_audit("login.ok")  # type: ignore[arg-type]
    # nothing half-written: the chain is empty and verifies
    assert (await store.verify_audit()).entries == 0
    ok = await store.append_audit(AuditEvent("login.ok", T0, detail=b"x" * (64 * 1024)))
    assert ok.seq == 1
