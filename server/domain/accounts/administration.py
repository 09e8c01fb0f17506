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
"""

from __future__ import annotations

import storage
from server.domain.accounts._common import Auditor
from server.domain.accounts.sessions import SessionService
from server.domain.clock import Clock
from server.domain.policy import Actor, check_org_role
from server.errors import NotFound

__all__ = ["AdministrationService"]


class AdministrationService:
    def __init__(self, store: storage.Storage, clock: Clock, sessions: SessionService) -> None:
        self._store = store
        self._clock = clock
        self._sessions = sessions
        self._audit = Auditor(store, clock)

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
