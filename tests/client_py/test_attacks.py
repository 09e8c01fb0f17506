"""The Python client against the malicious-server harness (tests/harness): the real server
app with answers tampered with. For every attack the client either refuses to encrypt or
shows the person a clear warning; nothing is accepted silently (docs/threat-model.md, the
attack table, Python column)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from client_py.api import b64d, b64e
from client_py.client import WITHHELD_NOTICE
from client_py.errors import KeyChangedError, NotInLogError, RecordsKeyChangedError
from client_py.thread import FINDING_WARNINGS, Unreadable
from crypto.account import generate_key_pair
from crypto.content import ContentType, encode_content
from crypto.envelope import seal_message
from crypto.transcript import Finding
from tests.harness.attacks import HARNESS, Attack, Harness, install
from tests.samples import HISTORY
from tests.server.harness import Live, World, live_server, make_world


@asynccontextmanager
async def attacked(tmp_path: Path) -> AsyncIterator[tuple[Live, World, Harness]]:
    def hook(app: Any) -> None:
        install(app, environ={"DERMLINE_HARNESS": "1"})

    async with live_server(tmp_path / "data", app_hook=hook) as live:
        yield live, await make_world(live), live.app[HARNESS]


async def attack(harness: Harness, **body: Any) -> None:
    await harness.set([Attack.parse(body)])


async def thread_of_four(w: World) -> str:
    """A case whose thread holds the history and three messages from the GP; the
    dermatologist has claimed it and read it once (so the GP is pinned)."""
    case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
    for text in ("one", "two", "three"):
        await w.gp.client.post_message(case_id, ContentType.TEXT, {"text": text})
    await w.derm.client.move(case_id, "claim")
    honest = await w.derm.client.read_thread(case_id)
    assert [i.warnings for i in honest.items] == [(), (), (), ()] and not honest.notices
    return case_id


async def test_substituted_encryption_key_case_two_is_not_wrapped_to_it(tmp_path: Path) -> None:
    """The reporter's scenario: an honest first case, then the directory lists the
    attacker's key for the dermatologist; case 2 is refused, nothing reaches the server."""
    async with attacked(tmp_path) as (_live, w, harness):
        await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        mallory = generate_key_pair()
        await attack(
            harness,
            kind="substitute_encryption_key",
            user_id=w.derm.user_id,
            public_key=b64e(mallory.public_key),
        )
        # The key log's entry for Dr Derm names the real key (or, from a server without the
        # log, the pins do): refused, naming the person.
        with pytest.raises((KeyChangedError, NotInLogError)) as refused:
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        assert "Dr Derm's security keys" in refused.value.message
        harness.reset()
        cases = await w.gp.client.my_cases()
        assert len(cases) == 1  # case 2 never existed, so no wrap to Mallory's key either


async def test_substituted_signing_key_is_named_and_forgeries_do_not_open(tmp_path: Path) -> None:
    async with attacked(tmp_path) as (_live, w, harness):
        case_id = await thread_of_four(w)
        mallory = generate_key_pair()
        forged = seal_message(
            encode_content(ContentType.TEXT, {"text": "forged instruction"}),
            case_key=await w.derm.client.case_key(case_id),
            case_id=uuid.UUID(case_id),
            epoch=0,
            client_message_id=uuid.uuid4(),
            sender_user_id=uuid.UUID(w.gp.user_id),
            sender_signing_key=mallory,
            content_type=ContentType.TEXT,
            previous_hash=bytes(32),
        )
        await harness.set(
            [
                Attack.parse(
                    {
                        "kind": "substitute_signing_key",
                        "user_id": w.gp.user_id,
                        "public_key": b64e(mallory.public_key),
                    }
                ),
                Attack.parse(
                    {"kind": "inject_message", "case_id": case_id, "envelope": b64e(forged)}
                ),
            ]
        )
        thread = await w.derm.client.read_thread(case_id)
        assert any("Dr Gee's security keys" in n for n in thread.notices)
        assert [i.readable for i in thread.items] == [True, True, True, True, False]
        assert thread.items[-1].unreadable == Unreadable.UNKNOWN_SENDER


async def test_swapped_records_key_is_refused(tmp_path: Path) -> None:
    async with attacked(tmp_path) as (_live, w, harness):
        await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await attack(
            harness,
            kind="swap_records_key",
            org_id=w.practice_id,
            public_key=b64e(generate_key_pair().public_key),
        )
        with pytest.raises(RecordsKeyChangedError, match="Elm Surgery"):
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        harness.reset()
        assert len(await w.gp.client.my_cases()) == 1


@pytest.mark.parametrize(
    ("body", "where", "finding"),
    [
        ({"kind": "drop_message", "seq": 3}, 2, Finding.GAP),
        ({"kind": "reorder_messages", "seq_a": 2, "seq_b": 3}, 1, Finding.REORDER),
        ({"kind": "replay_message", "seq": 2}, 2, Finding.REPLAY),
    ],
)
async def test_dropped_reordered_replayed_messages_are_warned(
    tmp_path: Path, body: dict[str, Any], where: int, finding: Finding
) -> None:
    async with attacked(tmp_path) as (_live, w, harness):
        case_id = await thread_of_four(w)
        await attack(harness, case_id=case_id, **body)
        thread = await w.derm.client.read_thread(case_id)
        assert FINDING_WARNINGS[finding] in thread.items[where].warnings
        # Nothing repaired: the reader sees what the server served, warnings in place.
        assert all(i.readable for i in thread.items)


async def test_a_fork_shows_when_the_next_message_names_the_hidden_one(tmp_path: Path) -> None:
    async with attacked(tmp_path) as (_live, w, harness):
        case_id = await thread_of_four(w)
        await attack(harness, kind="fork", case_id=case_id, user_id=w.derm.user_id, seq=4)
        thread = await w.derm.client.read_thread(case_id)
        assert len(thread.items) == 3  # "three" is hidden from the dermatologist only
        await w.gp.client.read_thread(case_id)
        await w.gp.client.post_message(case_id, ContentType.TEXT, {"text": "four"})
        thread = await w.derm.client.read_thread(case_id)
        assert thread.items[-1].body is not None and thread.items[-1].body["text"] == "four"
        assert thread.items[-1].warnings == (FINDING_WARNINGS[Finding.GAP],)


async def test_withheld_messages_are_noticed_by_their_sender(tmp_path: Path) -> None:
    async with attacked(tmp_path) as (_live, w, harness):
        case_id = await thread_of_four(w)
        await attack(harness, kind="withhold_after", case_id=case_id, seq=4)
        await w.gp.client.post_message(case_id, ContentType.TEXT, {"text": "urgent: call me"})
        thread = await w.gp.client.read_thread(case_id)
        assert WITHHELD_NOTICE in thread.notices
        # Once the server shows it again, whoever reads sees it chained in place.
        harness.reset()
        thread = await w.derm.client.read_thread(case_id)
        assert thread.items[-1].body is not None
        assert thread.items[-1].body["text"] == "urgent: call me"
        assert thread.items[-1].warnings == ()


@pytest.mark.parametrize("what", ["garbled", "random"])
async def test_an_injected_message_is_one_unreadable_item(tmp_path: Path, what: str) -> None:
    async with attacked(tmp_path) as (_live, w, harness):
        case_id = await thread_of_four(w)
        real = b64d((await w.gp.client.messages(case_id))[1]["envelope"])
        junk = real[:-1] + bytes([real[-1] ^ 1]) if what == "garbled" else os.urandom(300)
        await attack(
            harness,
            kind="inject_message",
            case_id=case_id,
            envelope=b64e(junk),
            after_seq=2,
            sender_id=w.gp.user_id,
        )
        thread = await w.derm.client.read_thread(case_id)
        assert [i.readable for i in thread.items] == [True, True, False, True, True]
        assert thread.items[2].unreadable in (Unreadable.NOT_AUTHENTIC, Unreadable.DAMAGED)
        if what == "garbled":
            # The same message shown twice (its id), the second copy not the signed one.
            assert thread.items[2].unreadable == Unreadable.NOT_AUTHENTIC
