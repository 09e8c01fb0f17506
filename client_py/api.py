"""HTTP side of the Python client: one aiohttp session, the cookie, the CSRF header.

Errors come back as :class:`ApiError` with the server's stable ``code`` (``docs/api.md``)
and HTTP status; the message is the server's fixed text.
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp

__all__ = ["ApiError", "HttpApi", "b64d", "b64e"]

SESSION_COOKIE = "dermline_session"
CSRF_HEADER = "X-CSRF-Token"


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ApiError(Exception):
    """``extra``: numeric fields some errors carry beside code and message (``key_epoch``,
    ``next_epoch``; docs/api.md "Errors")."""

    def __init__(
        self, status: int, code: str, message: str, extra: dict[str, int] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


class HttpApi:
    """JSON over HTTP with the session cookie kept in a cookie jar."""

    def __init__(self, base_url: str, *, origin: str | None = None, ssl: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = origin
        self._ssl = ssl
        # unsafe=True: the jar must accept cookies from an IP host (127.0.0.1 in tests).
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf_token: str | None = None

    async def close(self) -> None:
        await self.session.close()

    @property
    def session_token(self) -> str | None:
        for cookie in self.session.cookie_jar:
            if cookie.key == SESSION_COOKIE:
                return cookie.value
        return None

    def cookie_header(self) -> str:
        token = self.session_token
        return f"{SESSION_COOKIE}={token}" if token else ""

    async def request(
        self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None
    ) -> Any:
        headers = {}
        if self.csrf_token and method not in ("GET", "HEAD"):
            headers[CSRF_HEADER] = self.csrf_token
        if self._origin:
            headers["Origin"] = self._origin
        async with self.session.request(
            method,
            self.base_url + path,
            json=body,
            params=params,
            headers=headers,
            ssl=self._ssl,
        ) as resp:
            if resp.status == 204:
                return None
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                err = (data or {}).get("error", {}) if isinstance(data, dict) else {}
                extra = {k: v for k, v in err.items() if isinstance(v, int)}
                raise ApiError(
                    resp.status, err.get("code", "unknown"), err.get("message", ""), extra
                )
            if isinstance(data, dict) and data.get("csrf_token"):
                self.csrf_token = data["csrf_token"]
            return data

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        )

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.request("POST", path, body)

    async def put(self, path: str, body: Any = None) -> Any:
        return await self.request("PUT", path, body)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    # ---- administration (docs/api.md "Organisations and people")

    async def list_invites(self, org_id: str) -> list[dict[str, Any]]:
        """The organisation's invites, newest first, each with ``invite_id`` and ``status``
        (``pending`` | ``used`` | ``revoked`` | ``expired``); admins of it only."""
        answer = await self.get(f"/api/v1/orgs/{org_id}/invites")
        return list(answer["invites"])

    async def revoke_invite(self, org_id: str, invite_id: str) -> dict[str, Any]:
        """Cancel an unused invite; :class:`ApiError` ``conflict`` once used or cancelled."""
        return dict(await self.post(f"/api/v1/orgs/{org_id}/invites/{invite_id}/revoke"))
