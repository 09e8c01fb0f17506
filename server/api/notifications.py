"""HTTP routes of notifications (docs/api.md, "Notifications"): the VAPID key to subscribe
with, this browser's push subscription, and the person's settings. Parse, call the domain
(``server/domain/notifications.py``), render."""

from __future__ import annotations

from aiohttp import web

from server.api.http import Route, current, parse, reply
from server.api.keys import SERVICES
from server.wire import schemas as s
from server.wire.render import notification_settings_out, push_subscription_out


async def push_key(request: web.Request) -> web.Response:
    await current(request)
    key = await request.app[SERVICES].notifications.vapid_public_key()
    return reply(s.PushKey(public_key=key))


async def subscribe(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.PushSubscriptionRequest)
    sub = await request.app[SERVICES].notifications.subscribe(
        auth.actor, body.endpoint, body.keys.p256dh, body.keys.auth
    )
    return reply(push_subscription_out(sub), status=201)


async def unsubscribe(request: web.Request) -> web.Response:
    auth = await current(request)
    await request.app[SERVICES].notifications.unsubscribe(
        auth.actor, request.match_info["subscription_id"]
    )
    return reply(None)


async def _settings_out(request: web.Request) -> web.Response:
    auth = await current(request)
    n = request.app[SERVICES].notifications
    return reply(
        notification_settings_out(
            await n.settings(auth.actor), await n.list_subscriptions(auth.actor), n.email_available
        )
    )


async def get_settings(request: web.Request) -> web.Response:
    return await _settings_out(request)


async def put_settings(request: web.Request) -> web.Response:
    auth = await current(request)
    body = await parse(request, s.NotificationSettingsRequest)
    await request.app[SERVICES].notifications.update_settings(
        auth.actor, sound=body.sound, email=body.email
    )
    return await _settings_out(request)


V1 = "/api/v1"
ROUTES = [
    Route(
        "GET",
        f"{V1}/notifications/push-key",
        push_key,
        "The server's VAPID public key (applicationServerKey for PushManager.subscribe)",
        None,
        s.PushKey,
        errors=(401,),
    ),
    Route(
        "POST",
        f"{V1}/notifications/subscriptions",
        subscribe,
        "Register this browser's push subscription (replaces one with the same endpoint)",
        s.PushSubscriptionRequest,
        s.PushSubscriptionOut,
        status=201,
        errors=(401, 422),
    ),
    Route(
        "DELETE",
        f"{V1}/notifications/subscriptions/{{subscription_id}}",
        unsubscribe,
        "Remove one of my push subscriptions",
        None,
        None,
        status=204,
        errors=(401, 404),
    ),
    Route(
        "GET",
        f"{V1}/notifications/settings",
        get_settings,
        "My notification settings and push subscriptions",
        None,
        s.NotificationSettingsOut,
        errors=(401,),
    ),
    Route(
        "PUT",
        f"{V1}/notifications/settings",
        put_settings,
        "Change my notification settings (sound, e-mail notices)",
        s.NotificationSettingsRequest,
        s.NotificationSettingsOut,
        errors=(401, 422),
    ),
]
