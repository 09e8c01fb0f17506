"""Organisation keys, certified invites and the records-key chain with the Python client
against a live server with the key log (docs/protocol.md sections 18 to 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from client_py.orgkeys import (
    approve_records_key,
    certify,
    org_private_key,
    records_key_statement,
    setup_org_key,
)
from crypto.fingerprint import key_id
from crypto.invite import parse_invite_fragment
from crypto.records_key import generate_records_key
from tests.samples import HISTORY
from tests.server.harness import live_server, make_world


async def test_org_key_certified_invites_and_the_records_key_chain(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)

        def server_clock() -> int:  # the server runs on a fake clock
            return int(live.clock.now().timestamp() * 1000)

        admin = w.admin.client
        admin.clock_ms = server_clock
        fingerprint = await setup_org_key(admin, w.practice_id)
        ok = admin.pins.orgs[w.practice_id].org_public_key
        assert ok is not None and fingerprint.replace(" ", "") == key_id(ok).hex()
        assert (await org_private_key(admin, w.practice_id)).public_key == ok

        # A certified invite: the link's fragment carries s and OK's key id.
        link = await admin.invite(w.practice_id, "gp")
        parsed = parse_invite_fragment(link.split("#/invite/")[1])
        assert parsed.certified and parsed.org_key_id == key_id(ok)
        gp2 = await live.person(link, "gp2@example.org", "Dr Second")
        assert gp2.client.pins.orgs[w.practice_id].org_public_key == ok
        directory = await admin.keylog.directory(w.practice_id)
        assert directory.members[gp2.user_id].certified

        # The GP enrolled before OK existed: certified after comparing the safety number.
        with pytest.raises(Exception, match="Compare the safety number"):
            await certify(admin, w.practice_id, w.gp.user_id)
        await admin.safety_number(w.gp.user_id)
        admin.verify_keys(w.gp.user_id)
        assert [r.name for r in await certify(admin, w.practice_id, w.gp.user_id)] == ["GP"]
        directory = await admin.keylog.directory(w.practice_id)
        assert directory.members[w.gp.user_id].certified

        # A second administrator through a certified invite with the handover of OK.
        admin2 = await live.person(
            await admin.invite(w.practice_id, "admin"), "admin2@example.org", "Bea Admin"
        )
        assert (await org_private_key(admin2.client, w.practice_id)).public_key == ok

        # The records-key chain: OK certifies the legacy key, a rollover by the key file,
        # then an OK-signed change that two certified administrators approve.
        await records_key_statement(admin, w.practice_id, w.records_key)
        second = generate_records_key()
        await records_key_statement(admin, w.practice_id, second, current=w.records_key)
        gp = w.gp.client
        await gp.create_case(w.practice_id, w.service_id, HISTORY)
        assert gp.pins.orgs[w.practice_id].records_public_key == second.public_key
        third = generate_records_key()
        answer = await records_key_statement(admin, w.practice_id, third)
        assert answer["pending"] is not None
        await approve_records_key(admin, w.practice_id)
        await approve_records_key(admin2.client, w.practice_id)
        await gp.create_case(w.practice_id, w.service_id, HISTORY)
        pin = gp.pins.orgs[w.practice_id]
        assert (pin.records_public_key, pin.records_sequence) == (third.public_key, 2)
        assert any("records key of Elm Surgery changed" in n for n in gp.keylog.notices)
        # A key file that is not the current key cannot sign a rollover.
        with pytest.raises(Exception, match="not the organisation's current records key"):
            await records_key_statement(
                admin, w.practice_id, generate_records_key(), current=second
            )
