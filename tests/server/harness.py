"""Build the real object graph for server tests: settings, SQLite storage, the app on a
random port, a fake clock; and people (admin, GP, dermatologist) made through the API
with the Python client, exactly as a user would."""

from __future__ import annotations

import dataclasses
import os
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pyotp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.web_runner import BaseRunner

import storage
from client_py.client import DermlineClient
from crypto.account import KeyPair, generate_key_pair
from server.api.keys import SERVICES
from server.app import create_app
from server.domain.clock import FakeClock
from server.services import Services
from server.settings import Settings, load_settings

__all__ = [
    "BACKENDS",
    "PASSWORD",
    "Live",
    "Person",
    "World",
    "live_server",
    "make_world",
    "settings_for",
]

ORIGIN = "http://dermline.test"
PASSWORD = "correct horse battery staple"


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "allowed_origins": ORIGIN,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "auth_rate_per_minute": 1000,
        # tests make changes and read them back at once; one head per second is
        # checked by its own test (tests/server/domain/test_transparency.py)
        "tree_head_interval_ms": 0,
    }
    base.update(overrides)
    return load_settings(environ={}, overrides=base)


@dataclasses.dataclass
class Person:
    client: DermlineClient
    login_name: str
    totp_secret: str
    recovery_codes: list[str]

    @property
    def user_id(self) -> str:
        assert self.client.identity is not None
        return self.client.identity.user_id


@dataclasses.dataclass
class Live:
    url: str
    clock: FakeClock
    settings: Settings
    services: Services
    clients: list[DermlineClient]
    app: web.Application
    #: the storage the app runs on, for tests that look behind the domain (audit entries,
    #: stored records); the app's own transports never see it
    store: storage.Storage

    def client(self, origin: str | None = None) -> DermlineClient:
        c = DermlineClient(self.url, origin=origin)
        self.clients.append(c)
        return c

    def code(self, secret: str) -> str:
        """The TOTP code for the next time step (so no code is ever reused by accident)."""
        self.clock.advance(30)
        return pyotp.TOTP(secret).at(self.clock.now())

    async def person(self, token: str, login_name: str, display: str) -> Person:
        c = self.client()
        await c.accept_invite(token, login_name, display, PASSWORD)
        assert await c.login(login_name, PASSWORD) == "enrol"
        enrolment = await c.begin_totp_enrolment()
        secret = urllib.parse.parse_qs(urllib.parse.urlparse(enrolment["otpauth_uri"]).query)[
            "secret"
        ][0]
        codes = await c.confirm_totp(self.code(secret))
        return Person(c, login_name, secret, codes)

    async def relogin(self, p: Person) -> DermlineClient:
        c = self.client()
        await c.login(p.login_name, PASSWORD, totp=lambda: self.code(p.totp_secret))
        return c


@dataclasses.dataclass
class World:
    live: Live
    admin: Person
    gp: Person
    derm: Person
    practice_id: str
    service_id: str
    records_key: KeyPair


#: Backends the server tests run on: SQLite always; PostgreSQL too when the environment
#: names a test database (CI sets DERMLINE_TEST_POSTGRES_DSN), as the storage suite does.
PG_DSN = os.environ.get("DERMLINE_TEST_POSTGRES_DSN")
BACKENDS = ["sqlite", "postgres"] if PG_DSN else ["sqlite"]


@asynccontextmanager
async def _storage_config(data_dir: Path, backend: str) -> AsyncIterator[storage.StorageConfig]:
    if backend == "sqlite":
        yield storage.StorageConfig(data_dir=data_dir)
        return
    import asyncpg

    schema = f"srv_{secrets.token_hex(6)}"
    try:
        yield storage.StorageConfig(
            backend="postgres", data_dir=data_dir, postgres_dsn=PG_DSN, postgres_schema=schema
        )
    finally:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


class _ProductionTestServer(TestServer):
    """A test server whose handlers run on when the client goes away, as under
    ``web.run_app`` (``server.cli``; aiohttp's default ``handler_cancellation=False``).
    aiohttp's ``TestServer`` cancels them instead, which would hide what production does
    with a request body cut short."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        kwargs["handler_cancellation"] = False
        return await super()._make_runner(**kwargs)


@asynccontextmanager
async def live_server(
    data_dir: Path,
    backend: str = "sqlite",
    *,
    production_runner: bool = False,
    app_hook: Callable[[web.Application], object] | None = None,
    **overrides: Any,
) -> AsyncIterator[Live]:
    """The app on a random port; ``app_hook`` may change the app before it starts (the
    malicious-server harness, ``tests.harness.attacks.install``)."""
    async with (
        _storage_config(data_dir, backend) as config,
        _live(data_dir, config, overrides, production_runner, app_hook) as live,
    ):
        yield live


@asynccontextmanager
async def _live(
    data_dir: Path,
    config: storage.StorageConfig,
    overrides: dict[str, Any],
    production_runner: bool = False,
    app_hook: Callable[[web.Application], object] | None = None,
) -> AsyncIterator[Live]:
    settings = settings_for(data_dir, **overrides)
    clock = FakeClock()
    store = await storage.open_storage(config)
    app = create_app(settings, clock=clock, store=store, environ={})
    if app_hook is not None:
        app_hook(app)
    server = (_ProductionTestServer if production_runner else TestServer)(app, host="127.0.0.1")
    await server.start_server()
    live = Live(
        str(server.make_url("")).rstrip("/"), clock, settings, app[SERVICES], [], app, store
    )
    try:
        yield live
    finally:
        for c in live.clients:
            await c.close()
        await server.close()
        await store.close()


async def make_world(live: Live) -> World:
    token = await live.services.organisations.first_admin_invite()
    assert token is not None
    admin = await live.person(token, "admin@example.org", "Ada Admin")
    records = generate_key_pair()
    practice = await admin.client.create_organisation("practice", "Elm Surgery", records.public_key)
    service = await admin.client.create_organisation("service", "Skin Service")
    gp = await live.person(
        await admin.client.invite(practice["org_id"], "gp"), "gp@example.org", "Dr Gee"
    )
    derm = await live.person(
        await admin.client.invite(service["org_id"], "dermatologist"),
        "derm@example.org",
        "Dr Derm",
    )
    return World(live, admin, gp, derm, practice["org_id"], service["org_id"], records)
