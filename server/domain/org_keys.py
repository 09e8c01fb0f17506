"""Verified directory keys on the server (``docs/protocol.md`` sections 18 to 21, ``docs/api.md``
"Organisation key" and "Records keys"): an organisation's key and its wraps to
administrators, certifications of members by that key, and the records-key chain with the
two-person rule.

Rules
-----
* The server runs the same pure trust functions as the clients (``crypto.statement``)
  before it appends anything, and compares every statement with what it holds (the
  organisation, the member's role and keys). It cannot make a statement itself: it has no
  organisation key. What it refuses a client would refuse too; what it accepts the clients
  still check from the log.
* Organisation key: set once, by an administrator of the organisation, with at least the
  caller's own wrap; every wrap names this organisation, this key, the encryption key of an
  administrator of the organisation and the caller as wrapper.
* Records keys: the legacy raw key only as the very first key of an organisation without an
  organisation key; after that, statements only. Sequence 0 is signed by the organisation
  key (an administrator; it certifies a legacy key only if it names that same key); a
  rollover is signed by the previous records signing key (records officer or administrator)
  and becomes current at once; a change signed by the organisation key (an administrator)
  waits for approvals of two distinct certified administrators, then becomes current and
  the statement and its approvals are appended.
* Every other organisation, and every unknown one, answers ``not_found``.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass

import storage
from crypto import statement as st
from crypto.errors import CryptoError
from crypto.fingerprint import key_id
from crypto.org_key import parse_org_key_wrap_header
from server.domain.accounts._common import Auditor, check_public_key
from server.domain.clock import Clock
from server.domain.policy import Actor, check_org_role
from server.domain.transparency import (
    LogRef,
    OrgLog,
    TransparencyService,
    read_org_log,
    statement_append,
)
from server.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    OrgKeyExists,
    RecordsKeySequence,
    StatementInvalid,
    StatementRequired,
    WrapInvalid,
)
from storage import OrgKind, Role
from storage.transparency import ROLE_CODES

__all__ = ["ApprovalResult", "OrgKeyService", "RecordsKeyResult", "org_public_key"]

#: distinct certified administrators a change signed by the organisation key needs
APPROVALS_NEEDED = 2
_KINDS = {
    OrgKind.PRACTICE: st.OrganisationKind.PRACTICE,
    OrgKind.SERVICE: st.OrganisationKind.SERVICE,
}


@dataclass(frozen=True)
class RecordsKeyResult:
    """The organisation after a PUT, or the pending change it made (202)."""

    org: storage.Organisation
    pending: storage.RecordsKeyPending | None = None


@dataclass(frozen=True)
class ApprovalResult:
    pending: storage.RecordsKeyPending | None
    current_sequence: int | None


def org_public_key(org_key: storage.OrgKey | None) -> bytes | None:
    """The public key an organisation key statement names (stored after it verified)."""
    if org_key is None:
        return None
    parsed = st.parse_statement(org_key.statement)
    assert isinstance(parsed, st.OrganisationKeyStatement)
    return parsed.org_public_key


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound() from None


class OrgKeyService:
    def __init__(
        self, store: storage.Storage, clock: Clock, transparency: TransparencyService
    ) -> None:
        self._store = store
        self._clock = clock
        self._log = transparency
        self._audit = Auditor(store, clock)

    async def _org(self, org_id: str) -> storage.Organisation:
        try:
            return await self._store.get_organisation(org_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None

    async def _ref(self, ref: str) -> tuple[LogRef, storage.SignedTreeHead]:
        """The newest entry found by ``ref`` with its proof against a fresh head."""
        head = await self._log.head()
        found = [r for r in await self._store.find_log(ref=ref) if r.index < head.tree_size]
        return (await self._log.refs(found[-1:], head))[0], head

    # ------------------------------------------------------------------ organisation key

    async def _admins(self, org_id: str) -> list[storage.User]:
        return [
            u
            for u in await self._store.list_users(org_id)
            if not u.disabled and storage.Membership(org_id, Role.ADMIN) in u.memberships
        ]

    async def _check_wraps(
        self, actor: Actor, org_id: str, org_key_id: bytes, wraps: list[bytes]
    ) -> list[storage.OrgKeyWrap]:
        """Each wrap's clear header against the organisation, its key, its administrators
        and the caller; the stored wraps by recipient."""
        admins = {key_id(u.encryption_public_key): u for u in await self._admins(org_id)}
        caller = await self._store.get_user(actor.user_id)
        now = self._clock.now()
        out: dict[str, storage.OrgKeyWrap] = {}
        for record in wraps:
            try:
                header = parse_org_key_wrap_header(record)
            except CryptoError:
                raise WrapInvalid() from None
            recipient = admins.get(header.recipient_key_id)
            if (
                header.org_id != uuid.UUID(org_id)
                or header.org_key_id != org_key_id
                or recipient is None
                or str(header.wrapper_user_id) != actor.user_id
                or header.wrapper_key_id != key_id(caller.signing_public_key)
                or recipient.user_id in out
            ):
                raise WrapInvalid()
            out[recipient.user_id] = storage.OrgKeyWrap(
                org_id, recipient.user_id, actor.user_id, record, now
            )
        return list(out.values())

    async def set_org_key(
        self, actor: Actor, org_id: str, statement: bytes, wraps: list[bytes], client: str | None
    ) -> tuple[LogRef, storage.SignedTreeHead]:
        """Set the organisation's key (admins; once), with the first wraps."""
        check_org_role(actor, org_id, Role.ADMIN)
        org = await self._org(org_id)
        if await self._store.get_org_key(org_id) is not None:
            raise OrgKeyExists()
        try:
            parsed = st.verify_organisation_key_statement(statement, org_id=_uuid(org_id))
        except CryptoError:
            raise StatementInvalid() from None
        # (statements carry names in NFC, section 20)
        if parsed.org_kind is not _KINDS[org.kind] or parsed.name != unicodedata.normalize(
            "NFC", org.name
        ):
            raise StatementInvalid()
        stored = await self._check_wraps(actor, org_id, key_id(parsed.org_public_key), wraps)
        if actor.user_id not in {w.recipient_id for w in stored}:
            raise WrapInvalid("the wraps must include one to yourself")
        now = self._clock.now()
        try:
            await self._store.set_org_key(
                storage.OrgKey(
                    org_id, statement, key_id(parsed.org_public_key), actor.user_id, now
                ),
                stored,
                [statement_append(statement, storage.LogKind.ORG_KEY, when=now, org_id=org_id)],
            )
        except storage.Conflict:
            raise OrgKeyExists() from None
        await self._audit("org.org_key", actor_id=actor.user_id, target=org_id, client=client)
        return await self._ref(parsed.hash.hex())

    async def own_wrap(self, actor: Actor, org_id: str) -> tuple[storage.OrgKeyWrap, bytes]:
        """The caller's wrap of the organisation key and its wrapper's signing key."""
        if not actor.roles_in(org_id):
            raise NotFound()
        try:
            wrap = await self._store.get_org_key_wrap(org_id, actor.user_id)
            wrapper = await self._store.get_user(wrap.wrapper_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        return wrap, wrapper.signing_public_key

    async def add_wraps(
        self, actor: Actor, org_id: str, wraps: list[bytes], client: str | None
    ) -> None:
        """An administrator holding the key wraps it to other administrators."""
        check_org_role(actor, org_id, Role.ADMIN)
        org_key = await self._store.get_org_key(org_id)
        if org_key is None:
            raise NotFound()
        if not wraps:
            raise InvalidInput("send at least one wrap")
        stored = await self._check_wraps(actor, org_id, org_key.key_id, wraps)
        await self._store.put_org_key_wraps(stored)
        await self._audit("org.org_key_wraps", actor_id=actor.user_id, target=org_id, client=client)

    # ------------------------------------------------------------------ certifications

    async def certify(
        self, actor: Actor, org_id: str, statement: bytes, client: str | None
    ) -> tuple[LogRef, storage.SignedTreeHead]:
        """Append a member statement the organisation key signed directly (admins), after
        comparing it with the member as the server holds them."""
        check_org_role(actor, org_id, Role.ADMIN)
        ok = org_public_key(await self._store.get_org_key(org_id))
        if ok is None:
            raise StatementInvalid("the organisation has no organisation key yet")
        try:
            member = st.verify_member_statement(
                statement, org_id=_uuid(org_id), org_public_key=ok, invite_statement=None
            )
        except CryptoError:
            raise StatementInvalid() from None
        try:
            user = await self._store.get_user(str(member.user_id))
        except (storage.NotFound, storage.InvalidArgument):
            raise StatementInvalid() from None
        roles = {ROLE_CODES[m.role] for m in user.memberships if m.org_id == org_id}
        if (
            user.disabled
            or member.role not in roles
            or member.signing_public_key != user.signing_public_key
            or member.encryption_public_key != user.encryption_public_key
        ):
            raise StatementInvalid()
        now = self._clock.now()
        await self._store.append_log(
            [
                statement_append(
                    statement, storage.LogKind.MEMBER, when=now, org_id=org_id, user_id=user.user_id
                )
            ]
        )
        await self._audit("org.certify", actor_id=actor.user_id, target=user.user_id, client=client)
        return await self._ref(member.hash.hex())

    # ------------------------------------------------------------------ records keys

    async def put_records_key(
        self,
        actor: Actor | None,
        org_id: str,
        *,
        public_key: bytes | None = None,
        statement: bytes | None = None,
        client: str | None = None,
    ) -> RecordsKeyResult:
        """Set the first (legacy) records key, or add a statement to the chain."""
        if actor is not None:
            try:
                check_org_role(actor, org_id, Role.RECORDS_OFFICER)
            except Forbidden:
                check_org_role(actor, org_id, Role.ADMIN)
        org = await self._org(org_id)
        if statement is None:
            if public_key is None:
                raise InvalidInput("send records_public_key or statement")
            return RecordsKeyResult(await self._legacy(actor, org, public_key, client))
        return await self._statement(actor, org, statement, client)

    async def _legacy(
        self, actor: Actor | None, org: storage.Organisation, public_key: bytes, client: str | None
    ) -> storage.Organisation:
        check_public_key(public_key)
        if org.records_public_key is not None or await self._store.get_org_key(org.org_id):
            raise StatementRequired(status=409)
        try:
            org = await self._store.set_records_public_key(org.org_id, public_key)
        except storage.Conflict:
            raise StatementRequired(status=409) from None
        await self._audit(
            "org.records_key",
            actor_id=actor.user_id if actor else None,
            target=org.org_id,
            client=client,
        )
        return org

    async def _org_log(self, org_id: str) -> tuple[OrgLog, bytes]:
        head = await self._log.head()
        log = await read_org_log(self._store, org_id, head.tree_size)
        if log.org_public_key is None:
            raise StatementInvalid("the organisation has no organisation key yet")
        return log, log.org_public_key

    async def _statement(
        self, actor: Actor | None, org: storage.Organisation, record: bytes, client: str | None
    ) -> RecordsKeyResult:
        try:
            parsed = st.parse_statement(record)
        except CryptoError:
            raise StatementInvalid() from None
        if not isinstance(parsed, st.RecordsKeyStatement) or parsed.org_id != uuid.UUID(org.org_id):
            raise StatementInvalid()
        expected = 0 if org.records_key_sequence is None else org.records_key_sequence + 1
        if parsed.sequence != expected:
            raise RecordsKeySequence()
        log, ok = await self._org_log(org.org_id)
        now = self._clock.now()
        is_admin = actor is None or actor.has(org.org_id, Role.ADMIN)
        chain = log.chain()
        if len(chain) != parsed.sequence:
            raise RecordsKeySequence()
        change = st.RecordsKeyChange(record)
        if parsed.sequence > 0 and parsed.signer_key_id == key_id(ok):
            # A change by the organisation key: pending until two administrators approve.
            if actor is None or not is_admin:
                raise Forbidden()
            previous = log.records_keys[-1].parsed
            try:
                st.verify_statement(record, ok, st.StatementKind.RECORDS_KEY)
            except CryptoError:
                raise StatementInvalid() from None
            if parsed.previous_records_key_id != key_id(previous.records_public_key):
                raise StatementInvalid()
            try:
                pending = await self._store.propose_records_key(
                    storage.RecordsKeyPending(
                        org.org_id,
                        parsed.hash,
                        record,
                        parsed.sequence,
                        parsed.records_public_key,
                        actor.user_id,
                        now,
                    )
                )
            except storage.Conflict as exc:
                if exc.reason == "records_key_sequence":
                    raise RecordsKeySequence() from None
                raise Conflict("this change is pending already") from None
            await self._audit(
                "org.records_key_proposed",
                actor_id=actor.user_id,
                target=org.org_id,
                client=client,
            )
            return RecordsKeyResult(org, pending)
        if parsed.sequence == 0 and not is_admin:
            raise Forbidden()
        try:
            st.verify_records_key_chain(
                [*chain, change],
                org_id=uuid.UUID(org.org_id),
                org_public_key=ok,
                admins=log.certified_admins(),
            )
        except CryptoError:
            raise StatementInvalid() from None
        if (
            parsed.sequence == 0
            and org.records_public_key is not None
            and org.records_public_key != parsed.records_public_key
        ):
            raise StatementInvalid("sequence 0 must certify the current records key")
        try:
            org = await self._store.set_records_key(
                org.org_id,
                parsed.records_public_key,
                sequence=parsed.sequence,
                log=[
                    statement_append(
                        record, storage.LogKind.RECORDS_KEY, when=now, org_id=org.org_id
                    )
                ],
            )
        except storage.Conflict:
            raise RecordsKeySequence() from None
        await self._audit(
            "org.records_key",
            actor_id=actor.user_id if actor else None,
            target=org.org_id,
            client=client,
        )
        return RecordsKeyResult(org)

    async def list_pending(self, actor: Actor, org_id: str) -> list[storage.RecordsKeyPending]:
        """Pending records-key changes (members of the organisation)."""
        if not actor.roles_in(org_id):
            raise NotFound()
        return await self._store.list_records_key_pending(org_id)

    async def approve(
        self, actor: Actor, org_id: str, record: bytes, client: str | None
    ) -> ApprovalResult:
        """A certified administrator approves a pending change with their own signature."""
        check_org_role(actor, org_id, Role.ADMIN)
        await self._org(org_id)
        try:
            approval = st.parse_statement(record)
        except CryptoError:
            raise StatementInvalid() from None
        if (
            not isinstance(approval, st.ApprovalStatement)
            or str(approval.approver_user_id) != actor.user_id
        ):
            raise StatementInvalid()
        me = await self._store.get_user(actor.user_id)
        try:
            st.verify_statement(record, me.signing_public_key, st.StatementKind.APPROVAL)
        except CryptoError:
            raise StatementInvalid() from None
        pending = next(
            (
                p
                for p in await self._store.list_records_key_pending(org_id)
                if p.statement_hash == approval.approved_statement_hash
            ),
            None,
        )
        if pending is None:
            raise NotFound()
        log, ok = await self._org_log(org_id)
        admins = log.certified_admins()
        if not _is_certified_admin(admins, org_id, ok, me):
            raise Forbidden("only a certified administrator may approve")
        if any(a.approver_id == me.user_id for a in pending.approvals):
            raise Conflict("you approved this change already")
        approvals = (*(a.approval for a in pending.approvals), record)
        if len({*(a.approver_id for a in pending.approvals), me.user_id}) >= APPROVALS_NEEDED:
            try:
                st.verify_records_key_chain(
                    [*log.chain(), st.RecordsKeyChange(pending.statement, approvals)],
                    org_id=uuid.UUID(org_id),
                    org_public_key=ok,
                    admins=admins,
                )
            except CryptoError:
                raise StatementInvalid() from None
        now = self._clock.now()
        try:
            left, org = await self._store.approve_records_key(
                org_id,
                pending.statement_hash,
                storage.RecordsKeyApproval(me.user_id, record, now),
                threshold=APPROVALS_NEEDED,
                now=now,
            )
        except storage.NotFound:
            raise NotFound() from None
        except storage.Conflict as exc:
            if exc.reason == "records_key_sequence":
                raise RecordsKeySequence() from None
            raise Conflict("you approved this change already") from None
        await self._audit(
            "org.records_key_approved", actor_id=actor.user_id, target=org_id, client=client
        )
        return ApprovalResult(left, org.records_key_sequence)


def _is_certified_admin(
    admins: list[st.CertifiedMember], org_id: str, ok: bytes, user: storage.User
) -> bool:
    """Whether a member statement with role admin for ``user``'s current keys verifies."""
    for admin in admins:
        try:
            member = st.verify_member_statement(
                admin.statement,
                org_id=uuid.UUID(org_id),
                org_public_key=ok,
                invite_statement=admin.invite_statement,
            )
        except CryptoError:
            continue
        if (
            str(member.user_id) == user.user_id
            and member.role is st.Role.ADMIN
            and member.signing_public_key == user.signing_public_key
            and member.encryption_public_key == user.encryption_public_key
            and storage.Membership(org_id, Role.ADMIN) in user.memberships
            and not user.disabled
        ):
            return True
    return False
