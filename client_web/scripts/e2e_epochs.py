"""Python side of ``scripts/e2e-epochs.mjs`` (a removal and the new key epoch in the browser).

``setup URL TOKEN``: the first administrator, a practice with a records key, a service, a GP
and two dermatologists; the GP opens a case addressed to both, the first dermatologist claims
it. Prints JSON for the browser and the check.

``check URL JSON``: after the GP took the second dermatologist off the case in the browser
(which made epoch 1 there) and sent a message: the case is at epoch 1 with no rotation
pending; the first dermatologist opens its epoch-1 wrap and decrypts the GP's message (the
server accepted the epoch only with a wrap for the practice records key too); the removed
dermatologist is refused the case, and with their REAL private key no epoch-1 wrap opens.
Prints ``ok``.
"""

from __future__ import annotations

import uuid
from typing import Any

from e2e_world import history, main, member, organisations, signed_in

from client_py.api import b64d
from crypto.case_key import open_case_key_wrap, parse_case_key_wrap_header
from crypto.content import ContentType, decode_content
from crypto.envelope import open_message, parse_message_header
from crypto.errors import CaseKeyUnwrapError

HISTORY = history("Epoch Patient", "Epochs: is this a melanoma?")


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, _, practice, service = await organisations(url, token)
    gp, gp_creds = await member(url, admin, practice, "gp", "gp@example.org", "Dr Gee")
    one, one_creds = await member(url, admin, service, "dermatologist", "one@example.org", "Dr One")
    two, two_creds = await member(url, admin, service, "dermatologist", "two@example.org", "Dr Two")
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    await one.move(case_id, "claim")
    for c in (admin, gp, one, two):
        await c.close()
    return {
        "case_id": case_id,
        "practice_id": practice["org_id"],
        "gp": gp_creds,
        "one": one_creds,
        "two": two_creds,
    }


async def check(url: str, world: dict[str, Any]) -> str:
    case_id = world["case_id"]
    cid = uuid.UUID(case_id)
    one = await signed_in(url, world["one"])
    two = await signed_in(url, world["two"])
    try:
        detail = await one.get_case(case_id)
        assert detail["case"]["key_epoch"] == 1, detail["case"]
        assert detail["rotation"] is None, detail["rotation"]
        names = {p["display_name"] for p in detail["participants"]}
        assert names == {"Dr Gee", "Dr One"}, names
        gp_id = next(p["user_id"] for p in detail["participants"] if p["role"] == "gp")
        gp_signing = b64d(
            next(p["signing_public_key"] for p in detail["participants"] if p["user_id"] == gp_id)
        )
        # The remaining dermatologist reads the GP's epoch-1 message with the epoch-1 key.
        key1 = await one.case_key(case_id, epoch=1)
        last = (await one.messages(case_id))[-1]
        record = b64d(last["envelope"])
        assert parse_message_header(record).epoch == 1
        opened = open_message(
            record, case_key=key1, case_id=cid, epoch=1, sender_signing_public_key=gp_signing
        )
        body = decode_content(opened.header.content_type, opened.body)
        assert opened.header.content_type is ContentType.TEXT
        assert body["text"] == "After the removal: only Dr One can read this.", body
        # Dr One sees only their own wraps; the server accepted the epoch only with a wrap for
        # every remaining participant and the practice records key (wrap_recipients).
        wraps = [k for k in detail["case_keys"] if k["epoch"] == 1]
        # The removed dermatologist: refused the case, and their real key opens no epoch-1 wrap.
        try:
            await two.get_case(case_id)
        except Exception as e:  # the client's ApiError
            assert "403" in str(e) or "forbidden" in str(e), e
        else:
            raise AssertionError("the removed dermatologist can still read the case")
        me_two = two._me()
        assert all(
            parse_case_key_wrap_header(b64d(k["wrapped_key"])).recipient_key_id
            != me_two.encryption.key_id
            for k in wraps
        )
        for k in wraps:
            try:
                open_case_key_wrap(
                    b64d(k["wrapped_key"]),
                    case_id=cid,
                    epoch=1,
                    recipient=me_two.encryption,
                    wrapper_signing_public_key=gp_signing,
                )
            except CaseKeyUnwrapError:
                continue
            raise AssertionError("the removed dermatologist opened an epoch-1 wrap")
    finally:
        await one.close()
        await two.close()
    return "ok"


if __name__ == "__main__":
    main(setup=setup, check=check)
