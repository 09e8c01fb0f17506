"""Administrators list their organisation's invites and cancel unused ones.

``GET /api/v1/orgs/{org}/invites`` and ``POST /api/v1/orgs/{org}/invites/{id}/revoke``:
the id is the hex of the token's SHA-256, never the token; another organisation's invite
answers exactly like an unknown one.
"""

import hashlib
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from client_py.api import ApiError
from tests.server.harness import PASSWORD, live_server, make_world


def invite_id(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


async def refused(call: Awaitable[Any]) -> tuple[int, str]:
    with pytest.raises(ApiError) as err:
        await call
    return err.value.status, err.value.code


async def test_list_revoke_and_refusals(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        admin = w.admin.client
        pinned = await admin.invite(w.practice_id, "gp", "new.gp@example.org")
        live.clock.advance(1)
        open_ = await admin.invite(w.practice_id, "records_officer")

        invites = await admin.api.list_invites(w.practice_id)
        mine = {i["invite_id"]: i for i in invites}
        assert invite_id(pinned) in mine and invite_id(open_) in mine
        first = mine[invite_id(pinned)]
        assert first["status"] == "pending"
        assert first["role"] == "gp"
        assert first["login_name"] == "new.gp@example.org"
        assert first["created_by"] == w.admin.user_id
        assert first["org_id"] == w.practice_id
        assert mine[invite_id(open_)]["login_name"] is None
        # Newest first; the token itself is never shown again.
        order = [i["invite_id"] for i in invites]
        assert order.index(invite_id(open_)) < order.index(invite_id(pinned))
        text = json.dumps(invites)
        assert pinned not in text and open_ not in text

        revoked = await admin.api.revoke_invite(w.practice_id, invite_id(pinned))
        assert revoked["status"] == "revoked" and revoked["revoked_at"] is not None
        listed = {i["invite_id"]: i["status"] for i in await admin.api.list_invites(w.practice_id)}
        assert listed[invite_id(pinned)] == "revoked"
        assert listed[invite_id(open_)] == "pending"

        # The cancelled link no longer works, for inspection or acceptance.
        assert await refused(
            live.client().api.post("/api/v1/invites/inspect", {"token": pinned})
        ) == (410, "invite_invalid")
        assert await refused(
            live.client().accept_invite(pinned, "new.gp@example.org", "Dr New", PASSWORD)
        ) == (410, "invite_invalid")
        # Cancelling twice, or cancelling a used invite: 409 conflict.
        assert await refused(admin.api.revoke_invite(w.practice_id, invite_id(pinned))) == (
            409,
            "conflict",
        )
        await live.client().accept_invite(open_, "rec@example.org", "Rec Officer", PASSWORD)
        assert await refused(admin.api.revoke_invite(w.practice_id, invite_id(open_))) == (
            409,
            "conflict",
        )
        listed = {i["invite_id"]: i for i in await admin.api.list_invites(w.practice_id)}
        assert listed[invite_id(open_)]["status"] == "used"
        assert listed[invite_id(open_)]["used_at"] is not None

        # Unknown and malformed ids: 404.
        for bad in ("0" * 64, "A" * 64, "xyz", invite_id(pinned)[:-1]):
            assert await refused(admin.api.revoke_invite(w.practice_id, bad)) == (
                404,
                "not_found",
            )

        # Non-admins of the practice: 403; outsiders of the practice: 404.
        waiting = await admin.invite(w.practice_id, "gp")
        assert await refused(w.gp.client.api.list_invites(w.practice_id)) == (403, "forbidden")
        assert await refused(w.gp.client.api.revoke_invite(w.practice_id, invite_id(waiting))) == (
            403,
            "forbidden",
        )
        assert await refused(w.derm.client.api.list_invites(w.practice_id)) == (404, "not_found")
        assert await refused(
            w.derm.client.api.revoke_invite(w.practice_id, invite_id(waiting))
        ) == (404, "not_found")

        # An admin of another organisation: the practice's invites are as if they did not
        # exist, also when asked through the admin's own organisation id.
        other = await admin.create_organisation("practice", "Oak Surgery")
        x_admin = (
            await live.person(await admin.invite(other["org_id"], "admin"), "x@example.org", "X")
        ).client
        assert await refused(x_admin.api.list_invites(w.practice_id)) == (404, "not_found")
        for org in (w.practice_id, other["org_id"]):
            assert await refused(x_admin.api.revoke_invite(org, invite_id(waiting))) == (
                404,
                "not_found",
            )
        assert all(
            i["invite_id"] != invite_id(waiting)
            for i in await x_admin.api.list_invites(other["org_id"])
        )
        # ...and the practice's invite is still pending after all those attempts.
        listed = {i["invite_id"]: i["status"] for i in await admin.api.list_invites(w.practice_id)}
        assert listed[invite_id(waiting)] == "pending"
        assert await refused(admin.api.list_invites("00000000-0000-4000-8000-000000000000")) == (
            404,
            "not_found",
        )

        # Audited, with the organisation as target and the id (never the token) as detail.
        entries = [x.event for x in await live.store.list_audit(limit=10_000)]
        revokes = [e for e in entries if e.action == "invite.revoke"]
        assert [(e.actor_id, e.target, e.detail) for e in revokes] == [
            (w.admin.user_id, w.practice_id, invite_id(pinned).encode())
        ]
        assert any(e.action == "invite.list" and e.actor_id == w.admin.user_id for e in entries)
        for token in (pinned, open_, waiting):
            for e in entries:
                assert token not in f"{e.target} {e.detail!r} {e.client_address}"
