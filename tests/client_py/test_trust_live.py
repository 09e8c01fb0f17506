"""The Python client against a live server whose answers are tampered with in the client's
HTTP layer (a stand-in for a malicious server until the harness covers the same ground):
key pins block encryption to a swapped key, threads show every finding, and a client that
posts twice chains its second message to its first."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest

from client_py.api import b64d, b64e
from client_py.cli import run
from client_py.client import DermlineClient
from client_py.errors import (
    KeyChangedError,
    NoKeyLogError,
    NotInLogError,
    RecordsKeyChangedError,
)
from client_py.thread import FINDING_WARNINGS, Unreadable
from crypto.account import generate_key_pair
from crypto.content import ContentType
from crypto.envelope import GENESIS_HASH, message_hash, parse_message_header
from crypto.fingerprint import safety_number
from crypto.transcript import Finding
from tests.samples import HISTORY
from tests.server.harness import World, live_server, make_world

Tamper = Callable[[str, Any], Any]


def tamper(monkeypatch: pytest.MonkeyPatch, client: DermlineClient, fn: Tamper) -> None:
    """Every GET answer the client receives passes through ``fn(path, answer)``."""
    real = client.api.get

    async def get(path: str, **params: Any) -> Any:
        return fn(path, copy.deepcopy(await real(path, **params)))

    monkeypatch.setattr(client.api, "get", get)


def swap_member_key(user_id: str, field: str, public_key: bytes) -> Tamper:
    def fn(path: str, answer: Any) -> Any:
        if isinstance(answer, dict):
            for person in answer.get("members", []) + answer.get("participants", []):
                if person["user_id"] == user_id:
                    person[field] = b64e(public_key)
        return answer

    return fn


async def test_posting_twice_without_reading_chains_to_its_own_last(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        gp = w.gp.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await gp.post_message(case_id, ContentType.TEXT, {"text": "one"})
        await gp.post_message(case_id, ContentType.TEXT, {"text": "two"})
        records = [b64d(m["envelope"]) for m in await gp.messages(case_id)]
        previous = [parse_message_header(r).previous_hash for r in records]
        assert previous == [GENESIS_HASH, message_hash(records[0]), message_hash(records[1])]
        # The dermatologist replies after reading; the GP sends again without reading: the
        # GP's message names the newest it holds (its own "two"), concurrent with the reply.
        await w.derm.client.move(case_id, "claim")
        thread = await w.derm.client.read_thread(case_id)
        assert [i.warnings for i in thread.items] == [(), (), ()]
        await w.derm.client.post_message(case_id, ContentType.TEXT, {"text": "reply"})
        await gp.post_message(case_id, ContentType.TEXT, {"text": "three"})
        thread = await w.derm.client.read_thread(case_id)
        assert [i.body["text"] for i in thread.items[1:] if i.body] == [
            "one",
            "two",
            "reply",
            "three",
        ]
        assert all(i.warnings == () for i in thread.items)
        # Reading moves the GP's chain to the newest message shown.
        await gp.read_thread(case_id)
        await gp.post_message(case_id, ContentType.TEXT, {"text": "four"})
        last = b64d((await gp.messages(case_id))[-1]["envelope"])
        assert parse_message_header(last).previous_hash == message_hash(
            b64d((await gp.messages(case_id))[-2]["envelope"])
        )


async def _honest_first_case(w: World) -> str:
    return await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)


async def test_a_swapped_dermatologist_key_blocks_case_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter's scenario: an honest first case, then the directory lists the
    attacker's key for the dermatologist: case 2 is not wrapped to it, nothing is posted."""
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        await _honest_first_case(w)
        attacker = generate_key_pair()
        tamper(
            monkeypatch,
            w.gp.client,
            swap_member_key(w.derm.user_id, "encryption_public_key", attacker.public_key),
        )
        # Refused by the key log (the listed key is not the one in its entry) or, from a
        # server without the log, by the pins; either way the message names the person.
        with pytest.raises((KeyChangedError, NotInLogError)) as refused:
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        assert "Dr Derm's security keys" in refused.value.message
        assert len(await w.gp.client.my_cases()) == 1  # nothing reached the server
        monkeypatch.undo()


async def test_a_swapped_records_key_blocks_case_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        await _honest_first_case(w)
        swapped = b64e(generate_key_pair().public_key)

        def fn(path: str, answer: Any) -> Any:
            for org in [*answer.get("organisations", []), answer.get("org") or {}]:
                if org.get("org_id") == w.practice_id:
                    org["records_public_key"] = swapped
            return answer

        tamper(monkeypatch, w.gp.client, fn)
        with pytest.raises(RecordsKeyChangedError) as refused:
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        assert "Elm Surgery" in refused.value.message
        assert len(await w.gp.client.my_cases()) == 1


async def test_thread_tampering_is_shown_not_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        case_id = await _honest_first_case(w)
        for text in ("one", "two", "three"):
            await w.gp.client.post_message(case_id, ContentType.TEXT, {"text": text})
        derm = w.derm.client
        await derm.move(case_id, "claim")
        honest = await derm.read_thread(case_id)
        assert all(i.readable and i.warnings == () for i in honest.items)

        def serve(edit: Callable[[list[Any]], list[Any]]) -> None:
            def fn(path: str, answer: Any) -> Any:
                if path.endswith("/messages") and answer["messages"]:
                    answer["messages"] = edit(answer["messages"])
                return answer

            monkeypatch.undo()
            tamper(monkeypatch, derm, fn)

        # Dropped: message 3 of 4 is not served.
        serve(lambda ms: [m for m in ms if m["seq"] != ms[2]["seq"]])
        items = (await derm.read_thread(case_id)).items
        assert len(items) == 3 and items[2].warnings == (FINDING_WARNINGS[Finding.GAP],)
        # Swapped: 2 and 3 change places.
        serve(lambda ms: [ms[0], ms[2], ms[1], *ms[3:]])
        items = (await derm.read_thread(case_id)).items
        assert FINDING_WARNINGS[Finding.REORDER] in items[1].warnings
        # Replayed: message 2 served twice.
        serve(lambda ms: [*ms[:2], ms[1], *ms[2:]] if len(ms) > 1 else ms)
        items = (await derm.read_thread(case_id)).items
        assert items[2].warnings == (FINDING_WARNINGS[Finding.REPLAY],)

        # Garbled: one unreadable item, the rest loads.
        def garble(ms: list[Any]) -> list[Any]:
            record = bytearray(b64d(ms[1]["envelope"]))
            record[200] ^= 1
            ms[1]["envelope"] = b64e(bytes(record))
            return ms

        serve(garble)
        items = (await derm.read_thread(case_id)).items
        assert items[1].unreadable == Unreadable.NOT_AUTHENTIC
        assert [i.readable for i in items] == [True, False, True, True]
        monkeypatch.undo()


async def test_a_substituted_signing_key_makes_messages_unreadable_with_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        case_id = await _honest_first_case(w)
        derm = w.derm.client
        await derm.move(case_id, "claim")
        await derm.read_thread(case_id)  # pins the GP
        forged = generate_key_pair()
        tamper(
            monkeypatch,
            derm,
            swap_member_key(w.gp.user_id, "signing_public_key", forged.public_key),
        )
        thread = await derm.read_thread(case_id)
        # The pinned key still verifies the GP's real message; the notice names the GP.
        assert thread.items[0].readable
        assert thread.notices and "Dr Gee's security keys" in thread.notices[0]


async def test_cli_safety_number_accept_and_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        history = tmp_path / "history.json"
        history.write_text(json.dumps(HISTORY))
        env = {
            "DERMLINE_URL": live.url,
            "DERMLINE_LOGIN": w.gp.login_name,
            "DERMLINE_PASSWORD": "correct horse battery staple",
            "DERMLINE_CONFIG_DIR": str(tmp_path / "config"),
        }

        async def cli(*argv: str) -> tuple[int, list[dict[str, Any]]]:
            env["DERMLINE_TOTP_CODE"] = pyotp.TOTP(w.gp.totp_secret).at(
                (live.clock.advance(30), live.clock.now())[1]
            )
            capsys.readouterr()
            status = await run(list(argv), env)
            return status, [json.loads(x) for x in capsys.readouterr().out.splitlines()]

        create = ("create-case", "--practice", w.practice_id, "--service", w.service_id)
        assert (await cli(*create, "--history", str(history)))[0] == 0
        derm = w.derm.client.identity
        gp = w.gp.client.identity
        assert derm is not None and gp is not None
        status, out = await cli("keys", "safety-number", w.derm.user_id)
        assert status == 0
        assert out[0]["safety_number"] == safety_number(
            (gp.signing.public_key, gp.encryption.public_key),
            (derm.signing.public_key, derm.encryption.public_key),
        )
        assert out[0]["changed"] is False and out[0]["name"] == "Dr Derm"
        # The dermatologist's keys differ from the ones this device pinned (as after a key
        # change): the next case is refused until the change is accepted.
        pins_file = next((tmp_path / "config").rglob("pins.json"))

        def plant_other_keys() -> None:
            pins = json.loads(pins_file.read_text())
            person = pins["people"][w.derm.user_id]
            person["encryption_public_key"] = b64e(generate_key_pair().public_key)
            person["signing_public_key"] = b64e(generate_key_pair().public_key)
            pins_file.write_text(json.dumps(pins))

        plant_other_keys()
        status, out = await cli(*create, "--history", str(history))
        assert status == 3 and out[0]["error"] == "key_changed"
        assert "Dr Derm" in out[0]["message"]
        status, out = await cli("keys", "safety-number", w.derm.user_id)
        assert out[0]["changed"] is True
        # The number to compare is the one of the keys the server shows now.
        assert out[0]["safety_number"] == safety_number(
            (gp.signing.public_key, gp.encryption.public_key),
            (derm.signing.public_key, derm.encryption.public_key),
        )
        # Accepting after comparing.
        assert (await cli("keys", "accept", w.derm.user_id))[0] == 0
        assert (await cli("keys", "accept", w.derm.user_id))[1][0]["error"] == "no_change"
        assert (await cli(*create, "--history", str(history)))[0] == 0
        # Verified, then changed again: a hard stop that accept cannot lift.
        status, out = await cli("keys", "verify", w.derm.user_id)
        assert out[0]["verified"] is True
        plant_other_keys()
        status, out = await cli(*create, "--history", str(history))
        assert status == 3 and out[0]["error"] == "verified_key_changed"
        status, out = await cli("keys", "accept", w.derm.user_id)
        assert status == 3 and out[0]["error"] == "verified_key_changed"
        status, out = await cli("keys", "verify", "00000000-0000-4000-8000-000000000000")
        assert status == 3 and out[0]["error"] == "unknown_person"


async def test_an_answer_without_the_key_log_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server cannot step the client back to pins-only checks by leaving the head out."""
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        case_id = await _honest_first_case(w)

        def strip(path: str, answer: Any) -> Any:
            if isinstance(answer, dict):
                answer.pop("tree_head", None)
            return answer

        tamper(monkeypatch, w.gp.client, strip)
        with pytest.raises(NoKeyLogError):
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        with pytest.raises(NoKeyLogError):
            await w.gp.client.read_thread(case_id)
        assert len(await w.gp.client.my_cases()) == 1
