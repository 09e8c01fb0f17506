"""``/readyz``: may this node take traffic? (``docs/deploy.md`` section 10)

Ready when its storage answers a read and a write and, if the deployment has Redis, Redis
answers a ``PING``; else ``503`` naming the component that failed, nothing more (no
addresses, no error text). No authentication: a load balancer or Kubernetes asks it.
``/healthz`` (``server.app``) is liveness only: the process answers, whatever its storage or
Redis do, so an outage of either takes nodes out of the balancer (here) rather than having
them all restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

import storage
from server.settings import Settings

__all__ = ["Readiness"]

#: Seconds each check may take before it counts as down.
CHECK_TIMEOUT = 2.0


class Readiness:
    """The ``/readyz`` handler; holds one small Redis client for its pings."""

    def __init__(self, settings: Settings) -> None:
        self._redis_url = None if settings.redis_url is None else settings.redis_url.reveal()
        self._redis: Any = None

    async def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    async def _storage_ok(self, store: storage.Storage | None) -> bool:
        if store is None:
            return False
        try:
            await asyncio.wait_for(store.check_health(), CHECK_TIMEOUT)
        except (storage.StorageError, TimeoutError):
            return False
        return True

    async def _redis_ok(self) -> bool:
        assert self._redis_url is not None
        if self._redis is None:
            self._redis = aioredis.Redis.from_url(
                self._redis_url,
                socket_connect_timeout=CHECK_TIMEOUT,
                socket_timeout=CHECK_TIMEOUT,
            )
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), CHECK_TIMEOUT))
        except Exception:  # any failure to answer is "down"; nothing of it is reported
            return False

    def handler(self, store: Callable[[], storage.Storage | None]) -> Callable[..., Any]:
        async def readyz(request: web.Request) -> web.Response:
            body = {"status": "ok", "storage": "ok", "redis": "not_configured"}
            if not await self._storage_ok(store()):
                body["storage"] = "down"
            if self._redis_url is not None:
                body["redis"] = "ok" if await self._redis_ok() else "down"
            ready = "down" not in body.values()
            if not ready:
                body["status"] = "unavailable"
            return web.json_response(body, status=200 if ready else 503)

        return readyz
