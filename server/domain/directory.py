"""The directory: which organisations and which members (with their public keys) a
signed-in user may see.

Rules
-----
* Organisations: every service (a GP addresses cases to any service of the deployment)
  and the user's own organisations. Other practices stay unseen.
* Members of an organisation: its own members see every enabled member with all their
  memberships. Anyone else sees a *service* only, and of it only the enabled
  dermatologists (the people a GP wraps a case key to) with their membership in that
  service alone: not its admins, records officers or auditors, and not which other
  practices or services a dermatologist also belongs to (data minimisation).
* A practice the user is not a member of, or an unknown id, answers ``not_found``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import storage
from server.domain.policy import Actor
from server.errors import NotFound
from storage import OrgKind, Role

__all__ = ["Directory", "DirectoryService"]


@dataclass(frozen=True)
class Directory:
    """An organisation and the members the asking user may see, each with only the
    memberships that user may see."""

    org: storage.Organisation
    members: list[storage.User]


class DirectoryService:
    def __init__(self, store: storage.Storage) -> None:
        self._store = store

    async def visible_organisations(self, actor: Actor) -> list[storage.Organisation]:
        """Every service and the actor's own organisations."""
        mine = set(actor.memberships)
        return [
            o
            for o in await self._store.list_organisations()
            if o.org_id in mine or o.kind is OrgKind.SERVICE
        ]

    async def visible_members(self, actor: Actor, org_id: str) -> Directory:
        try:
            org = await self._store.get_organisation(org_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        member = org_id in actor.memberships
        if not member and org.kind is not OrgKind.SERVICE:
            raise NotFound()
        users = [u for u in await self._store.list_users(org_id) if not u.disabled]
        if member:
            return Directory(org, users)
        outside = []
        for u in users:
            here = tuple(m for m in u.memberships if m.org_id == org_id)
            if any(m.role is Role.DERMATOLOGIST for m in here):
                outside.append(dataclasses.replace(u, memberships=here))
        return Directory(org, outside)
