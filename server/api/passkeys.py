"""Passkey routes (docs/api.md "Passkeys"): registering, listing, naming and removing
passkeys; the second factor by passkey; sign-in by a passkey alone; an organisation's
passkey requirement.

Thin handlers: parse with ``server.wire.schemas``, call ``PasskeyService`` /
``PasskeyPolicyService``, answer a schema. Every route that checks a passkey answer takes
from the per-address limiter's ``passkey`` bucket, like the other sign-in steps.
"""

from __future__ import annotations

from aiohttp import web

from server.api.auth import limit, pending_first, set_session
from server.api.http import Route, client, current, parse, reply
from server.api.keys import SERVICES
from server.api.middleware import SESSION_COOKIE
from server.domain.accounts import PasskeySignIn
from server.domain.records import Role
from server.wire import schemas as s
from server.wire.render import passkey_out, passkey_policy_out

__all__ = ["ROUTES"]


def _ua(request: web.Request) -> str:
    return request.headers.get("User-Agent", "")


async def registration_options(request: web.Request) -> web.Response:
    limit(request, "passkey")
    options = await request.app[SERVICES].passkeys.registration_options(
        request.cookies.get(SESSION_COOKIE)
    )
    return reply(s.WebAuthnOptions(options=options))


async def register(request: web.Request) -> web.Response:
    limit(request, "passkey")
    token = request.cookies.get(SESSION_COOKIE)
    passkeys = request.app[SERVICES].passkeys
    await passkeys.check_registrant(token)  # 401 before 422
    body = await parse(request, s.PasskeyRegisterRequest)
    made, step = await passkeys.register(
        token,
        body.credential,
        name=body.name,
        prf_wrap=body.prf_wrap,
        client=client(request),
        user_agent=_ua(request),
    )
    response = web.Response(status=201, content_type="application/json")
    if step is None:
        out = s.PasskeyRegistered(passkey=passkey_out(made))
    else:
        csrf = set_session(request, response, step)
        out = s.PasskeyRegistered(passkey=passkey_out(made), next="done", csrf_token=csrf)
    response.text = out.model_dump_json()
    return response


async def list_passkeys(request: web.Request) -> web.Response:
    auth = await current(request)
    items = await request.app[SERVICES].passkeys.list_own(auth)
    return reply(s.PasskeyList(passkeys=[passkey_out(p) for p in items]))


async def rename(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.PasskeyRenameRequest)
    made = await request.app[SERVICES].passkeys.rename(
        auth, request.match_info["passkey_id"], body.name, client(request)
    )
    return reply(passkey_out(made))


async def set_unlock(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.PasskeyUnlockRequest)
    made = await request.app[SERVICES].passkeys.set_unlock(
        auth, request.match_info["passkey_id"], body.prf_wrap, client(request)
    )
    return reply(passkey_out(made))


async def remove(request: web.Request) -> web.Response:
    auth = await current(request)
    await request.app[SERVICES].passkeys.remove(
        auth, request.match_info["passkey_id"], client(request)
    )
    return reply(None)


def _signed_in(request: web.Request, done: PasskeySignIn) -> web.Response:
    response = web.Response(content_type="application/json")
    csrf = set_session(request, response, done.step)
    response.text = s.PasskeyLoginResponse(
        next="done",
        csrf_token=csrf,
        failed_attempts=done.step.failed_attempts,
        passkey=passkey_out(done.passkey),
    ).model_dump_json()
    return response


async def second_factor_options(request: web.Request) -> web.Response:
    limit(request, "passkey")
    token = await pending_first(request)
    options = await request.app[SERVICES].passkeys.second_factor_options(token)
    return reply(s.WebAuthnOptions(options=options))


async def second_factor(request: web.Request) -> web.Response:
    limit(request, "passkey")
    token = await pending_first(request)
    body = await parse(request, s.PasskeyAssertionRequest)
    done = await request.app[SERVICES].passkeys.second_factor(
        token, body.credential, client=client(request), user_agent=_ua(request)
    )
    return _signed_in(request, done)


async def sign_in_options(request: web.Request) -> web.Response:
    limit(request, "passkey")
    options = await request.app[SERVICES].passkeys.sign_in_options()
    return reply(s.WebAuthnOptions(options=options))


async def sign_in(request: web.Request) -> web.Response:
    limit(request, "passkey")
    body = await parse(request, s.PasskeyAssertionRequest)
    done = await request.app[SERVICES].passkeys.sign_in(
        body.credential, client=client(request), user_agent=_ua(request)
    )
    return _signed_in(request, done)


async def get_policy(request: web.Request) -> web.Response:
    auth = await current(request)
    policy = await request.app[SERVICES].passkey_policy.get(
        auth.actor, request.match_info["org_id"]
    )
    return reply(passkey_policy_out(policy))


async def set_policy(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.PasskeyPolicyRequest)
    policy = await request.app[SERVICES].passkey_policy.set(
        auth.actor,
        request.match_info["org_id"],
        everyone=body.everyone,
        roles=[Role(r) for r in body.roles],
        client=client(request),
    )
    return reply(passkey_policy_out(policy))


V1 = "/api/v1"
ROUTES = [
    Route(
        "POST",
        f"{V1}/auth/passkeys/options",
        registration_options,
        "Options to register a passkey (a full session, or one granted a registration)",
        None,
        s.WebAuthnOptions,
        errors=(401, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/passkeys",
        register,
        "Register a passkey (with its USK wrap); under a requirement, finishes the sign-in",
        s.PasskeyRegisterRequest,
        s.PasskeyRegistered,
        status=201,
        errors=(401, 409, 422, 429),
    ),
    Route(
        "GET",
        f"{V1}/auth/passkeys",
        list_passkeys,
        "My passkeys",
        None,
        s.PasskeyList,
        errors=(401,),
    ),
    Route(
        "PUT",
        f"{V1}/auth/passkeys/{{passkey_id}}/name",
        rename,
        "Rename one of my passkeys",
        s.PasskeyRenameRequest,
        s.PasskeyOut,
        errors=(401, 404, 422),
    ),
    Route(
        "PUT",
        f"{V1}/auth/passkeys/{{passkey_id}}/unlock",
        set_unlock,
        "Store or remove the USK wrap (record 0x11) of one of my passkeys",
        s.PasskeyUnlockRequest,
        s.PasskeyOut,
        errors=(401, 404, 422),
    ),
    Route(
        "DELETE",
        f"{V1}/auth/passkeys/{{passkey_id}}",
        remove,
        "Remove one of my passkeys and its wrap",
        None,
        None,
        status=204,
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/auth/passkey/options",
        second_factor_options,
        "Step 2 by passkey: options (pending session)",
        None,
        s.WebAuthnOptions,
        auth="pending",
        errors=(401, 409, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/passkey",
        second_factor,
        "Step 2 by passkey instead of a TOTP code",
        s.PasskeyAssertionRequest,
        s.PasskeyLoginResponse,
        auth="pending",
        errors=(401, 409, 422, 423, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/passkey/sign-in/options",
        sign_in_options,
        "Sign in with a passkey alone: options",
        None,
        s.WebAuthnOptions,
        auth="none",
        errors=(429,),
    ),
    Route(
        "POST",
        f"{V1}/auth/passkey/sign-in",
        sign_in,
        "Sign in with a passkey alone (user verification required)",
        s.PasskeyAssertionRequest,
        s.PasskeyLoginResponse,
        auth="none",
        errors=(401, 422, 423, 429),
    ),
    Route(
        "GET",
        f"{V1}/orgs/{{org_id}}/passkey-policy",
        get_policy,
        "Which roles of the organisation must use passkeys (admins)",
        None,
        s.PasskeyPolicyOut,
        errors=(401, 403, 404),
    ),
    Route(
        "PUT",
        f"{V1}/orgs/{{org_id}}/passkey-policy",
        set_policy,
        "Require passkeys of everyone or of chosen roles (admins)",
        s.PasskeyPolicyRequest,
        s.PasskeyPolicyOut,
        errors=(401, 403, 404, 422),
    ),
]
