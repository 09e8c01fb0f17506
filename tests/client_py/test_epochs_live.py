"""Membership epochs with the Python client against a live server: a removal makes the next
send rotate first, the removed person's real keys open nothing of the new epoch, readers open
each message with its epoch's key, and two rotations at once leave one winner."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from client_py.api import b64d
from crypto.case_key import open_case_key_wrap, parse_case_key_wrap_header
from crypto.content import ContentType
from crypto.envelope import open_message, parse_message_header
from crypto.errors import CaseKeyUnwrapError, MessageOpenError
from tests.samples import HISTORY
from tests.server.harness import Person, World, live_server, make_world


async def second_dermatologist(w: World) -> Person:
    token = await w.admin.client.invite(w.service_id, "dermatologist")
    return await w.live.person(token, "derm2@example.org", "Dr Second")


async def test_removal_rotates_and_the_removed_keys_open_nothing_new(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        derm2 = await second_dermatologist(w)
        gp = w.gp.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await w.derm.client.move(case_id, "claim")
        assert derm2.user_id in {p["user_id"] for p in (await gp.get_case(case_id))["participants"]}
        old_key = await derm2.client.case_key(case_id, 0)
        await gp.api.post(f"/api/v1/cases/{case_id}/participants/{derm2.user_id}/remove")
        detail = await gp.get_case(case_id)
        assert detail["rotation"] == {"next_epoch": 1, "removed": [derm2.user_id]}
        # The next send rotates first, then goes out under epoch 1.
        seq = await gp.post_message(case_id, ContentType.TEXT, {"text": "after the removal"})
        detail = await gp.get_case(case_id)
        assert detail["case"]["key_epoch"] == 1 and detail["rotation"] is None
        record = b64d(next(m for m in await gp.messages(case_id) if m["seq"] == seq)["envelope"])
        assert parse_message_header(record).epoch == 1
        # The removed dermatologist's real keys: no wrap of epoch 1 opens, nor the message.
        assert derm2.client.identity is not None
        for wrap in detail["case_keys"]:
            if wrap["epoch"] != 1:
                continue
            raw = b64d(wrap["wrapped_key"])
            assert parse_case_key_wrap_header(raw).recipient_key_id != (
                derm2.client.identity.encryption.key_id
            )
            with pytest.raises(CaseKeyUnwrapError):
                open_case_key_wrap(
                    raw,
                    case_id=uuid.UUID(case_id),
                    epoch=1,
                    recipient=derm2.client.identity.encryption,
                    wrapper_signing_public_key=w.gp.client.identity.signing.public_key,  # type: ignore[union-attr]
                )
        for epoch_guess in (0, 1):
            with pytest.raises(MessageOpenError):
                open_message(
                    record,
                    case_key=old_key,
                    case_id=uuid.UUID(case_id),
                    epoch=epoch_guess,
                    sender_signing_public_key=w.gp.client.identity.signing.public_key,  # type: ignore[union-attr]
                )
        # The remaining dermatologist reads both epochs, each with its own key.
        thread = await w.derm.client.read_thread(case_id)
        assert [i.epoch for i in thread.items] == [0, 1]
        assert all(i.readable and i.warnings == () for i in thread.items)
        # They reply at epoch 1 without being told anything.
        await w.derm.client.post_message(case_id, ContentType.TEXT, {"text": "seen"})
        thread = await gp.read_thread(case_id)
        assert [i.epoch for i in thread.items] == [0, 1, 1]
        # A dermatologist rotates too (voluntarily here): the practice's records key comes
        # from the case detail, checked against the log and pinned.
        assert await w.derm.client.rotate(case_id) == 2
        await w.derm.client.post_message(case_id, ContentType.TEXT, {"text": "epoch two"})
        thread = await gp.read_thread(case_id)
        assert [i.epoch for i in thread.items] == [0, 1, 1, 2]
        assert all(i.readable and i.warnings == () for i in thread.items)


async def test_two_rotations_at_once_one_wins_and_the_other_reloads(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        derm2 = await second_dermatologist(w)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await derm.move(case_id, "claim")
        # The GP signed in on a second device: both see the rotation the removal needs.
        other = await live.relogin(w.gp)
        await other.case_key(case_id, 0)
        await gp.api.post(f"/api/v1/cases/{case_id}/participants/{derm2.user_id}/remove")
        assert await gp.rotate(case_id) == 1
        real_get_case = other.get_case
        calls = 0

        async def stale_first(case: str) -> dict:  # type: ignore[type-arg]
            nonlocal calls
            calls += 1
            detail = await real_get_case(case)
            if calls == 1:  # what the second device saw before the first rotation landed
                detail["case"]["key_epoch"] = 0
                other._epochs[case] = 0
            return detail

        other.get_case = stale_first  # type: ignore[method-assign]
        # It loses the compare-and-set and takes the first device's epoch, not failing.
        assert await other.rotate(case_id) == 1
        other.get_case = real_get_case  # type: ignore[method-assign]
        await other.post_message(case_id, ContentType.TEXT, {"text": "after the race"})
        thread = await derm.read_thread(case_id)
        assert [i.epoch for i in thread.items] == [0, 1]
        assert all(i.readable and i.warnings == () for i in thread.items)
