"""Organisations and invites: create an organisation, set its records key, invite people,
list and cancel invites, accept one (the account is created), set up the first admin.

Rules
-----
* Invite-only. An invite token is 32 random bytes (base64url) shown once; storage keeps
  SHA-256 of it (``hash_token``). Accepting is one storage transaction (single use, expiry
  checked there) that creates the user with the client's key material, all opaque to the
  server except the public keys, which must be P-256 points.
* An invite names an organisation and a role that exists in that kind of organisation
  (``policy.ROLES_BY_KIND``), optionally the login name it is for. Admins of the
  organisation make, list and cancel its invites; another organisation's, or an unknown
  one, answers ``not_found``. A used or cancelled invite cannot be cancelled (``conflict``).
* An admin anywhere may create organisations and becomes admin of the new one
  (one deployment is one federation of practices and services run by one operator).
  Records officers and admins set their organisation's records public key.
* ``actor`` None is the local operator's command line, trusted like an admin.
* A server without an administrator offers one setup invite (``first_admin_invite``),
  revoking earlier unused ones so only the newest link works.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

import storage
from crypto.errors import CryptoError
from crypto.password import normalise_login_name, parse_kdf_params
from server.domain.accounts._common import (
    AccountSettings,
    Auditor,
    AuthKeyHasher,
    check_public_key,
    hash_token,
)
from server.domain.clock import Clock
from server.domain.policy import ROLES_BY_KIND, Actor, check_org_role
from server.errors import Conflict, Forbidden, InvalidInput, InviteInvalid, NotFound
from storage import OrgKind, Role

__all__ = [
    "InviteAcceptance",
    "InviteStatus",
    "InviteSummary",
    "OrganisationService",
    "invite_status",
]


@dataclass(frozen=True)
class InviteAcceptance:
    """What the client sends to accept an invite (all key material opaque to the server)."""

    token: str
    user_id: str  # chosen by the client: its USK and private-key records bind it
    login_name: str
    display_name: str
    kdf_params: bytes
    auth_key: bytes
    wrapped_usk: bytes
    encryption_public_key: bytes
    signing_public_key: bytes
    sealed_private_keys: bytes
    recovery_wrapped_usk: bytes | None = None
    org_wrapped_usk: bytes | None = None


class InviteStatus(StrEnum):
    PENDING = "pending"
    USED = "used"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class InviteSummary:
    """An invite as an administrator sees it: an opaque id (the hex of the token's SHA-256,
    never the token) and its status at the moment asked."""

    invite_id: str
    invite: storage.Invite
    status: InviteStatus


def invite_status(invite: storage.Invite, now: dt.datetime) -> InviteStatus:
    """Used wins over revoked (storage never revokes a used invite), then expiry."""
    if invite.used_at is not None:
        return InviteStatus.USED
    if invite.revoked_at is not None:
        return InviteStatus.REVOKED
    if invite.expires_at <= now:
        return InviteStatus.EXPIRED
    return InviteStatus.PENDING


_INVITE_USED = "this invitation has already been used"
_INVITE_REVOKED = "this invitation has already been cancelled"


class OrganisationService:
    def __init__(
        self,
        store: storage.Storage,
        settings: AccountSettings,
        clock: Clock,
        hasher: AuthKeyHasher,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._hasher = hasher
        self._audit = Auditor(store, clock)

    # ------------------------------------------------------------------ organisations

    async def create_organisation(
        self,
        kind: OrgKind,
        name: str,
        *,
        records_public_key: bytes | None,
        actor: Actor | None,
        client: str | None,
    ) -> storage.Organisation:
        """Create a practice or service; an admin creating it becomes its admin."""
        if actor is not None and not any(Role.ADMIN in r for r in actor.memberships.values()):
            raise Forbidden()
        if records_public_key is not None:
            check_public_key(records_public_key)
        name = name.strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput("an organisation name is 1 to 200 characters")
        org = await self._store.create_organisation(
            storage.Organisation(
                org_id=str(uuid.uuid4()),
                kind=kind,
                name=name,
                records_public_key=records_public_key,
                created_at=self._clock.now(),
            )
        )
        if actor is not None:
            await self._store.add_membership(
                actor.user_id, storage.Membership(org.org_id, Role.ADMIN)
            )
        await self._audit(
            "org.create",
            actor_id=actor.user_id if actor else None,
            target=org.org_id,
            client=client,
        )
        return org

    async def set_records_key(
        self, actor: Actor | None, org_id: str, public_key: bytes, client: str | None
    ) -> storage.Organisation:
        """Set the organisation's records public key (records officer or admin)."""
        if actor is not None:
            try:
                check_org_role(actor, org_id, Role.RECORDS_OFFICER)
            except Forbidden:
                check_org_role(actor, org_id, Role.ADMIN)
        check_public_key(public_key)
        try:
            org = await self._store.set_records_public_key(org_id, public_key)
        except storage.NotFound:
            raise NotFound() from None
        await self._audit(
            "org.records_key",
            actor_id=actor.user_id if actor else None,
            target=org_id,
            client=client,
        )
        return org

    # ------------------------------------------------------------------ invites

    async def invite(
        self,
        actor: Actor | None,
        org_id: str,
        role: Role,
        *,
        login_name: str | None = None,
        client: str | None = None,
    ) -> tuple[str, storage.Invite]:
        """Make a single-use invite; returns the token (shown once) and the stored invite."""
        if actor is not None:
            check_org_role(actor, org_id, Role.ADMIN)
        try:
            org = await self._store.get_organisation(org_id)
        except storage.NotFound:
            raise NotFound() from None
        if role not in ROLES_BY_KIND[org.kind]:
            raise InvalidInput("this role does not exist in this kind of organisation")
        if login_name is not None:
            try:
                login_name = normalise_login_name(login_name)
            except ValueError:
                raise InvalidInput("the login name is empty") from None
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        invite = await self._store.create_invite(
            storage.Invite(
                token_hash=hash_token(token),
                org_id=org_id,
                role=role,
                created_by=actor.user_id if actor else None,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self._settings.invite_ttl),
                login_name=login_name,
            )
        )
        await self._audit(
            "invite.create",
            actor_id=actor.user_id if actor else None,
            target=org_id,
            client=client,
        )
        return token, invite

    async def list_invites(
        self, actor: Actor | None, org_id: str, client: str | None = None
    ) -> list[InviteSummary]:
        """The organisation's invites, newest first, with their status now (admins of it;
        ``actor`` None: the CLI). Another organisation answers NotFound, like a missing one."""
        if actor is not None:
            check_org_role(actor, org_id, Role.ADMIN)
        try:
            await self._store.get_organisation(org_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        now = self._clock.now()
        out = [
            InviteSummary(i.token_hash.hex(), i, invite_status(i, now))
            for i in await self._store.list_invites(org_id)
        ]
        await self._audit(
            "invite.list", actor_id=actor.user_id if actor else None, target=org_id, client=client
        )
        return out

    async def revoke_invite(
        self, actor: Actor | None, org_id: str, invite_ref: str, client: str | None
    ) -> InviteSummary:
        """Cancel an unused invite of ``org_id`` named by its id (``InviteSummary.invite_id``).

        Unknown ids, and invites of another organisation, answer NotFound; a used or already
        cancelled invite answers Conflict. An expired one may still be cancelled."""
        if actor is not None:
            check_org_role(actor, org_id, Role.ADMIN)
        invite = await self._org_invite(org_id, invite_ref)
        if invite.used_at is not None:
            raise Conflict(_INVITE_USED)
        if invite.revoked_at is not None:
            raise Conflict(_INVITE_REVOKED)
        try:
            invite = await self._store.revoke_invite(invite.token_hash, self._clock.now())
        except storage.NotFound:
            raise NotFound() from None
        except storage.Conflict as exc:  # accepted or cancelled meanwhile
            raise Conflict(
                _INVITE_REVOKED if exc.reason == "invite_revoked" else _INVITE_USED
            ) from None
        await self._audit(
            "invite.revoke",
            actor_id=actor.user_id if actor else None,
            target=org_id,
            client=client,
            detail=invite_ref.encode("ascii"),
        )
        return InviteSummary(invite_ref, invite, invite_status(invite, self._clock.now()))

    async def _org_invite(self, org_id: str, invite_ref: str) -> storage.Invite:
        if len(invite_ref) != 64 or any(c not in "0123456789abcdef" for c in invite_ref):
            raise NotFound()
        try:
            invite = await self._store.get_invite(bytes.fromhex(invite_ref))
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if invite.org_id != org_id:
            raise NotFound()
        return invite

    async def inspect_invite(self, token: str) -> tuple[storage.Invite, storage.Organisation]:
        """An invite that can still be accepted, with its organisation; InviteInvalid else."""
        try:
            invite = await self._store.get_invite(hash_token(token))
        except storage.NotFound:
            raise InviteInvalid() from None
        if invite.used_at or invite.revoked_at or invite.expires_at <= self._clock.now():
            raise InviteInvalid()
        return invite, await self._store.get_organisation(invite.org_id)

    async def accept_invite(self, data: InviteAcceptance, client: str | None) -> storage.User:
        """Create the account the invite allows, storing the client's key material."""
        invite, _org = await self.inspect_invite(data.token)
        try:
            login_name = normalise_login_name(data.login_name)
        except ValueError:
            raise InvalidInput("the login name is empty") from None
        if invite.login_name is not None and invite.login_name != login_name:
            raise InviteInvalid()
        display_name = data.display_name.strip()
        if not 1 <= len(display_name) <= 200 or not 1 <= len(login_name) <= 200:
            raise InvalidInput("names are 1 to 200 characters")
        try:
            parse_kdf_params(data.kdf_params)
        except CryptoError:
            raise InvalidInput("the KDF parameters are not a v1 record") from None
        if len(data.auth_key) != 32:
            raise InvalidInput("the auth key is 32 bytes")
        check_public_key(data.encryption_public_key)
        check_public_key(data.signing_public_key)
        try:
            user_id = str(uuid.UUID(data.user_id))
        except ValueError:
            raise InvalidInput("the user id is a UUID") from None
        now = self._clock.now()
        new_user = storage.NewUser(
            user_id=user_id,
            login_name=login_name,
            display_name=display_name,
            kdf_params=data.kdf_params,
            auth_key_hash=await self._hasher.hash(data.auth_key),
            wrapped_usk=data.wrapped_usk,
            encryption_public_key=data.encryption_public_key,
            signing_public_key=data.signing_public_key,
            sealed_private_keys=data.sealed_private_keys,
            created_at=now,
            recovery_wrapped_usk=data.recovery_wrapped_usk,
            org_wrapped_usk=data.org_wrapped_usk,
        )
        try:
            user = await self._store.accept_invite(hash_token(data.token), new_user, now)
        except storage.NotFound:
            raise InviteInvalid() from None
        except storage.Conflict as exc:
            if exc.reason == "duplicate":
                raise Conflict("this login name is taken") from None
            raise InviteInvalid() from None
        await self._audit(
            "invite.accept", actor_id=user.user_id, target=invite.org_id, client=client
        )
        return user

    # ------------------------------------------------------------------ first start

    async def needs_first_admin(self) -> bool:
        return await self._store.count_users_with_role(Role.ADMIN) == 0

    async def first_admin_invite(self, org_name: str = "Administration") -> str | None:
        """On a server with no administrator: a fresh admin invite token (else None).

        Uses the first organisation, creating a practice named ``org_name`` if there is
        none; earlier unused setup invites are revoked so only the newest link works.
        """
        if not await self.needs_first_admin():
            return None
        orgs = await self._store.list_organisations()
        if orgs:
            org = orgs[0]
        else:
            org = await self.create_organisation(
                OrgKind.PRACTICE, org_name, records_public_key=None, actor=None, client=None
            )
        now = self._clock.now()
        for old in await self._store.list_invites(org.org_id):
            if old.created_by is None and old.used_at is None and old.revoked_at is None:
                await self._store.revoke_invite(old.token_hash, now)
        token, _invite = await self.invite(None, org.org_id, Role.ADMIN, client=None)
        return token
