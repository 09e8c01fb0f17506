"""Python side of ``scripts/e2e-share.mjs`` (sharing the case key in the browser).

``setup URL TOKEN``: with the Python client, the first administrator (from the setup token),
a practice with a records key, a service, a GP and a dermatologist; the GP opens a case; then
a second dermatologist joins the service (so lacks the key). Prints JSON for the browser.
``check URL JSON``: the late dermatologist signs in, opens the case key, decrypts the
clinical history and claims the case. Prints ``ok``.
"""

from __future__ import annotations

from typing import Any

from e2e_world import history, main, member, organisations, signed_in

from crypto.content import ContentType

HISTORY = history("E2E Patient", "Shared later: is this a melanoma?")


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, _, practice, service = await organisations(url, token)
    gp, gp_creds = await member(url, admin, practice, "gp", "gp@example.org", "Dr Gee")
    derm, _ = await member(url, admin, service, "dermatologist", "derm@example.org", "Dr Derm")
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    late, late_creds = await member(
        url, admin, service, "dermatologist", "late@example.org", "Dr Late"
    )
    for c in (admin, gp, derm, late):
        await c.close()
    return {"case_id": case_id, "gp": gp_creds, "late": late_creds}


async def check(url: str, world: dict[str, Any]) -> str:
    c = await signed_in(url, world["late"])
    try:
        case_id = world["case_id"]
        ctype, history = await c.open((await c.messages(case_id))[0])
        assert ctype is ContentType.CLINICAL_HISTORY, ctype
        assert history["question"] == HISTORY["question"], "history not decrypted"
        assert (await c.move(case_id, "claim"))["state"] == "in_review"
        assert await c.colleagues_without_key(case_id) == []
    finally:
        await c.close()
    return "ok"


if __name__ == "__main__":
    main(setup=setup, check=check)
