"""Throttling credential checks so that guessing is slow and nobody can lock a person out.

Rules (NIST SP 800-63B section 5.2.2; docs/architecture.md, "Login attempts")
-----------------------------------------------------------------------------
* Credential checks (password, TOTP, recovery code, passkey, the current password of a
  password change) run one at a time per login name / account in this process
  (:meth:`LoginThrottle.one_attempt`); callers re-read the failure state under that lock.
  Without it, N parallel guesses all pass the checks before the first failure is counted.
* **Per account and address.** Failures are counted per (account, client address) pair,
  the address as the rate limiter keys it (an IPv6 client by its /64). From the second
  failure of a pair on, its next attempt must wait 1, 2, 4, ... seconds (at most a minute;
  ``signin_delayed``); after ``login_max_failures`` failures that address is locked out of
  that account for ``login_lockout`` seconds (``address_locked``), audited
  ``login.address_locked``. Every other address, the real person's, is unaffected: the
  clinician signs in with password and TOTP (or a recovery code, or a passkey) while the
  guessing goes on elsewhere.
* **Per account, all addresses.** Failures are also counted per account in the database
  (``Storage.record_auth_failure``), since the last complete sign-in. When they reach
  ``login_account_limit`` (100 by default, the ceiling NIST sets) the account stops
  accepting attempts from addresses it has never signed in from (``account_locked``) for
  ``login_lockout`` seconds, renewed by every further failure; the addresses from which
  this account completed a sign-in (remembered by this process) still may try, under their
  own pair limits. Audited ``login.locked`` and logged as a WARNING for monitoring.
* A complete sign-in resets the account's counter and its pair, and answers how many
  failed attempts there were since the previous sign-in (shown to the person).
* Login names without an account ("ghosts") get the same answers from in-memory counters
  keyed by a keyed hash of the name, so neither the error code nor the timing class tells
  whether a name exists.
* The pair counters, backoff times and known addresses are per process (several nodes
  multiply the per-address allowance by their number); the account-wide count is in the
  database and holds across processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import storage
from server.domain.accounts._common import AccountSettings, Auditor
from server.domain.clock import Clock
from server.errors import AddressLocked, Locked, SignInDelayed
from server.logs import event
from server.netaddr import rate_limit_key

__all__ = ["LoginThrottle"]

#: Beyond this many remembered pairs, names or accounts, an in-memory map starts afresh.
_MAX_ENTRIES = 100_000
#: Addresses remembered per account as "signed in from here before".
_MAX_KNOWN_PER_ACCOUNT = 20


def _seconds_until(then: dt.datetime, now: dt.datetime) -> int:
    return int((then - now).total_seconds()) + 1


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
        self._attempt_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # (account, address) pair -> failures and the pair's lock; "not before" times.
        self._pairs: dict[bytes, storage.AuthFailureState] = {}
        self._backoff: dict[bytes, dt.datetime] = {}
        # account -> keyed hashes of the addresses it completed a sign-in from.
        self._known: dict[str, list[bytes]] = {}
        # unknown name -> the account-wide state an account would have in the database.
        self._ghosts: dict[str, storage.AuthFailureState] = {}

    @asynccontextmanager
    async def one_attempt(self, key: str) -> AsyncIterator[None]:
        """Serialise credential checks on one key (``"login:" + name`` or
        ``"user:" + user id``)."""
        lock = self._attempt_locks.get(key)
        if lock is None:
            lock = self._attempt_locks[key] = asyncio.Lock()
        async with lock:
            yield

    # ------------------------------------------------------------------ keys

    def _address(self, client: str | None) -> bytes:
        """A keyed hash of the client's rate-limit key (no address kept in the clear)."""
        key = rate_limit_key(client or "unknown")
        return hmac.new(self._secret, b"address\x00" + key.encode(), hashlib.sha256).digest()

    def _pair(self, account: str, client: str | None) -> bytes:
        return hashlib.sha256(account.encode() + b"\x00" + self._address(client)).digest()

    def _ghost_account(self, name: str) -> str:
        digest = hashlib.sha256(self._secret + b"\x00ghost\x00" + name.encode()).hexdigest()
        return "ghost:" + digest

    # ------------------------------------------------------------------ checks

    def _check_pair(self, account: str, client: str | None) -> None:
        now = self._clock.now()
        pair = self._pair(account, client)
        state = self._pairs.get(pair)
        if state is not None and state.locked_until is not None and state.locked_until > now:
            raise AddressLocked(retry_after=_seconds_until(state.locked_until, now))
        not_before = self._backoff.get(pair)
        if not_before is not None and not_before > now:
            raise SignInDelayed(retry_after=_seconds_until(not_before, now))

    def _check_account(
        self, account: str, locked_until: dt.datetime | None, client: str | None
    ) -> None:
        now = self._clock.now()
        if locked_until is None or locked_until <= now:
            return
        if self._address(client) in self._known.get(account, ()):
            return
        raise Locked(retry_after=_seconds_until(locked_until, now))

    def check_not_locked(self, user: storage.User, client: str | None) -> None:
        """Refuse before checking anything: this address locked out of or waiting on this
        account, or the account at its cap and this address not one it signed in from."""
        self._check_pair(user.user_id, client)
        self._check_account(user.user_id, user.locked_until, client)

    def check_ghost(self, name: str, client: str | None) -> None:
        """The refusal an account would get, for an unknown name."""
        account = self._ghost_account(name)
        self._check_pair(account, client)
        state = self._ghosts.get(account)
        self._check_account(account, state.locked_until if state else None, client)

    # ------------------------------------------------------------------ failures

    def _fail_pair(self, account: str, client: str | None) -> bool:
        """Count one failure of the pair; True when it locked the pair."""
        now = self._clock.now()
        pair = self._pair(account, client)
        old = self._pairs.get(pair)
        if old is not None and old.locked_until is not None and old.locked_until <= now:
            old = None  # a lock that ended starts the count afresh
        count = (old.failed_logins if old else 0) + 1
        locked = None
        if count >= self._settings.login_max_failures:
            locked = now + dt.timedelta(seconds=self._settings.login_lockout)
        if len(self._pairs) > _MAX_ENTRIES:
            self._pairs.clear()
        self._pairs[pair] = storage.AuthFailureState(count, locked)
        if locked is not None:
            self._backoff.pop(pair, None)
            return True
        if count >= 2:
            # 1, 2, 4, ... seconds (at most a minute) between attempts of this address on
            # this account, so guessing is slow even below the lock threshold.
            if len(self._backoff) > _MAX_ENTRIES:
                self._backoff.clear()
            self._backoff[pair] = now + dt.timedelta(seconds=min(2 ** (count - 2), 60))
        return False

    async def fail(
        self, user: storage.User, action: str, client: str | None, detail: bytes = b""
    ) -> None:
        """Count a failed check of ``user``'s credentials from ``client``, audited as
        ``action`` (with ``detail``: a fixed reason code, never what was typed)."""
        now = self._clock.now()
        state = await self._store.record_auth_failure(
            user.user_id,
            now,
            lock_after=self._settings.login_account_limit,
            lock_for=dt.timedelta(seconds=self._settings.login_lockout),
        )
        await self._audit(action, actor_id=user.user_id, client=client, detail=detail)
        self._observe("failure")
        if self._fail_pair(user.user_id, client):
            self._observe("lockout")
            await self._audit("login.address_locked", actor_id=user.user_id, client=client)
            event("auth.address_locked", level=logging.WARNING, user_id=user.user_id)
        if state.locked_until is not None and state.locked_until > now:
            self._observe("lockout")
            await self._audit("login.locked", actor_id=user.user_id, client=client)
            # Operators must notice: many addresses are guessing at one account
            # (docs/architecture.md "Login attempts"); the user id is opaque.
            event("auth.account_locked", level=logging.WARNING, user_id=user.user_id)

    def fail_ghost(self, name: str, client: str | None) -> None:
        """Count a failure for an unknown name exactly as :meth:`fail` counts one for an
        account (storage's ``record_auth_failure`` for the account-wide part)."""
        now = self._clock.now()
        self._observe("failure")
        account = self._ghost_account(name)
        if self._fail_pair(account, client):
            self._observe("lockout")
        old = self._ghosts.get(account)
        count = (old.failed_logins if old else 0) + 1
        locked = old.locked_until if old else None
        if count >= self._settings.login_account_limit:
            locked = now + dt.timedelta(seconds=self._settings.login_lockout)
            self._observe("lockout")
        if len(self._ghosts) > _MAX_ENTRIES:
            self._ghosts.clear()
        self._ghosts[account] = storage.AuthFailureState(count, locked)

    # ------------------------------------------------------------------ success

    async def succeeded(self, user: storage.User, client: str | None) -> int:
        """A complete sign-in from ``client``: the account's counter and this pair start
        afresh, and the address is remembered as one the account signs in from. Returns
        the number of failed attempts since the previous sign-in (``user`` as read under
        the attempt lock)."""
        await self._store.reset_auth_failures(user.user_id)
        pair = self._pair(user.user_id, client)
        self._pairs.pop(pair, None)
        self._backoff.pop(pair, None)
        address = self._address(client)
        known = [a for a in self._known.get(user.user_id, []) if a != address]
        known.append(address)
        if len(self._known) > _MAX_ENTRIES:
            self._known.clear()
        self._known[user.user_id] = known[-_MAX_KNOWN_PER_ACCOUNT:]
        return user.failed_logins
