"""Administration of people: list an organisation's users, reset a user's second factor,
revoke all of a user's sessions.

Rules
-----
* An admin acts on the users of their own organisations only: a user of no organisation
  the caller administers answers ``not_found``, exactly like one that does not exist.
  ``actor`` None is the local operator's command line (``dermline users ...``).
* Listing users: admins of the organisation (``not_found`` outside it, ``forbidden``
  without the role; ``policy.check_org_role``).
* Resetting the second factor clears the TOTP secret and recovery codes, removes every
  passkey (and its USK wrap) and ends every session of the user; revoking sessions ends
  them all. Both are audited (``totp.reset_by_admin``, ``session.revoke_all``) and close
  the user's live sockets.
* Disabling an account (an admin of one of the user's organisations, not themselves) and
  removing a role (an admin of that organisation): storage takes the person off every case
  that needed them in the same unit (docs/protocol.md section 24), so those cases need a
  new epoch before anything more is sent. Disabling also ends every session. Audited
  (``user.disabled``, ``membership.removed``); the cases are announced after the commit
  (``on_removed``: the case service tells the real-time layer).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence

import storage
from server.domain.accounts._common import Auditor
from server.domain.accounts.sessions import SessionService
from server.domain.clock import Clock
from server.domain.policy import Actor, check_org_role
from server.domain.transparency import removal_append
from server.errors import Forbidden, NotFound

__all__ = ["AdministrationService"]


class AdministrationService:
    def __init__(
        self,
        store: storage.Storage,
        clock: Clock,
        sessions: SessionService,
        on_removed: Callable[[str, Sequence[str]], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sessions = sessions
        self._audit = Auditor(store, clock)
        self._on_removed = on_removed

    async def _removed(self, user_id: str, case_ids: Sequence[str]) -> None:
        if self._on_removed is not None and case_ids:
            await self._on_removed(user_id, case_ids)

    async def disable_user(
        self, actor: Actor | None, user_id: str, client: str | None
    ) -> storage.User:
        """Disable the account, take the person off every case and end their sessions."""
        target = await self._user_in_admins_org(actor, user_id)
        if actor is not None and actor.user_id == target.user_id:
            raise Forbidden("you cannot disable your own account")
        now = self._clock.now()
        # The removal goes into the transparency log with the change (once per account).
        log = (
            []
            if target.disabled
            else [removal_append(user_id=target.user_id, org_id=None, role=None, when=now)]
        )
        user, cases = await self._store.disable_user(target.user_id, now, log)
        await self._sessions.revoke_all(target.user_id)
        await self._sessions.notify_revoked(target.user_id)
        await self._audit(
            "user.disabled",
            actor_id=actor.user_id if actor else None,
            target=user_id,
            client=client,
            detail=json.dumps({"cases": len(cases)}).encode(),
        )
        await self._removed(target.user_id, cases)
        return user

    async def remove_membership(
        self,
        actor: Actor | None,
        org_id: str,
        user_id: str,
        role: storage.Role,
        client: str | None,
    ) -> storage.User:
        """Take one role in one organisation away from a person (and them off the cases
        that needed it). 404 for a user or role the organisation does not have."""
        if actor is not None:
            check_org_role(actor, org_id, storage.Role.ADMIN)
        now = self._clock.now()
        try:
            entry = removal_append(user_id=user_id, org_id=org_id, role=role, when=now)
            user, cases = await self._store.remove_membership(
                user_id, storage.Membership(org_id, role), now, [entry]
            )
        except (storage.NotFound, storage.InvalidArgument, ValueError):
            # (ValueError: an id that is not a UUID, so no account or organisation here)
            raise NotFound() from None
        await self._audit(
            "membership.removed",
            actor_id=actor.user_id if actor else None,
            target=user_id,
            client=client,
            detail=json.dumps({"org": org_id, "role": role.value, "cases": len(cases)}).encode(),
        )
        await self._removed(user_id, cases)
        return user

    async def list_users(self, actor: Actor | None, org_id: str) -> list[storage.User]:
        if actor is not None:
            check_org_role(actor, org_id, storage.Role.ADMIN)
        return await self._store.list_users(org_id)

    async def _user_in_admins_org(self, actor: Actor | None, user_id: str) -> storage.User:
        try:
            target = await self._store.get_user(user_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if actor is None:
            return target
        orgs = {m.org_id for m in target.memberships}
        if not any(storage.Role.ADMIN in actor.roles_in(org) for org in orgs):
            raise NotFound()
        return target

    async def revoke_user_sessions(
        self, actor: Actor | None, user_id: str, client: str | None
    ) -> int:
        """Revoke every session of a user of one of the caller's organisations."""
        target = await self._user_in_admins_org(actor, user_id)
        count = await self._sessions.revoke_all(target.user_id)
        await self._sessions.notify_revoked(target.user_id)
        await self._audit(
            "session.revoke_all",
            actor_id=actor.user_id if actor else None,
            target=user_id,
            client=client,
        )
        return count

    async def reset_totp(self, actor: Actor | None, user_id: str, client: str | None) -> None:
        """Clear a user's second factors (TOTP, recovery codes, passkeys) and revoke their
        sessions, audited."""
        target = await self._user_in_admins_org(actor, user_id)
        await self._store.reset_totp(target.user_id, self._clock.now())
        await self._store.delete_user_passkeys(target.user_id)
        await self._sessions.revoke_all(target.user_id)
        await self._sessions.notify_revoked(target.user_id)
        await self._audit(
            "totp.reset_by_admin",
            actor_id=actor.user_id if actor else None,
            target=user_id,
            client=client,
        )
