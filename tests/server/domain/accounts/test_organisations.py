"""Organisations and invites against the domain services."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid

import pytest

from crypto.account import generate_account_keys
from crypto.password import encode_kdf_params, new_salt
from server.domain.accounts import InviteAcceptance, InviteStatus, hash_token
from server.errors import Conflict, Forbidden, InvalidInput, InviteInvalid, NotFound
from storage import OrgKind, Role
from tests.server.domain.world import Clinic, World


def acceptance(token: str, login: str) -> InviteAcceptance:
    keys = generate_account_keys()
    return InviteAcceptance(
        token=token,
        user_id=str(uuid.uuid4()),
        login_name=login,
        display_name="Someone",
        kdf_params=encode_kdf_params(new_salt()),
        auth_key=os.urandom(32),
        wrapped_usk=b"w",
        encryption_public_key=keys.encryption.public_key,
        signing_public_key=keys.signing.public_key,
        sealed_private_keys=b"s",
    )


async def test_an_invite_is_single_use_and_expires(cast: Clinic) -> None:
    w = cast.world
    orgs = w.services.organisations
    token, _ = await orgs.invite(None, cast.practice.org_id, Role.GP)
    await orgs.accept_invite(acceptance(token, "one@example.org"), None)
    with pytest.raises(InviteInvalid):
        await orgs.accept_invite(acceptance(token, "two@example.org"), None)
    late, _ = await orgs.invite(None, cast.practice.org_id, Role.GP)
    w.clock.advance(w.services.settings.invite_ttl)
    with pytest.raises(InviteInvalid):
        await orgs.inspect_invite(late)
    [summary] = [
        i
        for i in await orgs.list_invites(None, cast.practice.org_id)
        if i.invite.used_at is None and i.invite.created_by is None
    ]
    assert summary.status is InviteStatus.EXPIRED
    done = await orgs.revoke_invite(None, cast.practice.org_id, summary.invite_id, None)
    assert done.status is InviteStatus.REVOKED
    with pytest.raises(Conflict):
        await orgs.revoke_invite(None, cast.practice.org_id, summary.invite_id, None)


async def test_two_admins_cancelling_at_once_one_wins_one_is_told(cast: Clinic) -> None:
    w = cast.world
    orgs = w.services.organisations
    token, _ = await orgs.invite(None, cast.practice.org_id, Role.GP)
    ref = hash_token(token).hex()
    results = await asyncio.gather(
        *(orgs.revoke_invite(None, cast.practice.org_id, ref, None) for _ in range(2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "InviteSummary"]
    actions = [e.event.action for e in await w.store.list_audit(limit=10_000)]
    assert actions.count("invite.revoke") == 1


async def test_an_invite_for_a_name_takes_that_name_only(cast: Clinic) -> None:
    orgs = cast.world.services.organisations
    token, invite = await orgs.invite(
        None, cast.practice.org_id, Role.GP, login_name="  Named@Example.org "
    )
    assert invite.login_name == "named@example.org"
    with pytest.raises(InviteInvalid):
        await orgs.accept_invite(acceptance(token, "other@example.org"), None)
    user = await orgs.accept_invite(acceptance(token, "NAMED@example.org"), None)
    assert user.login_name == "named@example.org"


async def test_what_an_acceptance_must_hold(cast: Clinic) -> None:
    orgs = cast.world.services.organisations
    token, _ = await orgs.invite(None, cast.practice.org_id, Role.GP)
    good = acceptance(token, "new@example.org")
    bad = [
        dataclasses.replace(good, encryption_public_key=b"\x04" + bytes(64)),  # off the curve
        dataclasses.replace(good, signing_public_key=good.signing_public_key[:33]),
        dataclasses.replace(good, auth_key=b"short"),
        dataclasses.replace(good, kdf_params=b"not a record"),
        dataclasses.replace(good, user_id="not-a-uuid"),
        dataclasses.replace(good, display_name="   "),
    ]
    for acc in bad:
        with pytest.raises(InvalidInput):
            await orgs.accept_invite(acc, None)
    taken = dataclasses.replace(good, login_name=cast.gp.login_name)
    with pytest.raises(Conflict):
        await orgs.accept_invite(taken, None)
    await orgs.accept_invite(good, None)  # the invite was not used up by the refusals


async def test_who_may_invite_and_to_which_role(cast: Clinic) -> None:
    w = cast.world
    orgs = w.services.organisations
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "padmin")
    with pytest.raises(InvalidInput):  # no dermatologists in a practice
        await orgs.invite(admin.actor, cast.practice.org_id, Role.DERMATOLOGIST)
    with pytest.raises(Forbidden):
        await orgs.invite(cast.gp.actor, cast.practice.org_id, Role.GP)
    with pytest.raises(NotFound):
        await orgs.invite(admin.actor, cast.service.org_id, Role.DERMATOLOGIST)
    with pytest.raises(NotFound):
        await orgs.revoke_invite(admin.actor, cast.practice.org_id, "zz" * 32, None)
    token, _ = await orgs.invite(admin.actor, cast.practice.org_id, Role.RECORDS_OFFICER)
    assert (await orgs.inspect_invite(token))[1] == cast.practice


async def test_an_admin_who_creates_an_organisation_administers_it(cast: Clinic) -> None:
    w = cast.world
    orgs = w.services.organisations
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "padmin")
    with pytest.raises(Forbidden):
        await orgs.create_organisation(
            OrgKind.SERVICE, "Mine", records_public_key=None, actor=cast.gp.actor, client=None
        )
    org = await orgs.create_organisation(
        OrgKind.SERVICE, "  New Skin  ", records_public_key=None, actor=admin.actor, client=None
    )
    assert org.name == "New Skin"
    admin = await w.refresh(admin)
    assert admin.actor.has(org.org_id, Role.ADMIN)
    keys = w.services.org_keys
    with pytest.raises(InvalidInput):
        await keys.put_records_key(admin.actor, org.org_id, public_key=b"\x04" * 65)
    with pytest.raises(Forbidden):
        await keys.put_records_key(cast.gp.actor, cast.practice.org_id, public_key=b"\x04" * 65)


async def test_the_first_admin_link_is_offered_until_there_is_an_admin(world: World) -> None:
    orgs = world.services.organisations
    first = await orgs.first_admin_invite()
    second = await orgs.first_admin_invite()
    assert first and second and first != second
    with pytest.raises(InviteInvalid):  # only the newest link works
        await orgs.inspect_invite(first)
    await orgs.accept_invite(acceptance(second, "admin@example.org"), None)
    assert await orgs.first_admin_invite() is None
