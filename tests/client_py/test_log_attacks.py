"""The Python client against the harness's key-log attacks (tests/harness): a replaced
organisation key, a hidden removal, a rewritten log and a stale tree head are refused or
warned about (docs/threat-model.md, the attack table)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from client_py.api import b64d, b64e
from client_py.errors import (
    LogRewrittenError,
    NotInLogError,
    OrgKeyChangedError,
)
from client_py.orgkeys import setup_org_key
from crypto.account import generate_key_pair
from crypto.content import ContentType
from crypto.envelope import parse_message_header
from crypto.statement import OrganisationKind, make_organisation_key_statement
from tests.client_py.test_attacks import attack, attacked
from tests.samples import HISTORY


async def test_a_replaced_organisation_key_is_refused(tmp_path: Path) -> None:
    async with attacked(tmp_path) as (live, w, harness):
        w.admin.client.clock_ms = lambda: int(live.clock.now().timestamp() * 1000)
        await setup_org_key(w.admin.client, w.practice_id)
        await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)  # pins OK
        forged = make_organisation_key_statement(
            org_id=uuid.UUID(w.practice_id),
            org_kind=OrganisationKind.PRACTICE,
            name="Elm Surgery",
            org_key=generate_key_pair(),
            issued_at_ms=1,
        )
        await attack(harness, kind="replace_org_key", org_id=w.practice_id, statement=b64e(forged))
        with pytest.raises((NotInLogError, OrgKeyChangedError)) as refused:
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        assert "Elm Surgery" in refused.value.message


async def test_a_hidden_removal_is_found_in_the_log_and_the_new_epoch_leaves_them_out(
    tmp_path: Path,
) -> None:
    async with attacked(tmp_path) as (live, w, harness):
        token = await w.admin.client.invite(w.service_id, "dermatologist")
        derm2 = await live.person(token, "derm2@example.org", "Dr Second")
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await w.admin.client.api.post(f"/api/v1/users/{derm2.user_id}/disable")
        await attack(harness, kind="hide_removal", user_id=derm2.user_id)
        detail = await w.gp.client.api.get(f"/api/v1/cases/{case_id}")
        assert derm2.user_id in {p["user_id"] for p in detail["participants"]}  # hidden
        # The GP's next message: the log shows the removal, so the new epoch leaves Dr
        # Second out, and the thread says why.
        seq = await w.gp.client.post_message(case_id, ContentType.TEXT, {"text": "next"})
        detail = await w.gp.client.api.get(f"/api/v1/cases/{case_id}")
        assert detail["case"]["key_epoch"] == 1
        assert derm2.user_id not in {
            k["recipient_id"] for k in detail["case_keys"] if k["epoch"] == 1
        }
        record = b64d(
            next(m for m in await w.gp.client.messages(case_id) if m["seq"] == seq)["envelope"]
        )
        assert parse_message_header(record).epoch == 1
        thread = await w.gp.client.read_thread(case_id)
        # Listed again, but the log does not vouch for them being a participant: named.
        assert any("Dr Second" in n for n in thread.notices)
        # A new case is not wrapped to them either.
        second = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        detail = await w.gp.client.api.get(f"/api/v1/cases/{second}")
        assert derm2.user_id not in {k["recipient_id"] for k in detail["case_keys"]}


async def test_a_rewritten_log_is_a_hard_stop(tmp_path: Path) -> None:
    async with attacked(tmp_path) as (_live, w, harness):
        await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)  # pins a head
        await attack(harness, kind="rewrite_log")
        with pytest.raises(LogRewrittenError) as stop:
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        assert "rewritten" in stop.value.message


async def test_a_stale_head_hides_nothing_that_is_used(tmp_path: Path) -> None:
    async with attacked(tmp_path) as (live, w, harness):
        await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await attack(harness, kind="stale_head")
        # The log grows (a dermatologist joins) while the server keeps showing the old head:
        # the proofs of the answer fit no head the client is shown, so nothing is encrypted.
        token = await w.admin.client.invite(w.service_id, "dermatologist")
        await live.person(token, "derm3@example.org", "Dr Third")
        with pytest.raises(NotInLogError):
            await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
