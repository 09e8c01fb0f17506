"""Organisation and people routes: organisations, directory, invites, users, 2FA reset."""

from __future__ import annotations

from aiohttp import web

from server.api.http import Route, client, current, parse, reply
from server.api.keys import SERVICES
from server.domain.accounts import CertifiedInvite
from server.domain.records import User
from server.errors import BadRequest, InvalidInput
from server.services import Services
from server.wire import schemas as s
from server.wire.render import (
    directory_out,
    invite_summary_out,
    log_ref_out,
    org_out,
    pending_out,
    user_out,
)

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
    """The legacy first key, or a records-key statement (``server.domain.org_keys``): 202
    with the pending change when it waits for approvals."""
    auth = await current(request)
    body = await parse(request, s.RecordsKeyRequest)
    if (body.records_public_key is None) == (body.statement is None):
        raise InvalidInput("send exactly one of records_public_key and statement")
    result = await request.app[SERVICES].org_keys.put_records_key(
        auth.actor,
        request.match_info["org_id"],
        public_key=body.records_public_key,
        statement=body.statement,
        client=client(request),
    )
    pending = None if result.pending is None else pending_out(result.pending)
    return reply(
        org_out(result.org, s.RecordsKeyOut, pending=pending),
        status=200 if pending is None else 202,
    )


async def list_pending(request: web.Request) -> web.Response:
    auth = await current(request)
    items = await request.app[SERVICES].org_keys.list_pending(
        auth.actor, request.match_info["org_id"]
    )
    return reply(s.RecordsKeyPendingList(pending=[pending_out(p) for p in items]))


async def approve(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.ApprovalRequest)
    result = await request.app[SERVICES].org_keys.approve(
        auth.actor, request.match_info["org_id"], body.approval, client(request)
    )
    return reply(
        s.ApprovalOut(
            pending=None if result.pending is None else pending_out(result.pending),
            current_sequence=result.current_sequence,
        )
    )


async def set_org_key(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.OrgKeyRequest)
    org_id = request.match_info["org_id"]
    ref, head = await request.app[SERVICES].org_keys.set_org_key(
        auth.actor, org_id, body.statement, list(body.wraps), client(request)
    )
    return reply(
        s.OrgKeyOut(org_id=org_id, org_key=log_ref_out(ref), tree_head=head.head), status=201
    )


async def own_org_key_wrap(request: web.Request) -> web.Response:
    auth = await current(request)
    wrap, signing = await request.app[SERVICES].org_keys.own_wrap(
        auth.actor, request.match_info["org_id"]
    )
    return reply(
        s.OrgKeyWrapOut(
            wrap=wrap.wrap, wrapper_user_id=wrap.wrapper_id, wrapper_signing_public_key=signing
        )
    )


async def add_org_key_wraps(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.OrgKeyWrapsRequest)
    await request.app[SERVICES].org_keys.add_wraps(
        auth.actor, request.match_info["org_id"], list(body.wraps), client(request)
    )
    return reply(None)


async def certify(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.CertificationRequest)
    ref, head = await request.app[SERVICES].org_keys.certify(
        auth.actor, request.match_info["org_id"], body.statement, client(request)
    )
    return reply(
        s.CertifiedOut(
            certification=s.CertificationOut(member=log_ref_out(ref), invite=None),
            tree_head=head.head,
        ),
        status=201,
    )


async def directory(request: web.Request) -> web.Response:
    """Members and public keys, as far as the caller may see them, with the log references
    that prove them (``server.domain.directory``)."""
    auth = await current(request)
    found = await request.app[SERVICES].directory.visible_members(
        auth.actor, request.match_info["org_id"]
    )
    return reply(directory_out(found))


async def create_invite(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.CreateInviteRequest)
    certified = None
    if body.invite_statement is not None:
        if body.token is None:
            raise BadRequest("a certified invite needs its token", status=422)
        certified = CertifiedInvite(body.token, body.invite_statement, body.handover)
    elif body.token is not None or body.handover is not None:
        raise InvalidInput("a token or handover goes with an invite statement")
    token, invite = await request.app[SERVICES].organisations.invite(
        auth.actor,
        request.match_info["org_id"],
        body.role,
        login_name=body.login_name,
        client=client(request),
        certified=certified,
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
        "Set the first records key, or the next in its chain (records officer or admin);"
        " 202 when a change waits for two administrators' approvals",
        s.RecordsKeyRequest,
        s.RecordsKeyOut,
        also=(202,),
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/records-key/pending",
        list_pending,
        "Records-key changes waiting for approvals (members)",
        None,
        s.RecordsKeyPendingList,
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/records-key/approvals",
        approve,
        "Approve a pending records-key change (certified admins; two make it current)",
        s.ApprovalRequest,
        s.ApprovalOut,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/org-key",
        set_org_key,
        "Set the organisation key with the first wraps (admins; once)",
        s.OrgKeyRequest,
        s.OrgKeyOut,
        status=201,
        errors=(401, 403, 404, 409, 422),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/org-key/wrap",
        own_org_key_wrap,
        "My wrap of the organisation key",
        None,
        s.OrgKeyWrapOut,
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/org-key/wraps",
        add_org_key_wraps,
        "Wrap the organisation key to other administrators (admins)",
        s.OrgKeyWrapsRequest,
        None,
        status=204,
        errors=(401, 403, 404, 422),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/certifications",
        certify,
        "Publish a member statement signed by the organisation key (admins)",
        s.CertificationRequest,
        s.CertifiedOut,
        status=201,
        errors=(401, 403, 404, 422),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/directory",
        directory,
        "Members with their public keys and the log references that prove them",
        None,
        s.DirectoryResponse,
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/orgs/{{org_id}}/invites",
        create_invite,
        "Invite a person to a role (admins; certified with an invite statement)",
        s.CreateInviteRequest,
        s.InviteOut,
        status=201,
        errors=(401, 403, 404, 409, 422),
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
