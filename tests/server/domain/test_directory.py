"""Who sees which organisations and members (``server.domain.directory``)."""

from __future__ import annotations

import pytest

from server.errors import NotFound
from storage import Membership, Role
from tests.server.domain.world import Clinic


async def test_everyone_sees_the_services_and_their_own_organisations(cast: Clinic) -> None:
    directory = cast.world.services.directory
    seen = {o.org_id for o in await directory.visible_organisations(cast.gp.actor)}
    assert seen == {cast.practice.org_id, cast.service.org_id}
    seen = {o.org_id for o in await directory.visible_organisations(cast.stranger.actor)}
    assert seen == {cast.other_practice.org_id, cast.service.org_id}


async def test_outsiders_see_a_services_dermatologists_and_that_membership_only(
    cast: Clinic,
) -> None:
    w = cast.world
    directory = w.services.directory
    await w.member(cast.service.org_id, Role.AUDITOR, "auditor")
    # derm2 also works in a practice: outsiders must not learn that.
    await w.store.add_membership(cast.derm2.user_id, Membership(cast.practice.org_id, Role.GP))
    outside = await directory.visible_members(cast.stranger.actor, cast.service.org_id)
    assert outside.org == cast.service
    assert {u.user_id for u in outside.members} == {cast.derm.user_id, cast.derm2.user_id}
    for u in outside.members:
        assert u.memberships == (Membership(cast.service.org_id, Role.DERMATOLOGIST),)
    inside = await directory.visible_members(cast.derm.actor, cast.service.org_id)
    names = {u.display_name for u in inside.members}
    assert names == {"derm", "derm2", "auditor"}
    derm2 = next(u for u in inside.members if u.user_id == cast.derm2.user_id)
    assert len(derm2.memberships) == 2


async def test_another_practice_is_not_found(cast: Clinic) -> None:
    directory = cast.world.services.directory
    for org_id in (cast.practice.org_id, "no-such-org", "bad id!"):
        with pytest.raises(NotFound):
            await directory.visible_members(cast.stranger.actor, org_id)
    mine = await directory.visible_members(cast.gp.actor, cast.practice.org_id)
    assert [u.user_id for u in mine.members] == [cast.gp.user_id]
