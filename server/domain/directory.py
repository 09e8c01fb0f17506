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
* Every answer carries a signed tree head and, as log references proved against it
  (``docs/api.md``, "Directory"), the organisation key, the records-key chain with its
  approvals, each member's newest entry (member statement with its invite statement, or
  uncertified entry) and the removals: of the organisation, and the disabled accounts of
  its members. Someone outside a service sees only the removals of its dermatologists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import storage
from crypto import statement as st
from crypto.log_entry import RemovalEntry, StatementEntry, parse_log_entry
from server.domain.policy import Actor
from server.domain.transparency import LogRef, OrgLog, TransparencyService, read_org_log
from server.errors import NotFound
from storage import OrgKind, Role

__all__ = [
    "CaseProofs",
    "Directory",
    "DirectoryService",
    "MemberProof",
    "OrgProof",
    "RecordsKeyProof",
]


@dataclass(frozen=True)
class MemberProof:
    """A member's newest log entry: a member statement (with the invite statement it names,
    if any) or an uncertified entry."""

    member: LogRef | None = None
    invite: LogRef | None = None
    uncertified: LogRef | None = None


@dataclass(frozen=True)
class RecordsKeyProof:
    statement: LogRef
    approvals: list[LogRef]


@dataclass(frozen=True)
class OrgProof:
    org_key: LogRef | None = None
    records_keys: list[RecordsKeyProof] = field(default_factory=list)


@dataclass(frozen=True)
class Directory:
    """An organisation and the members the asking user may see, each with only the
    memberships that user may see, and the log references proved against ``tree_head``."""

    org: storage.Organisation
    members: list[storage.User]
    tree_head: storage.SignedTreeHead
    org_proof: OrgProof
    member_proofs: dict[str, MemberProof]
    removals: list[LogRef]


@dataclass(frozen=True)
class CaseProofs:
    """What a reader of a case checks its keys against (``docs/api.md``, "Cases"): one head,
    each participant's organisation and newest entry, the practice's and the service's
    organisation key and records-key chain, and the log entry of each removal that was a
    directory change (an account disabled, a role removed)."""

    tree_head: storage.SignedTreeHead
    participant_orgs: dict[str, str]
    participants: dict[str, MemberProof]
    orgs: list[tuple[storage.Organisation, OrgProof]]
    removals: dict[str, LogRef]


class DirectoryService:
    def __init__(self, store: storage.Storage, transparency: TransparencyService) -> None:
        self._store = store
        self._log = transparency

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
        everyone = await self._store.list_users(org_id)
        users = [u for u in everyone if not u.disabled]
        if not member:
            outside = []
            for u in users:
                here = tuple(m for m in u.memberships if m.org_id == org_id)
                if any(m.role is Role.DERMATOLOGIST for m in here):
                    outside.append(dataclasses.replace(u, memberships=here))
            users = outside
            everyone = [
                u
                for u in everyone
                if storage.Membership(org_id, Role.DERMATOLOGIST) in u.memberships
            ]
        return await self.prove(org, users, [u for u in everyone if u.disabled], member)

    async def org_proofs(
        self, orgs: list[storage.Organisation], head: storage.SignedTreeHead
    ) -> dict[str, OrgProof]:
        """The organisation key and records-key chain of each organisation (for a case)."""
        out: dict[str, OrgProof] = {}
        for org in orgs:
            log = await read_org_log(self._store, org.org_id, head.tree_size)
            out[org.org_id] = await self._org_proof(log, head)
        return out

    async def _org_proof(self, log: OrgLog, head: storage.SignedTreeHead) -> OrgProof:
        records = [log.org_key] if log.org_key else []
        for link in log.records_keys:
            records += [link.statement, *link.approvals]
        refs = {r.index: r for r in await self._log.refs(records, head)}
        return OrgProof(
            refs[log.org_key.index] if log.org_key else None,
            [
                RecordsKeyProof(refs[link.statement.index], [refs[a.index] for a in link.approvals])
                for link in log.records_keys
            ],
        )

    async def member_proofs(
        self, org_id: str, user_ids: list[str], head: storage.SignedTreeHead
    ) -> dict[str, MemberProof]:
        """The newest entry of each person in the organisation (for a case's participants)."""
        log = await read_org_log(self._store, org_id, head.tree_size)
        return await self._member_proofs(log, user_ids, head)

    async def _member_proofs(
        self, log: OrgLog, user_ids: list[str], head: storage.SignedTreeHead
    ) -> dict[str, MemberProof]:
        wanted: list[storage.LogRecord] = []
        invites: dict[str, storage.LogRecord] = {}
        for uid in user_ids:
            rec = log.members.get(uid)
            if rec is None:
                continue
            wanted.append(rec)
            if rec.kind is storage.LogKind.MEMBER:
                parsed = parse_log_entry(rec.entry)
                assert isinstance(parsed, StatementEntry)
                statement = parsed.statement
                assert isinstance(statement, st.MemberStatement)
                if statement.invite_statement_hash is not None:
                    invite = log.invites.get(statement.invite_statement_hash.hex())
                    if invite is not None:
                        invites[uid] = invite
                        wanted.append(invite)
        refs = {r.index: r for r in await self._log.refs(wanted, head)}
        out: dict[str, MemberProof] = {}
        for uid in user_ids:
            rec = log.members.get(uid)
            if rec is None:
                continue
            if rec.kind is storage.LogKind.UNCERTIFIED:
                out[uid] = MemberProof(uncertified=refs[rec.index])
            else:
                invite = invites.get(uid)
                out[uid] = MemberProof(
                    member=refs[rec.index], invite=refs[invite.index] if invite else None
                )
        return out

    async def case_proofs(
        self,
        case: storage.Case,
        participants: list[tuple[storage.Participant, storage.User]],
        removals: Sequence[storage.CaseRemoval],
    ) -> CaseProofs:
        """The log references of a case's detail, against one fresh head."""
        head = await self._log.head()
        orgs = [
            await self._store.get_organisation(case.practice_id),
            await self._store.get_organisation(case.service_id),
        ]
        org_of = {
            p.user_id: case.practice_id if p.role is Role.GP else case.service_id
            for p, _u in participants
        }
        proofs: dict[str, MemberProof] = {}
        for org_id in {*org_of.values()}:
            ids = [uid for uid, o in org_of.items() if o == org_id]
            proofs.update(await self.member_proofs(org_id, ids, head))
        org_proofs = await self.org_proofs(orgs, head)
        found: dict[str, storage.LogRecord] = {}
        for r in removals:
            if r.reason is storage.RemovalReason.CASE:
                continue
            entries = [
                e
                for e in await self._store.find_log(user_id=r.user_id)
                if e.kind is storage.LogKind.REMOVAL
                and e.index < head.tree_size
                and (
                    e.org_id is None
                    if r.reason is storage.RemovalReason.ACCOUNT
                    else e.org_id in (case.practice_id, case.service_id)
                )
            ]
            if entries:
                found[r.user_id] = entries[-1]
        refs = await self._log.refs(list(found.values()), head)
        return CaseProofs(
            head,
            org_of,
            proofs,
            [(o, org_proofs[o.org_id]) for o in orgs],
            dict(zip(found, refs, strict=True)),
        )

    async def prove(
        self,
        org: storage.Organisation,
        users: list[storage.User],
        disabled: list[storage.User],
        member: bool,
    ) -> Directory:
        head = await self._log.head()
        log = await read_org_log(self._store, org.org_id, head.tree_size)
        removals = list(log.removals)
        for u in disabled:
            removals += [
                r
                for r in await self._store.find_log(user_id=u.user_id)
                if r.kind is storage.LogKind.REMOVAL
                and r.org_id is None
                and r.index < head.tree_size
            ]
        if not member:
            removals = [r for r in removals if _about_dermatologists(r)]
        removals.sort(key=lambda r: r.index)
        return Directory(
            org,
            users,
            head,
            await self._org_proof(log, head),
            await self._member_proofs(log, [u.user_id for u in users], head),
            await self._log.refs(removals, head),
        )


def _about_dermatologists(record: storage.LogRecord) -> bool:
    """A removal an outsider of a service may see: a whole account or organisation, or the
    dermatologist role."""
    parsed = parse_log_entry(record.entry)
    return isinstance(parsed, RemovalEntry) and parsed.role in (None, st.Role.DERMATOLOGIST)
