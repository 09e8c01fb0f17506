"""Throttling credential checks: one attempt at a time, backoff, lockout, unknown names.

Rules
-----
* Credential checks (password, TOTP, recovery code, the current password of a password
  change) run one at a time per login name / account in this process
  (:meth:`LoginThrottle.one_attempt`); callers re-read the failure state under that lock.
  Without it, N parallel guesses all pass the lock check before the first failure is
  counted, so the lockout would allow N guesses instead of ``login_max_failures``.
* Failures count per account in the database (``Storage.record_auth_failure``): from the
  second failure on, the next attempt must wait 1, 2, 4, ... seconds (at most a minute;
  answered ``rate_limited``); after ``login_max_failures`` the account locks for
  ``login_lockout`` seconds (``account_locked``), audited ``login.locked`` and logged as a
  WARNING for monitoring (``docs/architecture.md``, "the lockout trade-off"). A locked or
  backing-off account is refused before any check. A success resets the counter.
* Login names without an account ("ghosts") get the same backoff and lockout answers from
  an in-memory counter keyed by a keyed hash of the name, so neither the error code nor the
  timing class tells whether a name exists. The counters are per process; real accounts
  lock in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import storage
from server.domain.accounts._common import AccountSettings, Auditor
from server.domain.clock import Clock
from server.errors import Locked, RateLimited
from server.logs import event

__all__ = ["LoginThrottle"]

#: Beyond this many remembered names or accounts, the in-memory maps start afresh.
_MAX_ENTRIES = 100_000


class LoginThrottle:
    def __init__(
        self,
        store: storage.Storage,
        settings: AccountSettings,
        clock: Clock,
        secret: bytes,
        observe: Callable[[str], None] = lambda _event: None,
    ) -> None:
        #: told "failure" and "lockout" (counted by server/metrics.py; no name, no id)
        self._observe = observe
        self._store = store
        self._settings = settings
        self._clock = clock
        self._secret = secret
        self._audit = Auditor(store, clock)
        # Per-account (user id, or "ghost:" + name) "not before" times after failures.
        self._backoff: dict[str, dt.datetime] = {}
        self._attempt_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._ghosts: dict[bytes, storage.AuthFailureState] = {}

    @asynccontextmanager
    async def one_attempt(self, key: str) -> AsyncIterator[None]:
        """Serialise credential checks on one key (``"login:" + name`` or
        ``"user:" + user id``)."""
        lock = self._attempt_locks.get(key)
        if lock is None:
            lock = self._attempt_locks[key] = asyncio.Lock()
        async with lock:
            yield

    # ------------------------------------------------------------------ accounts

    def check_not_locked(self, user: storage.User) -> None:
        """Refuse before checking anything while locked (database, all processes) or while
        backing off after a failure (this process)."""
        now = self._clock.now()
        if user.locked_until is not None and user.locked_until > now:
            retry = int((user.locked_until - now).total_seconds()) + 1
            raise Locked(retry_after=retry)
        not_before = self._backoff.get(user.user_id)
        if not_before is not None and not_before > now:
            raise RateLimited(retry_after=int((not_before - now).total_seconds()) + 1)

    async def fail(
        self, user: storage.User, action: str, client: str | None, detail: bytes = b""
    ) -> None:
        """Count a failed check of ``user``'s credentials, audited as ``action`` (with
        ``detail``: a fixed reason code, never what was typed)."""
        state = await self._store.record_auth_failure(
            user.user_id,
            self._clock.now(),
            lock_after=self._settings.login_max_failures,
            lock_for=dt.timedelta(seconds=self._settings.login_lockout),
        )
        await self._audit(action, actor_id=user.user_id, client=client, detail=detail)
        self._observe("failure")
        if state.locked_until is not None and state.locked_until > self._clock.now():
            self._observe("lockout")
            await self._audit("login.locked", actor_id=user.user_id, client=client)
            # Operators must notice a lockout (it may be an attacker keeping a clinician
            # out: docs/architecture.md "Lockout trade-off"); the user id is opaque.
            event("auth.account_locked", level=logging.WARNING, user_id=user.user_id)
        else:
            self._set_backoff(user.user_id, state.failed_logins)

    async def succeeded(self, user_id: str) -> None:
        """A complete sign-in: the failure counter and the backoff start afresh."""
        await self._store.reset_auth_failures(user_id)
        self._backoff.pop(user_id, None)

    # ------------------------------------------------------------------ unknown names

    def _ghost_key(self, name: str) -> bytes:
        return hashlib.sha256(self._secret + b"\x00ghost\x00" + name.encode()).digest()

    def check_ghost(self, name: str) -> None:
        """The refusal a locked or backing-off account would get, for an unknown name."""
        state = self._ghosts.get(self._ghost_key(name))
        now = self._clock.now()
        if state is not None and state.locked_until is not None and state.locked_until > now:
            raise Locked(retry_after=int((state.locked_until - now).total_seconds()) + 1)
        not_before = self._backoff.get("ghost:" + name)
        if not_before is not None and not_before > now:
            raise RateLimited(retry_after=int((not_before - now).total_seconds()) + 1)

    def fail_ghost(self, name: str) -> None:
        """Count a failure for an unknown name exactly as :meth:`fail` and storage's
        ``record_auth_failure`` count one for a real account."""
        key = self._ghost_key(name)
        now = self._clock.now()
        self._observe("failure")
        old = self._ghosts.get(key)
        count = (old.failed_logins if old else 0) + 1
        locked = old.locked_until if old else None
        if count >= self._settings.login_max_failures:
            locked = now + dt.timedelta(seconds=self._settings.login_lockout)
        if len(self._ghosts) > _MAX_ENTRIES:
            self._ghosts.clear()
        self._ghosts[key] = storage.AuthFailureState(count, locked)
        if locked is None or locked <= now:
            self._set_backoff("ghost:" + name, count)

    def _set_backoff(self, key: str, failed_logins: int) -> None:
        if failed_logins >= 2:
            # Backoff before the lockout: 1, 2, 4, ... seconds (at most a minute) between
            # attempts on this account, so guessing is slow even below the lock threshold.
            delay = min(2 ** (failed_logins - 2), 60)
            if len(self._backoff) > _MAX_ENTRIES:
                self._backoff.clear()
            self._backoff[key] = self._clock.now() + dt.timedelta(seconds=delay)
