"""Messages, removals and epochs over HTTP and Socket.IO against the real app (SQLite, and
PostgreSQL when configured), with real keys: forged signatures, the legacy envelope, another
case in the header, wrong and stale epochs, a replayed client id, missing and extra wraps,
wraps for a removed person, concurrent rotations, and a removed person's real keys against
the next epoch (docs/protocol.md sections 22-24, docs/api.md "Removals and epochs")."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from client_py.api import ApiError, b64d, b64e
from client_py.client import DermlineClient
from crypto.account import generate_key_pair
from crypto.case_key import generate_case_key, open_case_key_wrap, wrap_case_key
from crypto.content import ContentType, encode_content
from crypto.envelope import (
    GENESIS_HASH,
    open_message,
    seal_legacy_message_from_parts,
    seal_message,
)
from crypto.errors import CryptoError
from tests.samples import HISTORY
from tests.server.harness import BACKENDS, Live, World, live_server, make_world

V1 = "/api/v1"


async def raw(c: DermlineClient, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """The status and the whole JSON answer (the client raises on errors and drops fields)."""
    headers = {"Origin": "http://dermline.test"}
    if c.api.csrf_token:
        headers["X-CSRF-Token"] = c.api.csrf_token
    async with c.api.session.request(
        method, c.api.base_url + path, json=body, headers=headers
    ) as r:
        return r.status, (None if r.status == 204 else await r.json())


async def code_of(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as info:
        await call
    return info.value.status, info.value.code


def seal(
    c: DermlineClient,
    case_id: str,
    key: bytes,
    *,
    epoch: int = 0,
    text: str = "hello",
    msg_id: str | None = None,
    for_case: str | None = None,
    signing: Any = None,
) -> tuple[str, str]:
    assert c.identity is not None
    msg_id = msg_id or str(uuid.uuid4())
    envelope = seal_message(
        encode_content(ContentType.TEXT, {"text": text}),
        case_key=key,
        case_id=uuid.UUID(for_case or case_id),
        epoch=epoch,
        client_message_id=uuid.UUID(msg_id),
        sender_user_id=uuid.UUID(c.identity.user_id),
        sender_signing_key=signing or c.identity.signing,
        content_type=ContentType.TEXT,
        previous_hash=GENESIS_HASH,
    )
    return msg_id, b64e(envelope)


async def post(c: DermlineClient, case_id: str, msg: tuple[str, str]) -> Any:
    return await c.api.post(
        f"{V1}/cases/{case_id}/messages", {"client_msg_id": msg[0], "envelope": msg[1]}
    )


def wraps_for(
    by: DermlineClient,
    case_id: str,
    key: bytes,
    epoch: int,
    people: list[DermlineClient],
    records: dict[str, bytes],
) -> list[dict[str, str]]:
    assert by.identity is not None

    def wrap(public: bytes) -> str:
        assert by.identity is not None
        return b64e(
            wrap_case_key(
                key,
                case_id=uuid.UUID(case_id),
                epoch=epoch,
                recipient_public_key=public,
                wrapper_user_id=uuid.UUID(by.identity.user_id),
                wrapper_signing_key=by.identity.signing,
            )
        )

    out = []
    for p in people:
        assert p.identity is not None
        out.append(
            {
                "recipient_kind": "user",
                "recipient_id": p.identity.user_id,
                "wrapped_key": wrap(p.identity.encryption.public_key),
            }
        )
    for org_id, public in records.items():
        out.append(
            {"recipient_kind": "organisation", "recipient_id": org_id, "wrapped_key": wrap(public)}
        )
    return out


async def setup(live: Live) -> tuple[World, DermlineClient, DermlineClient, DermlineClient, str]:
    """The world, with a second addressed dermatologist, and a case of the GP with history."""
    w = await make_world(live)
    token = await w.admin.client.invite(w.service_id, "dermatologist")
    derm2 = (await live.person(token, "derm2@example.org", "Dr Two")).client
    case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
    return w, w.gp.client, w.derm.client, derm2, case_id


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_server_refuses_bad_messages(tmp_path: Path, backend: str) -> None:
    async with live_server(tmp_path, backend) as live:
        w, gp, derm, _derm2, case_id = await setup(live)
        key = await gp.case_key(case_id)
        other_case = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        forged = seal(gp, case_id, key, signing=generate_key_pair())
        assert await code_of(post(gp, case_id, forged)) == (422, "signature_invalid")
        assert derm.identity is not None
        by_derm = seal(gp, case_id, key, signing=derm.identity.signing)
        assert await code_of(post(gp, case_id, by_derm)) == (422, "signature_invalid")
        wrong_case = seal(gp, case_id, key, for_case=other_case)
        assert await code_of(post(gp, case_id, wrong_case)) == (422, "validation_failed")
        future = seal(gp, case_id, key, epoch=1)
        assert await code_of(post(gp, case_id, future)) == (422, "validation_failed")
        # A replayed client id: the same message again is idempotent, another one is refused.
        good = seal(gp, case_id, key)
        first = await post(gp, case_id, good)
        assert (await post(gp, case_id, good)) == {"seq": first["seq"], "duplicate": True}
        other = seal(gp, case_id, key, msg_id=good[0], text="something else")
        assert (await post(gp, case_id, other))["duplicate"] is True  # stored one answered
        stored = [m for m in await gp.messages(case_id) if m["client_msg_id"] == good[0]]
        assert [m["envelope"] for m in stored] == [good[1]]
        # Socket.IO: the same checks, the same codes.
        rt = await gp.connect_realtime()
        answer = await rt.sio.call(
            "send", {"case_id": case_id, "client_msg_id": forged[0], "envelope": forged[1]}
        )
        assert answer["error"]["code"] == "signature_invalid"
        # The legacy envelope (0x07), properly signed: outdated, over both transports.
        assert gp.identity is not None
        legacy_id = str(uuid.uuid4())
        legacy = seal_legacy_message_from_parts(
            encode_content(ContentType.TEXT, {"text": "old app"}),
            case_key=key,
            case_id=uuid.UUID(case_id),
            epoch=0,
            client_message_id=uuid.UUID(legacy_id),
            sender_user_id=uuid.UUID(gp.identity.user_id),
            sender_signing_key=gp.identity.signing,
            content_type=ContentType.TEXT,
            timestamp_ms=1_700_000_000_000,
            previous_hash=GENESIS_HASH,
            nonce=bytes(12),
        )
        assert await code_of(post(gp, case_id, (legacy_id, b64e(legacy)))) == (
            422,
            "envelope_outdated",
        )
        answer = await rt.sio.call(
            "send", {"case_id": case_id, "client_msg_id": legacy_id, "envelope": b64e(legacy)}
        )
        assert answer["error"]["code"] == "envelope_outdated"
        assert [m["client_msg_id"] for m in await gp.messages(case_id)].count(forged[0]) == 0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_removal_rotation_and_the_removed_persons_real_keys(
    tmp_path: Path, backend: str
) -> None:
    async with live_server(tmp_path, backend) as live:
        w, gp, derm, derm2, case_id = await setup(live)
        assert derm2.identity is not None and gp.identity is not None
        d2 = derm2.identity.user_id
        # derm2 joined the service before the case: addressed, holds a wrap of epoch 0.
        detail = await gp.get_case(case_id)
        assert d2 in [p["user_id"] for p in detail["participants"]]
        old_key = await derm2.case_key(case_id)
        rt_derm2 = await derm2.connect_realtime()
        await rt_derm2.sync_case(case_id)

        # Who may remove: not derm2 (not the responder), not the GP themselves.
        remove = f"{V1}/cases/{case_id}/participants/{{}}/remove"
        assert await code_of(derm2.api.post(remove.format(gp.identity.user_id))) == (
            403,
            "forbidden",
        )
        assert await code_of(gp.api.post(remove.format(gp.identity.user_id))) == (
            403,
            "forbidden",
        )
        assert await gp.api.post(remove.format(d2)) is None
        assert await code_of(gp.api.post(remove.format(d2))) == (404, "not_found")
        detail = await gp.get_case(case_id)
        assert detail["rotation"] == {"next_epoch": 1, "removed": [d2]}
        assert detail["removed"] == [{"user_id": d2, "log": None}]
        assert d2 not in [p["user_id"] for p in detail["participants"]]
        # The removed person loses the case routes.
        assert await code_of(derm2.get_case(case_id)) == (403, "forbidden")
        assert await code_of(derm2.messages(case_id)) == (403, "forbidden")

        key0 = await gp.case_key(case_id)
        status, body = await raw(
            gp,
            "POST",
            f"{V1}/cases/{case_id}/messages",
            dict(zip(("client_msg_id", "envelope"), seal(gp, case_id, key0), strict=True)),
        )
        assert status == 409
        assert body["error"]["code"] == "key_rotation_required"
        assert (body["error"]["key_epoch"], body["error"]["next_epoch"]) == (0, 1)
        # The same refusal, with the same fields, in a Socket.IO acknowledgement.
        rt_gp = await gp.connect_realtime()
        msg_id, envelope = seal(gp, case_id, key0)
        answer = await rt_gp.sio.call(
            "send", {"case_id": case_id, "client_msg_id": msg_id, "envelope": envelope}
        )
        assert answer["ok"] is False
        assert answer["error"]["code"] == "key_rotation_required"
        assert (answer["error"]["key_epoch"], answer["error"]["next_epoch"]) == (0, 1)

        records = {w.practice_id: w.records_key.public_key}
        key1 = generate_case_key()
        good = wraps_for(gp, case_id, key1, 1, [gp, derm], records)
        epochs = f"{V1}/cases/{case_id}/epochs"
        bad_sets = {
            "missing": good[1:],
            "removed": good + wraps_for(gp, case_id, key1, 1, [derm2], {}),
            "no records key": good[:-1],
        }
        for name, wraps in bad_sets.items():
            err = await code_of(gp.api.post(epochs, {"epoch": 1, "case_keys": wraps}))
            assert err == (422, "wrap_recipients"), name
        status, body = await raw(gp, "POST", epochs, {"epoch": 2, "case_keys": good})
        assert (status, body["error"]["code"], body["error"]["key_epoch"]) == (
            409,
            "epoch_conflict",
            0,
        )
        assert await code_of(derm2.api.post(epochs, {"epoch": 1, "case_keys": good})) == (
            403,
            "forbidden",
        )

        # Two participants rotate at once: exactly one wins.
        derm_wraps = wraps_for(derm, case_id, generate_case_key(), 1, [gp, derm], records)
        results = await asyncio.gather(
            gp.api.post(epochs, {"epoch": 1, "case_keys": good}),
            derm.api.post(epochs, {"epoch": 1, "case_keys": derm_wraps}),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, dict)]
        lost = [r for r in results if isinstance(r, ApiError)]
        assert len(won) == 1 and [(e.status, e.code) for e in lost] == [(409, "epoch_conflict")]
        assert won[0]["rotation"] is None and won[0]["case"]["key_epoch"] == 1
        winner_key = key1 if results[0] is won[0] else None
        mine = [k for k in won[0]["case_keys"] if k["epoch"] == 1]
        assert len(mine) == 1

        # The GP sends at epoch 1 with the winning key.
        gp_view = await gp.get_case(case_id)
        [gp_wrap] = [
            k for k in gp_view["case_keys"] if k["epoch"] == 1 and k["recipient_kind"] == "user"
        ]
        wrapper = {p["user_id"]: p for p in gp_view["participants"]}
        new_key = None
        for signer in (gp, derm):
            assert signer.identity is not None
            try:
                new_key = open_case_key_wrap(
                    b64d(gp_wrap["wrapped_key"]),
                    case_id=uuid.UUID(case_id),
                    epoch=1,
                    recipient=gp.identity.encryption,
                    wrapper_signing_public_key=signer.identity.signing.public_key,
                )
                break
            except CryptoError:
                continue
        assert new_key is not None and wrapper
        if winner_key is not None:
            assert new_key == winner_key
        secret = seal(gp, case_id, new_key, epoch=1, text="after the change of members")
        await post(gp, case_id, secret)
        stale = seal(gp, case_id, key0, epoch=0)
        assert await code_of(post(gp, case_id, stale)) == (409, "stale_epoch")
        answer = await rt_gp.sio.call(
            "send", {"case_id": case_id, "client_msg_id": stale[0], "envelope": stale[1]}
        )
        assert (answer["error"]["code"], answer["error"]["key_epoch"]) == ("stale_epoch", 1)

        # The removed person: their real old key does not open it, no epoch-1 wrap of
        # theirs exists, and they heard nothing of it live.
        with pytest.raises(CryptoError):
            open_message(
                b64d(secret[1]),
                case_key=old_key,
                case_id=uuid.UUID(case_id),
                epoch=1,
                sender_signing_public_key=gp.identity.signing.public_key,
            )
        assert await code_of(derm2.case_key(case_id, epoch=1)) == (403, "forbidden")
        await asyncio.sleep(0.3)
        heard = []
        while not rt_derm2.messages.empty():
            heard.append(rt_derm2.messages.get_nowait()["client_msg_id"])
        assert secret[0] not in heard


@pytest.mark.parametrize("backend", BACKENDS)
async def test_disabling_an_account_marks_its_cases(tmp_path: Path, backend: str) -> None:
    async with live_server(tmp_path, backend) as live:
        w, gp, derm, _derm2, case_id = await setup(live)
        assert derm.identity is not None and w.admin.client.identity is not None
        admin = w.admin.client
        assert await code_of(admin.api.post(f"{V1}/users/{admin.identity.user_id}/disable")) == (
            403,
            "forbidden",
        )
        out = await admin.api.post(f"{V1}/users/{derm.identity.user_id}/disable")
        assert out["disabled"] is True
        detail = await gp.get_case(case_id)
        assert detail["rotation"] == {"next_epoch": 1, "removed": [derm.identity.user_id]}
        assert await code_of(derm.my_cases()) == (401, "unauthenticated")  # signed out
        # A role removal by a non-admin is refused; by the admin it marks the GP's cases.
        role = f"{V1}/orgs/{w.practice_id}/users/{gp.identity.user_id}/remove-role"
        assert await code_of(gp.api.post(role, {"role": "gp"})) == (403, "forbidden")
        out = await admin.api.post(role, {"role": "gp"})
        assert out["memberships"] == []
        assert await code_of(admin.api.post(role, {"role": "gp"})) == (404, "not_found")
