"""Organisations and the directory (who holds which role where)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from storage.records import LogAppend, Membership, Organisation, OrgKind, Role, User

__all__ = ["OrganisationStore"]


class OrganisationStore(Protocol):
    """Practices and services, their records keys, and role memberships."""

    async def create_organisation(self, org: Organisation) -> Organisation:
        """Store a new practice or service. :class:`Conflict` ("duplicate") if the id exists."""
        ...

    async def get_organisation(self, org_id: str) -> Organisation:
        """:class:`NotFound` if absent."""
        ...

    async def list_organisations(self, kind: OrgKind | None = None) -> list[Organisation]:
        """All organisations (optionally of one kind), ordered by id."""
        ...

    async def set_records_public_key(self, org_id: str, public_key: bytes) -> Organisation:
        """Set the legacy, uncertified first records key (``docs/protocol.md`` section 20):
        :class:`Conflict` ("records_key_exists") if the organisation has a records key. A
        later key comes only as a certified statement (:meth:`DirectoryKeyStore.
        set_records_key`)."""
        ...

    async def list_users(self, org_id: str | None = None) -> list[User]:
        """All users, or those with a membership in ``org_id``; ordered by user id."""
        ...

    async def count_users_with_role(self, role: Role) -> int:
        """How many users hold ``role`` anywhere (first-admin detection)."""
        ...

    async def add_membership(
        self, user_id: str, membership: Membership, log: Sequence[LogAppend] = ()
    ) -> User:
        """Give the user a role in an organisation (idempotent) and append ``log`` to the
        transparency log in the same unit. :class:`NotFound` for an unknown user or
        organisation."""
        ...
