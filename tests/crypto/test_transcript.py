"""The transcript check (crypto/transcript.py): rules, properties, misuse."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import envelope, transcript
from crypto.errors import MessageHeaderError

F = transcript.Finding


def entry(
    n: int, previous: int | None, cmid: int | None = None, seq: int = 0
) -> transcript.TranscriptEntry:
    return transcript.TranscriptEntry(
        seq=seq,
        client_message_id=uuid.UUID(int=cmid if cmid is not None else n),
        previous_hash=envelope.GENESIS_HASH
        if previous is None
        else hashlib.sha256(bytes([previous])).digest(),
        message_hash=hashlib.sha256(bytes([n])).digest(),
    )


def chain(n: int) -> list[transcript.TranscriptEntry]:
    return [entry(i, None if i == 1 else i - 1, seq=i) for i in range(1, n + 1)]


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 30), data=st.data())
def test_any_dropped_message_shows_a_gap_at_its_successor(n: int, data: st.DataObject) -> None:
    thread = chain(n + 1)
    drop = data.draw(st.integers(0, n - 1))
    shown = thread[:drop] + thread[drop + 1 :]
    findings = transcript.check_transcript(shown)
    assert F.GAP in findings[drop]
    assert all(not f for i, f in enumerate(findings) if i != drop)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 30), data=st.data())
def test_any_swap_of_neighbours_shows_a_reorder(n: int, data: st.DataObject) -> None:
    thread = chain(n)
    i = data.draw(st.integers(0, n - 2))
    thread[i], thread[i + 1] = thread[i + 1], thread[i]
    findings = transcript.check_transcript(thread)
    assert F.REORDER in findings[i]


def test_an_intact_chain_has_no_findings() -> None:
    assert transcript.check_transcript(chain(10)) == [()] * 10
    assert transcript.check_transcript([]) == []


def test_findings_are_in_a_fixed_order() -> None:
    # The first message names a later one and is shown again: genesis, reorder, then replay.
    first = entry(2, 1)
    thread = [first, entry(1, None), first]
    assert transcript.check_transcript(thread) == [
        (F.GENESIS, F.REORDER),
        (F.GENESIS,),
        (F.REPLAY,),
    ]


def test_entry_from_record_and_misuse() -> None:
    with pytest.raises(MessageHeaderError):
        transcript.entry_from_record(1, b"\x01\x01\x0e")
    with pytest.raises(TypeError):
        transcript.check_transcript([("not", "an", "entry")])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        transcript.TranscriptEntry(
            seq=1, client_message_id=uuid.UUID(int=1), previous_hash=b"", message_hash=bytes(32)
        )
    with pytest.raises(TypeError):
        transcript.TranscriptEntry(
            seq=1, client_message_id="x", previous_hash=bytes(32), message_hash=bytes(32)
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        transcript.TranscriptEntry(
            seq=-1,
            client_message_id=uuid.UUID(int=1),
            previous_hash=bytes(32),
            message_hash=bytes(32),
        )
