"""Sending Web Push messages (RFC 8030 section 5) over aiohttp: the edge behind the domain's
``PushGateway`` (``server/domain/notifications.py`` encrypts and signs; this only POSTs).

One client session per app (opened and closed in ``server/app.py``'s ``cleanup_ctx``), a
short timeout, no redirects followed (a push service does not redirect; following one would
let an endpoint send the server elsewhere), and nothing logged here: the caller logs the
status only.
"""

from __future__ import annotations

import aiohttp

__all__ = ["HttpPushGateway"]


class HttpPushGateway:
    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpPushGateway:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, endpoint: str, body: bytes, authorization: str, ttl: int) -> int:
        """POST one encrypted push; the push service's status (201 when accepted), or 0
        when it could not be reached."""
        if self._session is None:
            return 0
        headers = {
            "Content-Encoding": "aes128gcm",  # RFC 8291 section 4
            "Content-Type": "application/octet-stream",
            "TTL": str(ttl),  # RFC 8030 section 5.2
            "Urgency": "normal",  # RFC 8030 section 5.3
            "Authorization": authorization,  # RFC 8292 section 3
        }
        try:
            async with self._session.post(
                endpoint, data=body, headers=headers, allow_redirects=False
            ) as resp:
                return resp.status
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return 0
