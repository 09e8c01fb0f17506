"""Python side of ``scripts/e2e-retention.mjs`` (records retention in the browser).

``setup URL TOKEN``: with the Python client, the first administrator (from the setup token),
a practice with a records key, a service, a GP, a dermatologist and the practice's records
officer; the GP opens a case (an adult's: born 1970), the dermatologist claims and closes it,
sending the retention date worked out from the date of birth. Prints JSON for the browser.
``check URL JSON``: the records officer signs in (with the recovery code that the JSON's
``use_code`` names, so no TOTP time step is shared with the browser) and reads, through the
API, the case's retention, the practice's minimum and legal holds; prints them as JSON (what
the browser did is checked against the server, not against the page).
"""

from __future__ import annotations

from typing import Any

from e2e_world import history, main, member, organisations

from client_py.client import DermlineClient

HISTORY = history("E2E Patient", "Retention: is this eczema?")


async def setup(url: str, token: str) -> dict[str, Any]:
    admin, _, practice, service = await organisations(url, token)
    gp, _ = await member(url, admin, practice, "gp", "gp@example.org", "Dr Gee")
    derm, _ = await member(url, admin, service, "dermatologist", "derm@example.org", "Dr Derm")
    officer, officer_creds = await member(
        url,
        admin,
        practice,
        "records_officer",
        "records@example.org",
        "Rhea Records",
        recovery_codes=True,
    )
    case_id = await gp.create_case(practice["org_id"], service["org_id"], HISTORY)
    await derm.move(case_id, "claim")
    closed = await derm.close_case(
        case_id,
        "advice_and_guidance",
        "emollients twice a day",
        date_of_birth=HISTORY["patient"]["date_of_birth"],
    )
    assert closed["state"] == "closed", closed
    for c in (admin, gp, derm, officer):
        await c.close()
    return {"case_id": case_id, "practice_id": practice["org_id"], "officer": officer_creds}


async def check(url: str, world: dict[str, Any]) -> dict[str, Any]:
    officer = world["officer"]
    c = DermlineClient(url, origin=url)
    try:
        recovery = officer["recovery_codes"][world["use_code"]]
        await c.login(officer["login"], officer["password"], recovery_code=recovery)
        case = await c.api.get(f"/api/v1/cases/{world['case_id']}/retention")
        minimum = await c.api.get(f"/api/v1/orgs/{world['practice_id']}/retention")
        holds = await c.api.get(f"/api/v1/orgs/{world['practice_id']}/legal-holds")
    finally:
        await c.close()
    return {"case": case, "minimum": minimum, "holds": holds["holds"]}


if __name__ == "__main__":
    main(setup=setup, check=check)
