"""Contract suite: patient photo links (docs/protocol.md section 17).

Runs on SQLite and, with DERMLINE_TEST_POSTGRES_DSN, on PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib

import pytest

from storage import Conflict, InvalidArgument, NotFound, PatientLink, Storage
from tests.storage.conftest import T0, make_case, make_world

H = dt.timedelta(hours=1)


def link(n: int = 1, case_id: str = "c1", created_by: str = "") -> PatientLink:
    return PatientLink(
        link_id=f"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a{n:02d}",
        case_id=case_id,
        token_hash=hashlib.sha256(b"token-%d" % n).digest(),
        created_by=created_by,
        created_at=T0,
        expires_at=T0 + 24 * H,
        max_photos=3,
    )


async def setup(store: Storage) -> PatientLink:
    w = await make_world(store)
    await make_case(store, "c1")
    return await store.create_patient_link(link(created_by=w.gp))


async def test_create_get_find_list(store: Storage) -> None:
    made = await setup(store)
    assert made.uploads == 0 and made.used_at is None and made.revoked_at is None
    assert await store.get_patient_link(made.link_id) == made
    assert await store.find_patient_link(made.token_hash) == made
    second = await store.create_patient_link(
        dataclasses.replace(link(2, created_by=made.created_by), created_at=T0 + H)
    )
    assert [x.link_id for x in await store.list_patient_links("c1")] == [
        second.link_id,
        made.link_id,
    ]
    assert await store.list_patient_links("other") == []
    with pytest.raises(NotFound):
        await store.get_patient_link("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4aff")
    with pytest.raises(NotFound):
        await store.find_patient_link(hashlib.sha256(b"nope").digest())
    assert await store.get_patient_submission(made.link_id) == []


async def test_create_refuses_duplicates_and_bad_input(store: Storage) -> None:
    made = await setup(store)
    with pytest.raises(Conflict):
        await store.create_patient_link(made)
    with pytest.raises(Conflict):  # same token hash, new id
        await store.create_patient_link(dataclasses.replace(made, link_id=link(5).link_id))
    with pytest.raises(NotFound):
        await store.create_patient_link(dataclasses.replace(link(3, "nocase", made.created_by)))
    for bad in (
        dataclasses.replace(link(4, created_by=made.created_by), token_hash=b"short"),
        dataclasses.replace(link(4, created_by=made.created_by), max_photos=0),
        dataclasses.replace(link(4, created_by=made.created_by), max_photos=101),
        dataclasses.replace(link(4, created_by=made.created_by), link_id="bad id!"),
    ):
        with pytest.raises(InvalidArgument):
            await store.create_patient_link(bad)
    with pytest.raises(InvalidArgument):
        await store.create_patient_link("link")  # type: ignore[arg-type]


async def test_uploads_are_counted_up_to_the_limit(store: Storage) -> None:
    made = await setup(store)
    for expected in (1, 2):
        got = await store.count_patient_upload(made.link_id, T0 + H, 2)
        assert got.uploads == expected
    with pytest.raises(Conflict, match="patient_link_full"):
        await store.count_patient_upload(made.link_id, T0 + H, 2)
    with pytest.raises(NotFound):
        await store.count_patient_upload(link(9).link_id, T0, 2)


async def test_racing_uploads_never_pass_the_limit(store: Storage) -> None:
    made = await setup(store)
    results = await asyncio.gather(
        *(store.count_patient_upload(made.link_id, T0 + H, 5) for _ in range(12)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, PatientLink) for r in results) == 5
    assert all(isinstance(r, PatientLink | Conflict) for r in results)
    assert (await store.get_patient_link(made.link_id)).uploads == 5


async def test_submit_is_single_use_and_sealed_records_come_back(store: Storage) -> None:
    made = await setup(store)
    records = [b"\x01\x01\x0a" + bytes([i]) * 200 for i in range(3)]
    used = await store.submit_patient_link(made.link_id, records, T0 + H)
    assert used.used_at == T0 + H
    assert await store.get_patient_submission(made.link_id) == records
    with pytest.raises(Conflict, match="patient_link_invalid"):
        await store.submit_patient_link(made.link_id, records[:1], T0 + 2 * H)
    with pytest.raises(Conflict, match="patient_link_invalid"):
        await store.count_patient_upload(made.link_id, T0 + 2 * H, 10)
    with pytest.raises(Conflict, match="patient_link_used"):
        await store.revoke_patient_link(made.link_id, T0 + 2 * H)
    assert await store.get_patient_submission(made.link_id) == records


async def test_racing_submissions_one_wins(store: Storage) -> None:
    made = await setup(store)
    results = await asyncio.gather(
        *(store.submit_patient_link(made.link_id, [b"r%d" % i], T0 + H) for i in range(6)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, PatientLink)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, PatientLink))
    assert len(await store.get_patient_submission(made.link_id)) == 1


async def test_expired_and_revoked_links_take_nothing(store: Storage) -> None:
    made = await setup(store)
    late = made.expires_at
    with pytest.raises(Conflict, match="patient_link_invalid"):
        await store.count_patient_upload(made.link_id, late, 5)
    with pytest.raises(Conflict, match="patient_link_invalid"):
        await store.submit_patient_link(made.link_id, [b"r"], late)
    revoked = await store.revoke_patient_link(made.link_id, T0 + H)
    assert revoked.revoked_at == T0 + H
    again = await store.revoke_patient_link(made.link_id, T0 + 2 * H)
    assert again.revoked_at == T0 + H  # idempotent: the first time stays
    with pytest.raises(Conflict, match="patient_link_invalid"):
        await store.count_patient_upload(made.link_id, T0 + H, 5)
    with pytest.raises(Conflict, match="patient_link_invalid"):
        await store.submit_patient_link(made.link_id, [b"r"], T0 + H)
    with pytest.raises(NotFound):
        await store.revoke_patient_link(link(9).link_id, T0)
    with pytest.raises(NotFound):
        await store.submit_patient_link(link(9).link_id, [b"r"], T0)
    with pytest.raises(NotFound):
        await store.get_patient_submission(link(9).link_id)


async def test_submission_input_is_checked(store: Storage) -> None:
    made = await setup(store)
    for bad in ([], [b""], [b"x" * 70_001], [b"r"] * 101, b"records", ["text"]):
        with pytest.raises(InvalidArgument):
            await store.submit_patient_link(made.link_id, bad, T0 + H)  # type: ignore[arg-type]
    assert (await store.get_patient_link(made.link_id)).used_at is None
