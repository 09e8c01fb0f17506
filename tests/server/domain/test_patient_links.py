"""Patient photo links against the domain services: who makes them, one answer for every
unusable token, single use, and the case room being told."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest

import storage
from crypto import patient_drop
from crypto.account import generate_key_pair
from crypto.attachment import attachment_length
from server.domain.patient_links import link_status
from server.domain.policy import CaseAction
from server.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    LinkInvalid,
    NotFound,
)
from tests.server.domain.world import Clinic

DAY = dt.timedelta(days=1)
BOX = generate_key_pair()


def record(link_id: str, index: int) -> bytes:
    photo = patient_drop.PatientPhoto(
        attachment_id=uuid.uuid4(),
        file_key=os.urandom(32),
        ciphertext_sha256=bytes(32),
        ciphertext_size=100,
        media_type="image/jpeg",
        tag="close_up",
        body_site="left forearm",
    )
    return patient_drop.seal_patient_photo(
        photo, link_id=uuid.UUID(link_id), index=index, drop_box_public_key=BOX.public_key
    )


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_only_the_referring_gp_makes_a_link_while_the_case_is_open(cast: Clinic) -> None:
    w = cast.world
    links = w.services.patient_links
    case = await cast.case()
    with pytest.raises(Forbidden):
        await links.create(cast.derm.actor, case.case_id, ttl=DAY, max_photos=3, client=None)
    for ttl, photos in ((dt.timedelta(minutes=5), 3), (DAY, 0), (DAY * 4, 3), (DAY, 11)):
        with pytest.raises(InvalidInput):
            await links.create(cast.gp.actor, case.case_id, ttl=ttl, max_photos=photos, client=None)
    made = await links.create(cast.gp.actor, case.case_id, ttl=DAY, max_photos=3, client=None)
    assert len(made.token) == 32 and made.link.token_hash != made.token
    assert link_status(made.link, w.clock.now()) == "active"
    await w.services.cases.move(cast.gp.actor, case.case_id, CaseAction.WITHDRAW, None)
    with pytest.raises(InvalidTransition):
        await links.create(cast.gp.actor, case.case_id, ttl=DAY, max_photos=3, client=None)
    # The case is no longer open: the link answers like any unusable one.
    with pytest.raises(LinkInvalid):
        await links.open(made.token, "addr", None)


async def test_every_unusable_token_gets_one_answer_and_is_audited(cast: Clinic) -> None:
    w = cast.world
    links = w.services.patient_links
    case = await cast.case()
    revoked = await links.create(cast.gp.actor, case.case_id, ttl=DAY, max_photos=1, client=None)
    await links.revoke(cast.gp.actor, case.case_id, revoked.link.link_id, None)
    expiring = await links.create(
        cast.gp.actor, case.case_id, ttl=dt.timedelta(minutes=15), max_photos=1, client=None
    )
    w.clock.advance(15 * 60)
    for token in (b"", os.urandom(32), revoked.token, expiring.token):
        with pytest.raises(LinkInvalid):
            await links.open(token, "addr", None)
    refused = [
        e.event for e in await w.store.list_audit() if e.event.action == "patient_link.refused"
    ]
    assert [e.target for e in refused] == [None, None, revoked.link.link_id, expiring.link.link_id]
    # Never the token, in any spelling.
    spellings = (revoked.token.hex(), base64.urlsafe_b64encode(revoked.token).decode()[:43])
    assert not any(s in repr(e) for e in refused for s in spellings)
    assert all(revoked.token not in e.detail for e in refused)
    assert link_status(await w.store.get_patient_link(expiring.link.link_id), w.clock.now()) == (
        "expired"
    )


async def test_a_link_takes_its_photos_once_and_tells_the_case_room(cast: Clinic) -> None:
    w = cast.world
    links = w.services.patient_links
    told: list[tuple[str, str]] = []

    async def listener(case: storage.Case, link: storage.PatientLink) -> None:
        told.append((case.case_id, link.link_id))

    links.on_patient_photos = listener
    case = await cast.case()
    made = await links.create(cast.gp.actor, case.case_id, ttl=DAY, max_photos=2, client=None)
    link_id = made.link.link_id
    view = await links.open(made.token, "addr", None)
    assert (view.link_id, view.max_photos) == (link_id, 2)
    body = os.urandom(attachment_length(10))
    stored = await links.upload(
        made.token,
        str(uuid.uuid4()),
        hashlib.sha256(body).digest(),
        chunks(body),
        declared_length=len(body),
        max_size=1 << 20,
        rate_key="addr",
        client=None,
    )
    assert stored.created and stored.attachment.uploader_id == link_id
    for bad in (
        [record(link_id, 0), record(link_id, 0)],  # not numbered 0, 1
        [record(str(uuid.uuid4()), 0)],  # made for another link
        [b"not a record"],
        [record(link_id, i) for i in range(3)],  # more than the link takes
    ):
        with pytest.raises(InvalidInput):
            await links.submit(made.token, bad, "addr", None)
    used = await links.submit(made.token, [record(link_id, 0), record(link_id, 1)], "addr", None)
    assert used.used_at == w.clock.now() and told == [(case.case_id, link_id)]
    with pytest.raises(LinkInvalid):
        await links.submit(made.token, [record(link_id, 0)], "addr", None)
    with pytest.raises(Conflict):  # a used link cannot be revoked
        await links.revoke(cast.gp.actor, case.case_id, link_id, None)
    # Whoever may view the case reads what came; strangers learn nothing.
    link, records = await links.submission(cast.derm2.actor, case.case_id, link_id, None)
    assert link_status(link, w.clock.now()) == "used" and len(records) == 2
    with pytest.raises(NotFound):
        await links.submission(cast.stranger.actor, case.case_id, link_id, None)
