"""Typed keys of the aiohttp application and request (aiohttp ``AppKey`` / ``RequestKey``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from server.settings import Settings

if TYPE_CHECKING:
    from server.domain.accounts import Authenticated
    from server.services import Services

__all__ = ["AUTH", "CLIENT_ADDRESS", "CSRF_KEY", "SERVICES", "SETTINGS"]

SETTINGS = web.AppKey("settings", Settings)
SERVICES: web.AppKey[Services] = web.AppKey("services")
CSRF_KEY = web.AppKey("csrf_key", bytes)
CLIENT_ADDRESS = web.RequestKey("client_address", str)
AUTH: web.RequestKey[Authenticated] = web.RequestKey("auth")
