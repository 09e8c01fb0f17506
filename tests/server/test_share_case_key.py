"""Sharing the case key with service colleagues who joined after the case was created
(POST /api/v1/cases/{id}/keys, ``DermlineClient.share_case_key``): before, the newcomer can
neither read nor claim; after, they can claim and decrypt the thread and its photos. A
share of another key is refused (``case_key_mismatch``), as are recipients who are not
dermatologists of the service, who already take part, and callers who are not participants.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import storage
from client_py.api import ApiError, b64e
from client_py.client import DermlineClient
from crypto.case_key import generate_case_key, wrap_case_key
from crypto.content import ContentType
from tests.samples import HISTORY
from tests.server.harness import BACKENDS, Live, World, live_server, make_world

PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg, the server never looks \xff\xd9"


async def error_of(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as info:
        await call
    return info.value.status, info.value.code


async def newcomer(live: Live, w: World, name: str) -> DermlineClient:
    token = await w.admin.client.invite(w.service_id, "dermatologist")
    return (await live.person(token, f"{name}@example.org", name)).client


def wrap_for(
    sharer: DermlineClient, case_id: str, key: bytes, to: DermlineClient, epoch: int = 0
) -> dict[str, str]:
    assert sharer.identity is not None and to.identity is not None
    return {
        "recipient_id": to.identity.user_id,
        "wrapped_key": b64e(
            wrap_case_key(
                key,
                case_id=uuid.UUID(case_id),
                epoch=epoch,
                recipient_public_key=to.identity.encryption.public_key,
                wrapper_user_id=uuid.UUID(sharer.identity.user_id),
                wrapper_signing_key=sharer.identity.signing,
            )
        ),
    }


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_newcomer_reads_and_claims_after_a_share(tmp_path: Path, backend: str) -> None:
    async with live_server(tmp_path, backend) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await gp.upload_photo(case_id, PHOTO, tag="close_up", body_site="left forearm")
        keys_url = f"/api/v1/cases/{case_id}/keys"

        new = await newcomer(live, w, "newderm")
        assert new.identity is not None
        new_id = new.identity.user_id
        # The queue shows the case to every dermatologist of the service, but the newcomer
        # holds no key: not a participant, so the case itself is forbidden.
        assert case_id in [c["case_id"] for c in await new.queue(w.service_id)]
        assert await error_of(new.api.get(f"/api/v1/cases/{case_id}")) == (403, "forbidden")
        assert await error_of(new.case_key(case_id)) == (403, "forbidden")
        assert await error_of(new.move(case_id, "claim")) == (403, "forbidden")
        assert [d["user_id"] for d in await gp.colleagues_without_key(case_id)] == [new_id]
        assert [d["user_id"] for d in await derm.colleagues_without_key(case_id)] == [new_id]

        # A forged share: another key, with its own valid commitment and the GP's signature.
        forged = wrap_for(gp, case_id, generate_case_key(), new)
        assert await error_of(gp.api.post(keys_url, {"case_keys": [forged]})) == (
            422,
            "case_key_mismatch",
        )
        # The right key but for another epoch, or signed by someone else than the caller.
        key = await gp.case_key(case_id)
        wrong_epoch = wrap_for(gp, case_id, key, new, epoch=1)
        assert await error_of(gp.api.post(keys_url, {"case_keys": [wrong_epoch]})) == (
            422,
            "validation_failed",
        )
        by_gp = wrap_for(gp, case_id, key, new)
        assert await error_of(derm.api.post(keys_url, {"case_keys": [by_gp]})) == (
            422,
            "validation_failed",
        )
        # Recipients: already a participant (409), not a dermatologist of the service (422).
        again = wrap_for(gp, case_id, key, derm)
        assert await error_of(gp.api.post(keys_url, {"case_keys": [again]})) == (
            409,
            "conflict",
        )
        gp2 = (
            await live.person(
                await w.admin.client.invite(w.practice_id, "gp"), "gp2@example.org", "gp2"
            )
        ).client
        to_gp2 = wrap_for(gp, case_id, key, gp2)
        assert await error_of(gp.api.post(keys_url, {"case_keys": [to_gp2]})) == (
            422,
            "validation_failed",
        )
        # A colleague of the practice who is not a participant has nothing to share.
        assert await error_of(gp2.api.post(keys_url, {"case_keys": [by_gp]})) == (
            403,
            "forbidden",
        )
        assert await error_of(new.api.get(f"/api/v1/cases/{case_id}")) == (403, "forbidden")

        # The addressed dermatologist (not the creator) shares; the newcomer is told at once.
        rt = await new.connect_realtime()
        assert await derm.share_case_key(case_id) == [new_id]
        event = await asyncio.wait_for(rt.case_events.get(), 10)
        assert event["case_id"] == case_id
        assert await derm.colleagues_without_key(case_id) == []
        assert await gp.share_case_key(case_id) == []  # nobody lacks it now
        # A retry of the same share: the newcomer participates already.
        assert await error_of(gp.api.post(keys_url, {"case_keys": [by_gp]})) == (409, "conflict")

        detail = await new.get_case(case_id)
        shared = {p["user_id"]: p["role"] for p in detail["participants"]}
        assert shared[new_id] == "dermatologist"
        assert detail["case"]["key_epoch"] == 0
        assert await new.case_key(case_id) == key
        await new.move(case_id, "claim")
        ctype, history = await new.open((await new.messages(case_id))[0])
        assert ctype is ContentType.CLINICAL_HISTORY
        assert {k: v for k, v in history.items() if k != "v"} == HISTORY
        [photo] = await new.photos(case_id)
        assert await new.download_photo(case_id, photo.reference) == PHOTO
        await new.post_message(case_id, ContentType.TEXT, {"text": "seen; booking clinic"})
        _ctype, body = await gp.open((await gp.messages(case_id, after_seq=2))[0])
        assert body["text"] == "seen; booking clinic"

        audit = [
            e.event for e in await live.store.list_audit() if e.event.action == "case.keys_shared"
        ]
        assert len(audit) == 1
        assert audit[0].actor_id == w.derm.user_id
        assert audit[0].target == case_id
        assert json.loads(audit[0].detail) == {"added": [new_id]}


async def test_closed_case_foreign_and_keyless_callers(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp = w.gp.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await w.derm.client.move(case_id, "claim")
        await w.derm.client.close_case(case_id, "advice_and_guidance", "emollients")
        keys_url = f"/api/v1/cases/{case_id}/keys"
        new = await newcomer(live, w, "later")
        key = await gp.case_key(case_id)
        body = {"case_keys": [wrap_for(gp, case_id, key, new)]}

        # A GP of another practice: exactly the answer of a case that does not exist.
        admin = w.admin.client
        oak = await admin.create_organisation("practice", "Oak Surgery")
        xgp = (
            await live.person(await admin.invite(oak["org_id"], "gp"), "x@example.org", "x")
        ).client
        assert await error_of(xgp.api.post(keys_url, body)) == (404, "not_found")
        missing = f"/api/v1/cases/{uuid.uuid4()}/keys"
        assert await error_of(gp.api.post(missing, body)) == (404, "not_found")

        # A participant without a wrap (not something the API makes; put in storage here).
        keyless = await newcomer(live, w, "keyless")
        assert keyless.identity is not None
        await live.store.add_participants_with_keys(
            [
                storage.Participant(
                    case_id, keyless.identity.user_id, storage.Role.DERMATOLOGIST, live.clock.now()
                )
            ],
            [],
        )
        with pytest.raises(RuntimeError, match="no case key"):
            await keyless.share_case_key(case_id)  # the client has no key of its own to open
        own = {"case_keys": [wrap_for(keyless, case_id, generate_case_key(), new)]}
        assert await error_of(keyless.api.post(keys_url, own)) == (403, "forbidden")

        # A closed case may still be shared: the newcomer can read it for follow-up.
        assert new.identity is not None
        assert await gp.share_case_key(case_id) == [new.identity.user_id]
        coded, content = await new.outcome(case_id)
        assert coded["category"] == "advice_and_guidance"
        assert content["summary"] == "emollients"
