"""Organisations' passkey requirements, and which second factor a person's sign-in asks for.

Rules
-----
* An administrator of an organisation may require passkeys of everyone in it or of chosen
  roles (``policy.check_org_role``: ``not_found`` outside the organisation, ``forbidden``
  without the admin role). Audited ``passkey.policy_set`` with the new setting.
* A person is *under a requirement* when any of their memberships matches one.
* After the password, the second step is (``next`` of the login answer):

  ============================  =========================================================
  the account                   next
  ============================  =========================================================
  no confirmed TOTP             ``enrol`` (TOTP enrolment, then as below)
  no passkey                    ``totp`` (under a requirement: TOTP, then ``passkey_enrol``)
  passkeys, no requirement      ``passkey`` (the TOTP code stays a fallback)
  passkeys, under requirement   ``passkey_only`` (the TOTP code is refused; a recovery code
                                is still accepted: the fallback for a lost passkey)
  ============================  =========================================================

* The transition: a person under a requirement who has no passkey yet passes TOTP (or a
  recovery code, or TOTP enrolment) as before, and then must register a passkey before the
  session becomes a full one (``passkeys``: the enrolment grant, valid for
  ``mfa_pending_ttl``). Losing every factor goes through the administrator's reset
  (``administration``), which removes the passkeys as well.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import storage
from server.domain.accounts._common import Auditor
from server.domain.clock import Clock
from server.domain.policy import Actor, check_org_role
from server.errors import MfaRequired

__all__ = ["PasskeyPolicy", "PasskeyPolicyService"]


@dataclass(frozen=True)
class PasskeyPolicy:
    """An organisation's requirement: everyone, or these roles."""

    org_id: str
    everyone: bool
    roles: tuple[storage.Role, ...]


def _grant_hash(session: storage.Session) -> bytes:
    """Where a pending session's enrolment grant is stored (among the challenges, which are
    stored by a hash too; the label keeps the two apart)."""
    return hashlib.sha256(b"dermline/passkey-enrol-grant\x00" + session.session_id_hash).digest()


class PasskeyPolicyService:
    def __init__(self, store: storage.Storage, clock: Clock, grant_ttl: int) -> None:
        self._store = store
        self._clock = clock
        self._grant_ttl = grant_ttl
        self._audit = Auditor(store, clock)

    # ------------------------------------------------------------------ enrolment grants

    async def grant_enrolment(self, session: storage.Session, user: storage.User) -> None:
        """The pending ``session`` passed its second factor but must register a passkey
        before it becomes a full session."""
        now = self._clock.now()
        # Granted already (a recovery code used after the TOTP step, say): keep the first.
        with contextlib.suppress(storage.Conflict):
            await self._store.put_passkey_challenge(
                storage.PasskeyChallenge(
                    challenge_hash=_grant_hash(session),
                    purpose=storage.PasskeyPurpose.ENROL_GRANT,
                    created_at=now,
                    expires_at=min(session.expires_at, now + dt.timedelta(seconds=self._grant_ttl)),
                    user_id=user.user_id,
                    session_hash=session.session_id_hash,
                )
            )

    async def check_granted(self, session: storage.Session) -> None:
        """:class:`MfaRequired` unless the pending session holds a live enrolment grant."""
        try:
            grant = await self._store.get_passkey_challenge(_grant_hash(session))
        except storage.NotFound:
            raise MfaRequired() from None
        if (
            grant.purpose != storage.PasskeyPurpose.ENROL_GRANT
            or grant.user_id != session.user_id
            or grant.expires_at <= self._clock.now()
        ):
            raise MfaRequired()

    async def use_grant(self, session: storage.Session) -> None:
        """The grant has served (a passkey was registered): it works once."""
        try:
            await self._store.take_passkey_challenge(_grant_hash(session))
        except storage.NotFound:
            raise MfaRequired() from None

    async def required_for(self, user: storage.User) -> bool:
        """Whether any of the user's memberships is under a requirement."""
        orgs = sorted({m.org_id for m in user.memberships})
        if not orgs:
            return False
        reqs = await self._store.list_passkey_requirements(orgs)
        wanted = {(r.org_id, r.role) for r in reqs}
        return any(
            (m.org_id, None) in wanted or (m.org_id, m.role) in wanted for m in user.memberships
        )

    async def next_step(self, user: storage.User) -> str:
        """The second step after the password (table in the module docstring)."""
        if not user.totp_confirmed:
            return "enrol"
        if not await self._store.list_passkeys(user.user_id):
            return "totp"
        return "passkey_only" if await self.required_for(user) else "passkey"

    async def get(self, actor: Actor | None, org_id: str) -> PasskeyPolicy:
        if actor is not None:
            check_org_role(actor, org_id, storage.Role.ADMIN)
        reqs = await self._store.list_passkey_requirements([org_id])
        return PasskeyPolicy(
            org_id=org_id,
            everyone=any(r.role is None for r in reqs),
            roles=tuple(sorted(r.role for r in reqs if r.role is not None)),
        )

    async def set(
        self,
        actor: Actor | None,
        org_id: str,
        *,
        everyone: bool,
        roles: Sequence[storage.Role],
        client: str | None,
    ) -> PasskeyPolicy:
        """Replace the organisation's requirement by ``everyone`` / ``roles``."""
        if actor is not None:
            check_org_role(actor, org_id, storage.Role.ADMIN)
        wanted: set[storage.Role | None] = set(roles)
        if everyone:
            wanted.add(None)
        now = self._clock.now()
        old = await self._store.list_passkey_requirements([org_id])
        for r in old:
            if r.role not in wanted:
                await self._store.clear_passkey_requirement(org_id, r.role)
        by = actor.user_id if actor else None
        for role in wanted:
            await self._store.set_passkey_requirement(org_id, role, created_by=by, now=now)
        policy = await self.get(None, org_id)
        detail = ("*" if policy.everyone else "") + ",".join(r.value for r in policy.roles)
        await self._audit(
            "passkey.policy_set",
            actor_id=by,
            target=org_id,
            client=client,
            detail=detail.encode(),
        )
        return policy
