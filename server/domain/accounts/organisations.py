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

import base64
import binascii
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

import storage
from crypto import statement as st
from crypto.errors import CryptoError
from crypto.fingerprint import key_id
from crypto.org_key import ORG_KEY_HANDOVER_LENGTH
from crypto.password import normalise_login_name, parse_kdf_params
from server.domain.accounts._common import (
    AccountSettings,
    Auditor,
    AuthKeyHasher,
    check_public_key,
    hash_token,
)
from server.domain.clock import Clock
from server.domain.org_keys import org_public_key
from server.domain.policy import ROLES_BY_KIND, Actor, check_org_role
from server.domain.transparency import (
    LogRef,
    TransparencyService,
    statement_append,
    uncertified_append,
)
from server.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    InviteInvalid,
    NotFound,
    StatementInvalid,
    StatementRequired,
)
from storage import OrgKind, Role
from storage.transparency import ROLE_CODES

__all__ = [
    "CertifiedInvite",
    "InviteAcceptance",
    "InviteStatus",
    "InviteSummary",
    "InviteView",
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
    #: the member statement (0x0c kind 0x03) signed with the invite key; required exactly
    #: when the invite is certified (``docs/protocol.md`` section 21)
    member_statement: bytes | None = None


@dataclass(frozen=True)
class CertifiedInvite:
    """What an administrator's client sends to certify an invite it made: its token, the
    invite statement signed by the organisation key and, for an administrator's invite,
    the organisation key sealed to the link's secret."""

    token: str
    statement: bytes
    handover: bytes | None = None


@dataclass(frozen=True)
class InviteView:
    """An invite as the person opening its link sees it, with what their client checks:
    the invite statement and the organisation key from the log with the head they are
    proved against."""

    invite: storage.Invite
    org: storage.Organisation
    invite_statement: LogRef | None
    org_key: LogRef | None
    handover: bytes | None
    tree_head: storage.SignedTreeHead
    log_public_key: bytes


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
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_INVITE_REVOKED = "this invitation has already been cancelled"


class OrganisationService:
    def __init__(
        self,
        store: storage.Storage,
        settings: AccountSettings,
        clock: Clock,
        hasher: AuthKeyHasher,
        transparency: TransparencyService,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._hasher = hasher
        self._log = transparency
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
            me = await self._store.get_user(actor.user_id)
            await self._store.add_membership(
                actor.user_id,
                storage.Membership(org.org_id, Role.ADMIN),
                [
                    uncertified_append(
                        user_id=me.user_id,
                        org_id=org.org_id,
                        role=Role.ADMIN,
                        signing_public_key=me.signing_public_key,
                        encryption_public_key=me.encryption_public_key,
                        when=self._clock.now(),
                    )
                ],
            )
        await self._audit(
            "org.create",
            actor_id=actor.user_id if actor else None,
            target=org.org_id,
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
        certified: CertifiedInvite | None = None,
    ) -> tuple[str, storage.Invite]:
        """Make a single-use invite; returns the token (shown once) and the stored invite.

        ``certified``: the administrator's client made the token and signed an invite
        statement with the organisation key (appended to the log with the invite). Over
        HTTP an organisation with an organisation key only gets certified invites; the
        command line (``actor`` None) holds no key and makes uncertified ones."""
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
        now = self._clock.now()
        expires = now + dt.timedelta(seconds=self._settings.invite_ttl)
        log: list[storage.LogAppend] = []
        statement = handover = None
        if certified is None:
            if actor is not None and org.org_key_id is not None:
                raise StatementRequired()
            token = secrets.token_urlsafe(32)
        else:
            token = certified.token
            expires = await self._check_invite_statement(org, role, certified, now, expires)
            statement, handover = certified.statement, certified.handover
            log.append(statement_append(statement, storage.LogKind.INVITE, when=now, org_id=org_id))
        try:
            invite = await self._store.create_invite(
                storage.Invite(
                    token_hash=hash_token(token),
                    org_id=org_id,
                    role=role,
                    created_by=actor.user_id if actor else None,
                    created_at=now,
                    expires_at=expires,
                    login_name=login_name,
                    statement=statement,
                    handover=handover,
                ),
                log,
            )
        except storage.Conflict:
            raise Conflict("this invite token is taken") from None
        await self._audit(
            "invite.create",
            actor_id=actor.user_id if actor else None,
            target=org_id,
            client=client,
        )
        return token, invite

    async def _check_invite_statement(
        self,
        org: storage.Organisation,
        role: Role,
        certified: CertifiedInvite,
        now: dt.datetime,
        latest: dt.datetime,
    ) -> dt.datetime:
        """Check a certified invite against the organisation key, the role, the token and
        the lifetime; its expiry (the statement's)."""
        if not _is_token(certified.token):
            raise BadRequest("a certified invite needs the 43-character token", status=422)
        ok = org_public_key(await self._store.get_org_key(org.org_id))
        if ok is None:
            raise StatementInvalid("the organisation has no organisation key yet")
        try:
            invite = st.verify_invite_statement(
                certified.statement, org_id=uuid.UUID(org.org_id), org_public_key=ok
            )
        except CryptoError:
            raise StatementInvalid() from None
        expires = _EPOCH + dt.timedelta(milliseconds=invite.expires_at_ms)  # exact, no float
        if (
            invite.role is not ROLE_CODES[role]
            or invite.token_hash != hash_token(certified.token)
            or not now < expires <= latest
        ):
            raise StatementInvalid()
        if certified.handover is not None:
            handover = certified.handover
            if (
                role is not Role.ADMIN
                or len(handover) != ORG_KEY_HANDOVER_LENGTH
                or handover[:3] != b"\x01\x01\x10"
                or handover[3:19] != uuid.UUID(org.org_id).bytes
                or handover[19:35] != key_id(invite.invite_public_key)
            ):
                raise StatementInvalid("the handover does not go with this invite")
        return expires

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

    async def view_invite(self, token: str) -> InviteView:
        """The invite with its statement and organisation key from the log, proved against
        one head (for a client that pins both at first contact)."""
        invite, org = await self.inspect_invite(token)
        head = await self._log.head()
        refs: dict[str, LogRef | None] = {"invite": None, "org_key": None}
        wanted: dict[str, str] = {}
        if invite.statement is not None:
            wanted["invite"] = st.statement_hash(invite.statement).hex()
        org_key = await self._store.get_org_key(org.org_id)
        if org_key is not None:
            wanted["org_key"] = st.statement_hash(org_key.statement).hex()
        for name, ref in wanted.items():
            found = [r for r in await self._store.find_log(ref=ref) if r.index < head.tree_size]
            proved = await self._log.refs(found[:1], head)
            refs[name] = proved[0] if proved else None
        return InviteView(
            invite,
            org,
            refs["invite"],
            refs["org_key"],
            invite.handover,
            head,
            await self._log.public_key(),
        )

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
        log = [await self._member_entry(invite, data, user_id, now)]
        try:
            user = await self._store.accept_invite(hash_token(data.token), new_user, now, log)
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

    async def _member_entry(
        self, invite: storage.Invite, data: InviteAcceptance, user_id: str, now: dt.datetime
    ) -> storage.LogAppend:
        """The log entry of the new member: their member statement through a certified
        invite (checked like a client checks it), else an uncertified entry."""
        if invite.statement is None:
            if data.member_statement is not None:
                raise StatementInvalid("this invite is not certified")
            return uncertified_append(
                user_id=user_id,
                org_id=invite.org_id,
                role=invite.role,
                signing_public_key=data.signing_public_key,
                encryption_public_key=data.encryption_public_key,
                when=now,
            )
        if data.member_statement is None:
            raise StatementRequired()
        ok = org_public_key(await self._store.get_org_key(invite.org_id))
        if ok is None:
            raise StatementInvalid()
        try:
            member = st.verify_member_statement(
                data.member_statement,
                org_id=uuid.UUID(invite.org_id),
                org_public_key=ok,
                invite_statement=invite.statement,
            )
        except CryptoError:
            raise StatementInvalid() from None
        if (
            str(member.user_id) != user_id
            or member.role is not ROLE_CODES[invite.role]
            or member.signing_public_key != data.signing_public_key
            or member.encryption_public_key != data.encryption_public_key
        ):
            raise StatementInvalid()
        return statement_append(
            data.member_statement,
            storage.LogKind.MEMBER,
            when=now,
            org_id=invite.org_id,
            user_id=user_id,
        )

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


def _is_token(token: str) -> bool:
    """43 base64url characters of 32 bytes (one spelling: no padding, zero spare bits)."""
    if len(token) != 43:
        return False
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == token
