"""Organisation and people routes: organisations, directory, invites, users, 2FA reset."""

from __future__ import annotations

from aiohttp import web

import storage
from server.api import schemas as s
from server.api.auth import user_out
from server.api.http import Route, client, current, parse, reply
from server.api.keys import SERVICES
from server.domain.accounts import InviteSummary
from server.domain.policy import OrgKind, Role
from server.errors import NotFound

__all__ = ["ROUTES", "org_out"]


def org_out(org) -> s.OrganisationOut:  # type: ignore[no-untyped-def]
    return s.OrganisationOut(
        org_id=org.org_id,
        kind=OrgKind(org.kind.value),
        name=org.name,
        records_public_key=org.records_public_key,
    )


async def list_orgs(request: web.Request) -> web.Response:
    """Services (addressable by every signed-in user) and the user's own organisations."""
    auth = await current(request)
    mine = set(auth.actor.memberships)
    orgs = await request.app[SERVICES].store.list_organisations()
    visible = [o for o in orgs if o.org_id in mine or o.kind.value == OrgKind.SERVICE.value]
    return reply(s.OrganisationList(organisations=[org_out(o) for o in visible]))


async def create_org(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.CreateOrganisationRequest)
    org = await request.app[SERVICES].accounts.create_organisation(
        body.kind,
        body.name,
        records_public_key=body.records_public_key,
        actor=auth.actor,
        client=client(request),
    )
    return reply(org_out(org), status=201)


async def set_records_key(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.RecordsKeyRequest)
    org = await request.app[SERVICES].accounts.set_records_key(
        auth.actor, request.match_info["org_id"], body.records_public_key, client(request)
    )
    return reply(org_out(org))


async def directory(request: web.Request) -> web.Response:
    """Members and public keys: for members of the organisation, and for anyone signed in
    when it is a service (a GP wraps the case key to the service's dermatologists)."""
    auth = await current(request)
    svc = request.app[SERVICES]
    org_id = request.match_info["org_id"]
    try:
        org = await svc.store.get_organisation(org_id)
    except (storage.NotFound, storage.InvalidArgument):
        raise NotFound() from None
    if org_id not in auth.actor.memberships and org.kind.value != OrgKind.SERVICE.value:
        raise NotFound()
    users = [u for u in await svc.store.list_users(org_id) if not u.disabled]
    if org_id not in auth.actor.memberships:
        # Outsiders see a service's dermatologists only: the people a GP addresses a case
        # to. Its admins, records officers and auditors are nobody else's business.
        users = [
            u
            for u in users
            if any(
                m.org_id == org_id and m.role is storage.Role.DERMATOLOGIST for m in u.memberships
            )
        ]
    members: list[s.UserOut] = [user_out(u) for u in users]
    if org_id not in auth.actor.memberships:
        # Outsiders learn the memberships in *this* organisation only, not which other
        # practices or services a dermatologist also belongs to (data minimisation).
        members = [
            m.model_copy(update={"memberships": [x for x in m.memberships if x.org_id == org_id]})
            for m in members
        ]
    return reply(s.DirectoryResponse(org=org_out(org), members=members))


async def create_invite(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.CreateInviteRequest)
    token, invite = await request.app[SERVICES].accounts.invite(
        auth.actor,
        request.match_info["org_id"],
        body.role,
        login_name=body.login_name,
        client=client(request),
    )
    return reply(
        s.InviteOut(
            token=token,
            org_id=invite.org_id,
            role=Role(invite.role.value),
            expires_at=invite.expires_at,
        ),
        status=201,
    )


def invite_summary_out(item: InviteSummary) -> s.InviteSummaryOut:
    i = item.invite
    return s.InviteSummaryOut(
        invite_id=item.invite_id,
        org_id=i.org_id,
        role=Role(i.role.value),
        login_name=i.login_name,
        created_at=i.created_at,
        expires_at=i.expires_at,
        created_by=i.created_by,
        used_at=i.used_at,
        revoked_at=i.revoked_at,
        status=item.status.value,
    )


async def list_invites(request: web.Request) -> web.Response:
    auth = await current(request)
    items = await request.app[SERVICES].accounts.list_invites(
        auth.actor, request.match_info["org_id"], client(request)
    )
    return reply(s.InviteSummaryList(invites=[invite_summary_out(x) for x in items]))


async def revoke_invite(request: web.Request) -> web.Response:
    auth = await current(request)
    item = await request.app[SERVICES].accounts.revoke_invite(
        auth.actor,
        request.match_info["org_id"],
        request.match_info["invite_id"],
        client(request),
    )
    return reply(invite_summary_out(item))


async def list_users(request: web.Request) -> web.Response:
    auth = await current(request)
    svc = request.app[SERVICES]
    users = await svc.accounts.list_users(auth.actor, request.match_info["org_id"])
    now = svc.clock.now()
    return reply(
        s.UserList(
            users=[
                user_out(
                    u,
                    s.AdminUserOut,
                    login_name=u.login_name,
                    locked=bool(u.locked_until and u.locked_until > now),
                    disabled=u.disabled,
                )
                for u in users
            ]
        )
    )


async def revoke_user_sessions(request: web.Request) -> web.Response:
    auth = await current(request)
    count = await request.app[SERVICES].accounts.revoke_user_sessions(
        auth.actor, request.match_info["user_id"], client(request)
    )
    return reply(s.RevokedCount(revoked=count))


async def reset_2fa(request: web.Request) -> web.Response:
    auth = await current(request)
    await request.app[SERVICES].accounts.reset_totp(
        auth.actor, request.match_info["user_id"], client(request)
    )
    return reply(None)


V1 = "/api/v1"
ROUTES = [
    Route(
        "GET",
        f"{V1}/orgs",
        list_orgs,
        "Services and my organisations",
        None,
        s.OrganisationList,
        errors=(401,),
    ),
    Route(
        "POST",
        f"{V1}/orgs",
        create_org,
        "Create an organisation (admins)",
        s.CreateOrganisationRequest,
        s.OrganisationOut,
        status=201,
        errors=(401, 403, 422),
    ),
    Route(
        "PUT",
        f"{V1}/orgs/{{org_id}}/records-key",
        set_records_key,
        "Set the records public key (records officer or admin)",
        s.RecordsKeyRequest,
        s.OrganisationOut,
        errors=(401, 403, 404, 422),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/directory",
        directory,
        "Members with their public keys",
        None,
        s.DirectoryResponse,
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/invites",
        create_invite,
        "Invite a person to a role (admins)",
        s.CreateInviteRequest,
        s.InviteOut,
        status=201,
        errors=(401, 403, 404, 422),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/invites",
        list_invites,
        "The organisation's invites with their status, newest first (admins)",
        None,
        s.InviteSummaryList,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/invites/{{invite_id}}/revoke",
        revoke_invite,
        "Cancel an unused invite (admins; 409 once used or cancelled)",
        None,
        s.InviteSummaryOut,
        errors=(401, 403, 404, 409),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/users",
        list_users,
        "Users of the organisation (admins)",
        None,
        s.UserList,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{V1}/users/{{user_id}}/revoke-sessions",
        revoke_user_sessions,
        "Revoke every session of a user (admins)",
        None,
        s.RevokedCount,
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/users/{{user_id}}/reset-2fa",
        reset_2fa,
        "Reset a user's second factor (admins, audited)",
        None,
        None,
        status=204,
        errors=(401, 404),
    ),
]
