"""Organisations and the directory (who holds which role where)."""

from __future__ import annotations

from typing import Protocol

from storage.records import Membership, Organisation, OrgKind, Role, User

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
        """Set (or replace) the organisation's records public key."""
        ...

    async def list_users(self, org_id: str | None = None) -> list[User]:
        """All users, or those with a membership in ``org_id``; ordered by user id."""
        ...

    async def count_users_with_role(self, role: Role) -> int:
        """How many users hold ``role`` anywhere (first-admin detection)."""
        ...

    async def add_membership(self, user_id: str, membership: Membership) -> User:
        """Give the user a role in an organisation (idempotent). :class:`NotFound` for an
        unknown user or organisation."""
        ...
