"""Administration of people against the domain services."""

from __future__ import annotations

import pytest

from server.errors import AuthError, Forbidden, NotFound
from storage import Role
from tests.server.domain.world import Clinic


async def test_an_admin_resets_a_second_factor_and_ends_every_session(cast: Clinic) -> None:
    w = cast.world
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "padmin")
    token = (await w.enrol(cast.gp)).token
    await w.services.administration.reset_totp(admin.actor, cast.gp.user_id, None)
    with pytest.raises(AuthError):
        await w.services.sessions.authenticate(token)
    assert w.revoked == [cast.gp.user_id]
    step = await w.services.signin.login_password(cast.gp.login_name, cast.gp.auth_key, client="t")
    assert step.next == "enrol"
    audit = [e.event for e in await w.store.list_audit()]
    assert (audit[-2].action, audit[-2].actor_id) == ("totp.reset_by_admin", admin.user_id)


async def test_an_admin_revokes_a_users_sessions(cast: Clinic) -> None:
    w = cast.world
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "padmin")
    enrolled = await w.enrol(cast.gp)
    await w.sign_in(cast.gp, enrolled.secret)
    count = await w.services.administration.revoke_user_sessions(admin.actor, cast.gp.user_id, None)
    assert count == 2 and w.revoked == [cast.gp.user_id]
    with pytest.raises(AuthError):
        await w.services.sessions.authenticate(enrolled.token)


async def test_admins_act_on_their_own_organisations_people_only(cast: Clinic) -> None:
    w = cast.world
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "padmin")
    admin_svc = w.services.administration
    for target in (cast.derm.user_id, cast.stranger.user_id, "no-such-user", "bad id!"):
        with pytest.raises(NotFound):
            await admin_svc.reset_totp(admin.actor, target, None)
        with pytest.raises(NotFound):
            await admin_svc.revoke_user_sessions(admin.actor, target, None)
    with pytest.raises(NotFound):
        await admin_svc.reset_totp(cast.gp.actor, cast.derm.user_id, None)
    users = await admin_svc.list_users(admin.actor, cast.practice.org_id)
    assert {u.user_id for u in users} == {cast.gp.user_id, admin.user_id}
    with pytest.raises(Forbidden):
        await admin_svc.list_users(cast.gp.actor, cast.practice.org_id)
    with pytest.raises(NotFound):
        await admin_svc.list_users(admin.actor, cast.service.org_id)
    assert w.revoked == []
