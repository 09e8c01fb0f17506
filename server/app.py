"""The aiohttp application factory: one settings object in, a ready app out.

Resources with a lifetime (storage, the real-time layer's background tasks) are opened in
``cleanup_ctx`` and closed in reverse order; nothing lives in module globals. Tests pass a
fake clock (and may pass an already opened storage, which the app then does not close).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

import storage
from server.api import admin, auth, cases, passkeys, patient_links, transparency
from server.api import notifications as notifications_api
from server.api import retention as retention_api
from server.api.http import Route
from server.api.keys import CSRF_KEY, SERVICES, SETTINGS
from server.api.middleware import error_mapper, guard, security_headers
from server.api.openapi import build_openapi
from server.domain.clock import Clock, SystemClock
from server.health import Readiness
from server.housekeeping import retention_runs
from server.keyfile import derive_key, load_server_secret
from server.logs import event
from server.mailer import SmtpMailer
from server.metrics import Metrics
from server.push import HttpPushGateway
from server.realtime.server import Realtime
from server.services import build_services
from server.settings import Settings
from server.static import add_static_routes

__all__ = ["REALTIME", "ROUTES", "create_app", "storage_config"]

VERSION = "0.1.0"
ROUTES: list[Route] = [
    *auth.ROUTES,
    *passkeys.ROUTES,
    *admin.ROUTES,
    *cases.ROUTES,
    *patient_links.ROUTES,
    *retention_api.ROUTES,
    *transparency.ROUTES,
    *notifications_api.ROUTES,
]
REALTIME = web.AppKey("realtime", Realtime)
# The opened storage: the composition root's own, for the health check (the transports
# reach storage only through the domain services).
STORE: web.AppKey[storage.Storage] = web.AppKey("store")


def storage_config(settings: Settings) -> storage.StorageConfig:
    if settings.database_url is not None:
        return storage.StorageConfig(
            backend="postgres",
            data_dir=settings.data_dir,
            postgres_dsn=settings.database_url.reveal(),
            postgres_schema=settings.database_schema,
            max_blob_size=settings.max_upload_bytes,
        )
    return storage.StorageConfig(
        backend="sqlite", data_dir=settings.data_dir, max_blob_size=settings.max_upload_bytes
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness: this process answers. It asks nothing else (no storage, no Redis), so a
    database outage never makes an orchestrator restart every node at once; whether a node
    should take traffic is ``/readyz`` (``server/health.py``, ``docs/operations.md``)."""
    return web.json_response({"status": "ok"})


def _mailer(settings: Settings) -> SmtpMailer | None:
    """The SMTP client for e-mail notices, when an SMTP server is configured."""
    if not settings.smtp_host:
        return None
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        sender=settings.mail_from(),
        username=settings.smtp_username,
        password=settings.smtp_password.reveal() if settings.smtp_password else "",
    )


async def _checkpoints(store: storage.Storage, clock: Clock, settings: Settings) -> None:
    """Sign the audit chain's head now and then, so a later edit, deletion or truncation
    is caught by ``dermline audit verify`` even if the whole chain were re-hashed."""
    interval = settings.audit_checkpoint_interval
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await store.checkpoint_audit(clock.now())
            event("audit.checkpoint", level=logging.DEBUG)
        except storage.NotFound:
            pass  # nothing audited yet
        except storage.StorageError as exc:
            event("audit.checkpoint_failed", level=logging.WARNING, error_type=type(exc).__name__)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: storage.Storage | None = None,
    environ: Mapping[str, str] | None = None,
) -> web.Application:
    clock = clock or SystemClock()
    metrics = Metrics(settings)  # docs/operations.md, "Metrics"
    app = web.Application(
        middlewares=[metrics.middleware, error_mapper, guard],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    secret = load_server_secret(settings.data_dir, environ)
    app[CSRF_KEY] = derive_key(secret, "csrf")
    app.on_response_prepare.append(security_headers)

    openapi_text = json.dumps(build_openapi(ROUTES, VERSION), separators=(",", ":"))

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(text=openapi_text, content_type="application/json")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/openapi.json", openapi)
    for r in ROUTES:
        app.router.add_route(r.method, r.path, r.handler)

    realtime = Realtime(settings, clock)
    app[REALTIME] = realtime
    realtime.attach(app)

    # Operations: readiness and metrics (no session; /metrics by address only).
    readiness = Readiness(settings)
    realtime.on_event = metrics.observe_socket_event
    app.router.add_get("/readyz", readiness.handler(lambda: app.get(STORE)))
    app.router.add_get("/metrics", metrics.handler(lambda: app.get(STORE), realtime, clock.now))

    async def resources(app: web.Application) -> AsyncIterator[None]:
        own = store is None
        opened = store or await storage.open_storage(storage_config(settings))
        push = HttpPushGateway()
        try:
            await push.__aenter__()
            app[STORE] = opened
            app[SERVICES] = build_services(
                settings,
                opened,
                clock,
                secret,
                realtime,
                realtime.sessions_revoked,
                observe_login=metrics.observe_login,
                push_gateway=push,
                mailer=_mailer(settings),
                in_page=realtime.notice,
            )
            if hasattr(opened, "unit_observer"):  # the SQL stores (server/metrics.py)
                opened.unit_observer = metrics.observe_storage
            realtime.bind(app[SERVICES])
            # The VAPID key is made on first start (kept sealed in storage) and loaded.
            await app[SERVICES].notifications.vapid_public_key()
            event("server.started", level=logging.INFO)
            # Inside realtime.running(): what is sent at shutdown (in-page notices, changes
            # from the background tasks) may publish to Redis, and a publish after the Redis
            # manager closed would open a new connection that nothing closes.
            async with realtime.running():
                background = [
                    asyncio.create_task(_checkpoints(opened, clock, settings)),
                    # Records retention (docs/operations.md, "Retention").
                    asyncio.create_task(
                        retention_runs(app[SERVICES].retention, settings.retention_interval)
                    ),
                ]
                try:
                    yield
                finally:
                    for task in background:
                        task.cancel()
                    for task in background:
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    # Notifications noted before the shutdown still go out (briefly).
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(app[SERVICES].notifications.close(), 5)
        finally:
            await push.__aexit__(None, None, None)
            await readiness.close()
            if own:
                await opened.close()

    app.cleanup_ctx.append(resources)
    if settings.static_dir is not None and settings.static_dir.is_dir():
        add_static_routes(app, settings.static_dir)
    return app
