"""Organisation and people routes: organisations, directory, invites, users, 2FA reset."""

from __future__ import annotations

from aiohttp import web

from server.api.http import Route, client, current, parse, reply
from server.api.keys import SERVICES
from server.domain.records import User
from server.services import Services
from server.wire import schemas as s
from server.wire.render import invite_summary_out, org_out, user_out

__all__ = ["ROUTES"]


async def list_orgs(request: web.Request) -> web.Response:
    """Services (addressable by every signed-in user) and the user's own organisations."""
    auth = await current(request)
    visible = await request.app[SERVICES].directory.visible_organisations(auth.actor)
    return reply(s.OrganisationList(organisations=[org_out(o) for o in visible]))


async def create_org(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.CreateOrganisationRequest)
    org = await request.app[SERVICES].organisations.create_organisation(
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
    org = await request.app[SERVICES].organisations.set_records_key(
        auth.actor, request.match_info["org_id"], body.records_public_key, client(request)
    )
    return reply(org_out(org))


async def directory(request: web.Request) -> web.Response:
    """Members and public keys, as far as the caller may see them
    (``server.domain.directory``)."""
    auth = await current(request)
    found = await request.app[SERVICES].directory.visible_members(
        auth.actor, request.match_info["org_id"]
    )
    return reply(
        s.DirectoryResponse(org=org_out(found.org), members=[user_out(u) for u in found.members])
    )


async def create_invite(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.CreateInviteRequest)
    token, invite = await request.app[SERVICES].organisations.invite(
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
            role=invite.role,
            expires_at=invite.expires_at,
        ),
        status=201,
    )


async def list_invites(request: web.Request) -> web.Response:
    auth = await current(request)
    items = await request.app[SERVICES].organisations.list_invites(
        auth.actor, request.match_info["org_id"], client(request)
    )
    return reply(s.InviteSummaryList(invites=[invite_summary_out(x) for x in items]))


async def revoke_invite(request: web.Request) -> web.Response:
    auth = await current(request)
    item = await request.app[SERVICES].organisations.revoke_invite(
        auth.actor,
        request.match_info["org_id"],
        request.match_info["invite_id"],
        client(request),
    )
    return reply(invite_summary_out(item))


async def list_users(request: web.Request) -> web.Response:
    auth = await current(request)
    svc = request.app[SERVICES]
    users = await svc.administration.list_users(auth.actor, request.match_info["org_id"])
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


def _admin_user(svc: Services, u: User) -> s.AdminUserOut:
    now = svc.clock.now()
    return user_out(
        u,
        s.AdminUserOut,
        login_name=u.login_name,
        locked=bool(u.locked_until and u.locked_until > now),
        disabled=u.disabled,
    )


async def disable_user(request: web.Request) -> web.Response:
    auth = await current(request)
    svc = request.app[SERVICES]
    user = await svc.administration.disable_user(
        auth.actor, request.match_info["user_id"], client(request)
    )
    return reply(_admin_user(svc, user))


async def remove_role(request: web.Request) -> web.Response:
    auth = await current(request)
    b = await parse(request, s.RemoveRoleRequest)
    svc = request.app[SERVICES]
    user = await svc.administration.remove_membership(
        auth.actor,
        request.match_info["org_id"],
        request.match_info["user_id"],
        b.role,
        client(request),
    )
    return reply(_admin_user(svc, user))


async def revoke_user_sessions(request: web.Request) -> web.Response:
    auth = await current(request)
    count = await request.app[SERVICES].administration.revoke_user_sessions(
        auth.actor, request.match_info["user_id"], client(request)
    )
    return reply(s.RevokedCount(revoked=count))


async def reset_2fa(request: web.Request) -> web.Response:
    auth = await current(request)
    await request.app[SERVICES].administration.reset_totp(
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
        f"{V1}/users/{{user_id}}/disable",
        disable_user,
        "Disable an account (admins of one of its organisations): every session ends and the"
        " person is taken off every case, which then needs a new epoch",
        None,
        s.AdminUserOut,
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/users/{{user_id}}/remove-role",
        remove_role,
        "Take one role in the organisation away from a person (admins); they leave the cases"
        " that needed it, which then need a new epoch",
        s.RemoveRoleRequest,
        s.AdminUserOut,
        errors=(401, 403, 404, 422),
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
