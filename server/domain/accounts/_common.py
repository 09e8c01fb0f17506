"""What the account services share: their settings, token hashing, the auth-key hasher,
the audit helper and the public-key check. Private to ``server.domain.accounts``."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

import storage
from crypto.errors import PublicKeyError
from crypto.fingerprint import spki_der
from server.domain.clock import Clock
from server.domain.policy import Actor
from server.errors import InvalidInput

__all__ = [
    "AccountSettings",
    "Auditor",
    "AuthKeyHasher",
    "actor_of",
    "check_public_key",
    "hash_token",
]


@dataclass(frozen=True)
class AccountSettings:
    """The slice of ``server.settings.Settings`` the account services need."""

    session_ttl: int
    session_idle_timeout: int
    invite_ttl: int
    login_max_failures: int
    login_lockout: int
    mfa_pending_ttl: int
    login_account_limit: int = 100


def hash_token(token: str) -> bytes:
    """SHA-256 of a cookie or invite token (what storage keeps)."""
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def actor_of(user: storage.User) -> Actor:
    roles: dict[str, set[storage.Role]] = {}
    for m in user.memberships:
        roles.setdefault(m.org_id, set()).add(m.role)
    return Actor(user.user_id, {org: frozenset(r) for org, r in roles.items()})


def check_public_key(raw: bytes) -> None:
    """A 65-byte uncompressed P-256 point on the curve (WebCrypto "raw" export), checked by
    the crypto recipe every key id goes through (``crypto.fingerprint.spki_der``)."""
    try:
        spki_der(raw)
    except PublicKeyError:
        raise InvalidInput("a public key must be an uncompressed P-256 point") from None


class AuthKeyHasher:
    """Argon2id over the client's auth key (the server never sees a password).

    Argon2id is deliberately slow, so hashing and verifying run off the event loop. A
    verify against :meth:`verify_dummy` costs the same as a real one: unknown login names
    pay it, so timing does not tell which names exist.
    """

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1
        )
        self._dummy_hash = self._hasher.hash(secrets.token_bytes(32))

    async def hash(self, auth_key: bytes) -> str:
        return await asyncio.to_thread(self._hasher.hash, auth_key)

    async def verify(self, stored_hash: str, auth_key: bytes) -> bool:
        def run() -> bool:
            try:
                return bool(self._hasher.verify(stored_hash, auth_key))
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(run)

    async def verify_dummy(self, auth_key: bytes) -> None:
        await self.verify(self._dummy_hash, auth_key)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


class Auditor:
    """Appends audit entries with the service's clock (action codes: ``docs/api.md``)."""

    def __init__(self, store: storage.Storage, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(
        self,
        action: str,
        *,
        actor_id: str | None,
        target: str | None = None,
        client: str | None = None,
        detail: bytes = b"",
    ) -> None:
        await self._store.append_audit(
            storage.AuditEvent(
                action=action,
                occurred_at=self._clock.now(),
                actor_id=actor_id,
                target=target,
                client_address=client,
                detail=detail,
            )
        )
