"""Account routes: invites, pre-login, login (password then TOTP), sessions, password.

Thin handlers: parse with ``server.wire.schemas``, call the account services
(``server.domain.accounts``), answer a schema.
The session cookie is HttpOnly, SameSite=Strict, Secure under TLS; the CSRF token bound
to it is returned in the body and in a readable ``dermline_csrf`` cookie.
"""

from __future__ import annotations

from aiohttp import web

from server.api.http import Route, client, current, parse, reply
from server.api.keys import CSRF_KEY, SERVICES, SETTINGS
from server.api.middleware import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for
from server.domain.accounts import InviteAcceptance, LoginStep
from server.errors import AuthError
from server.netaddr import rate_limit_key
from server.wire import schemas as s
from server.wire.render import log_ref_opt, session_out, user_out

__all__ = ["ROUTES", "limit", "pending_first", "set_session"]


def limit(request: web.Request, bucket: str) -> None:
    request.app[SERVICES].auth_limiter.hit(bucket, rate_limit_key(client(request)))


def set_session(request: web.Request, response: web.StreamResponse, step: LoginStep) -> str:
    settings = request.app[SETTINGS]
    ttl = int((step.session.expires_at - step.session.created_at).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        step.token,
        httponly=True,
        samesite="Strict",
        secure=settings.https,
        path="/",
        max_age=ttl,
    )
    csrf = csrf_token_for(request.app[CSRF_KEY], step.token)
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=False,
        samesite="Strict",
        secure=settings.https,
        path="/",
        max_age=ttl,
    )
    return csrf


def _pending_token(request: web.Request) -> str:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthError()
    return token


async def pending_first(request: web.Request) -> str:
    """Authenticate the pending session before reading the body (401/409 before 422)."""
    token = _pending_token(request)
    await request.app[SERVICES].second_factor.pending_session(token)
    return token


async def prelogin(request: web.Request) -> web.Response:
    limit(request, "prelogin")
    body = await parse(request, s.PreloginRequest)
    record = await request.app[SERVICES].signin.prelogin(body.login_name)
    return reply(s.PreloginResponse(kdf_params=record))


async def login(request: web.Request) -> web.Response:
    limit(request, "login")
    body = await parse(request, s.LoginRequest)
    step = await request.app[SERVICES].signin.login_password(
        body.login_name,
        body.auth_key,
        client=client(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    response = web.Response()
    csrf = set_session(request, response, step)
    out = s.LoginResponse(next=step.next, csrf_token=csrf)  # type: ignore[arg-type]
    response.content_type = "application/json"
    response.text = out.model_dump_json()
    return response


async def totp_enrol(request: web.Request) -> web.Response:
    limit(request, "totp")
    uri, svg = await request.app[SERVICES].second_factor.begin_enrolment(_pending_token(request))
    return reply(s.EnrolmentResponse(otpauth_uri=uri, qr_svg=svg))


async def totp_confirm(request: web.Request) -> web.Response:
    limit(request, "totp")
    token = await pending_first(request)
    body = await parse(request, s.ConfirmEnrolmentRequest)
    step, codes = await request.app[SERVICES].second_factor.confirm_enrolment(
        token,
        body.code,
        client=client(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    response = web.Response(content_type="application/json")
    csrf = set_session(request, response, step)
    response.text = s.ConfirmEnrolmentResponse(
        next=step.next,  # type: ignore[arg-type]
        csrf_token=csrf,
        recovery_codes=codes,
    ).model_dump_json()
    return response


async def totp_verify(request: web.Request) -> web.Response:
    limit(request, "totp")
    token = await pending_first(request)
    body = await parse(request, s.TotpRequest)
    step = await request.app[SERVICES].second_factor.verify(
        token,
        code=body.code,
        recovery_code=body.recovery_code,
        client=client(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    response = web.Response(content_type="application/json")
    csrf = set_session(request, response, step)
    # "done", or "passkey_enrol" under a passkey requirement (the session stays pending)
    out = s.LoginResponse(
        next=step.next,  # type: ignore[arg-type]
        csrf_token=csrf,
        failed_attempts=step.failed_attempts,
    )
    response.text = out.model_dump_json()
    return response


async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await request.app[SERVICES].sessions.logout(token, client(request))
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    auth = await current(request)
    u = auth.user
    return reply(
        user_out(
            u,
            s.MeResponse,
            login_name=u.login_name,
            kdf_params=u.kdf_params,
            wrapped_usk=u.wrapped_usk,
            sealed_private_keys=u.sealed_private_keys,
            recovery_wrapped_usk=u.recovery_wrapped_usk,
            org_wrapped_usk=u.org_wrapped_usk,
        )
    )


async def list_sessions(request: web.Request) -> web.Response:
    auth = await current(request)
    sessions = await request.app[SERVICES].sessions.list_sessions(auth.user.user_id)
    return reply(s.SessionList(sessions=[session_out(auth, x) for x in sessions]))


async def revoke_session(request: web.Request) -> web.Response:
    auth = await current(request)
    await request.app[SERVICES].sessions.revoke_own_session(
        auth, request.match_info["session_ref"], client(request)
    )
    return reply(None)


async def change_password(request: web.Request) -> web.Response:
    limit(request, "password")
    auth = await current(request)
    body = await parse(request, s.ChangePasswordRequest)
    await request.app[SERVICES].signin.change_password(
        auth,
        current_auth_key=body.current_auth_key,
        kdf_params=body.kdf_params,
        auth_key=body.auth_key,
        wrapped_usk=body.wrapped_usk,
        token=request.cookies.get(SESSION_COOKIE, ""),
        client=client(request),
    )
    return reply(None)


async def inspect_invite(request: web.Request) -> web.Response:
    limit(request, "invite")
    body = await parse(request, s.InviteInspectRequest)
    view = await request.app[SERVICES].organisations.view_invite(body.token)
    return reply(
        s.InviteInspectResponse(
            org_id=view.org.org_id,
            org_name=view.org.name,
            org_kind=view.org.kind,
            role=view.invite.role,
            expires_at=view.invite.expires_at,
            login_name=view.invite.login_name,
            invite_statement=log_ref_opt(view.invite_statement),
            org_key=log_ref_opt(view.org_key),
            handover=view.handover,
            tree_head=view.tree_head.head,
            log_public_key=view.log_public_key,
        )
    )


async def accept_invite(request: web.Request) -> web.Response:
    limit(request, "invite")
    b = await parse(request, s.AcceptInviteRequest)
    user = await request.app[SERVICES].organisations.accept_invite(
        InviteAcceptance(
            token=b.token,
            user_id=b.user_id,
            login_name=b.login_name,
            display_name=b.display_name,
            kdf_params=b.kdf_params,
            auth_key=b.auth_key,
            wrapped_usk=b.wrapped_usk,
            encryption_public_key=b.encryption_public_key,
            signing_public_key=b.signing_public_key,
            sealed_private_keys=b.sealed_private_keys,
            recovery_wrapped_usk=b.recovery_wrapped_usk,
            org_wrapped_usk=b.org_wrapped_usk,
            member_statement=b.member_statement,
        ),
        client(request),
    )
    return reply(user_out(user), status=201)


V1 = "/api/v1"
ROUTES = [
    Route(
        "POST",
        f"{V1}/auth/prelogin",
        prelogin,
        "KDF parameters for a login name",
        s.PreloginRequest,
        s.PreloginResponse,
        auth="none",
        errors=(422, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/login",
        login,
        "Step 1: the auth key; sets a pending session",
        s.LoginRequest,
        s.LoginResponse,
        auth="none",
        errors=(401, 422, 423, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/totp/enrol",
        totp_enrol,
        "Start TOTP enrolment (pending session)",
        None,
        s.EnrolmentResponse,
        auth="pending",
        errors=(401, 409, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/totp/confirm",
        totp_confirm,
        "Confirm TOTP enrolment; returns recovery codes",
        s.ConfirmEnrolmentRequest,
        s.ConfirmEnrolmentResponse,
        auth="pending",
        errors=(401, 409, 423, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/totp",
        totp_verify,
        "Step 2: a TOTP or recovery code",
        s.TotpRequest,
        s.LoginResponse,
        auth="pending",
        errors=(401, 403, 409, 423, 429),  # 409: the session has passed this step already
    ),
    Route(
        "POST", f"{V1}/auth/logout", logout, "End this session", None, None, status=204, auth="none"
    ),
    Route(
        "GET",
        f"{V1}/me",
        me,
        "The signed-in user with their key material",
        None,
        s.MeResponse,
        errors=(401,),
    ),
    Route(
        "GET",
        f"{V1}/auth/sessions",
        list_sessions,
        "My live sessions",
        None,
        s.SessionList,
        errors=(401,),
    ),
    Route(
        "DELETE",
        f"{V1}/auth/sessions/{{session_ref}}",
        revoke_session,
        "Revoke one of my sessions",
        None,
        None,
        status=204,
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/auth/password",
        change_password,
        "Change password (re-wrapped USK); revokes my other sessions",
        s.ChangePasswordRequest,
        None,
        status=204,
        errors=(401, 409, 422, 423, 429),
    ),
    Route(
        "POST",
        f"{V1}/invites/inspect",
        inspect_invite,
        "What an invite is for",
        s.InviteInspectRequest,
        s.InviteInspectResponse,
        auth="none",
        errors=(410, 429),
    ),
    Route(
        "POST",
        f"{V1}/invites/accept",
        accept_invite,
        "Accept an invite: create the account",
        s.AcceptInviteRequest,
        s.UserOut,
        status=201,
        auth="none",
        errors=(409, 410, 422, 429),
    ),
]
