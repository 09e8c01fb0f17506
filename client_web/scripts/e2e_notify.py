"""Python side of ``scripts/e2e-notify.mjs`` (notifications and sign-in throttling).

``setup URL TOKEN``: the first administrator, a practice, a service, a GP, a second GP (for
the throttling step) and a dermatologist; the GP opens a case and the dermatologist claims
it. Prints JSON for the browser.
``reply URL JSON``: the dermatologist asks the GP a question in that case. Prints ``ok``.
"""

from __future__ import annotations

from typing import Any

from e2e_world import history, main, member, organisations, signed_in

from crypto.content import ContentType

HISTORY = history("Notify Patient", "Notify test: is this a melanoma?")


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, _, practice, service = await organisations(url, token)
    gp, gp_creds = await member(url, admin, practice, "gp", "gp@example.org", "Dr Gee")
    gp2, gp2_creds = await member(url, admin, practice, "gp", "gp2@example.org", "Dr Two")
    derm, derm_creds = await member(
        url, admin, service, "dermatologist", "derm@example.org", "Dr Derm"
    )
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    await derm.move(case_id, "claim")
    for c in (admin, gp, gp2, derm):
        await c.close()
    return {"case_id": case_id, "gp": gp_creds, "gp2": gp2_creds, "derm": derm_creds}


async def reply(url: str, world: dict[str, Any]) -> str:
    c = await signed_in(url, world["derm"])
    try:
        await c.move(world["case_id"], "ask", ContentType.QUESTION, {"text": "How big is it now?"})
    finally:
        await c.close()
    return "ok"


if __name__ == "__main__":
    main(setup=setup, reply=reply)
