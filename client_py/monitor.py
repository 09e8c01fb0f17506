"""The organisation's monitor of the key log (docs/protocol.md section 19, "Monitor").

An organisation runs ``dermline-client keys monitor --org ORG [--expected FILE]`` on its own
machine. The client fetches every entry, recomputes the tree and checks it against the newest
signed head (and that head against the one it saw last time: ``client_py.keylog``), then
:func:`audit` lists every key ever published for the organisation and flags:

* a member's keys published without a certification by the organisation key (an uncertified
  entry that no later member statement certifies, or a member statement that the
  organisation key does not certify);
* an organisation key for the organisation other than the pinned one (or than the first);
* a records-key statement that is not part of a valid chain (``verify_records_key_chain``),
  or two statements for one sequence;
* with ``--expected``: a member the organisation did not enrol, keys other than the ones it
  enrolled, and a removal it made that the log does not show.

The expected file is JSON: ``{"members": [{"user_id": ..., "signing_public_key"?: B64,
"encryption_public_key"?: B64}], "removed": [user_id, ...]}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from client_py.api import b64d
from crypto.errors import (
    LogEntryError,
    MemberStatementError,
    OrganisationKeyStatementError,
    RecordsKeyChainError,
)
from crypto.fingerprint import key_id
from crypto.log_entry import RemovalEntry, StatementEntry, UncertifiedMemberEntry, parse_log_entry
from crypto.statement import (
    ApprovalStatement,
    CertifiedMember,
    InviteStatement,
    MemberStatement,
    OrganisationKeyStatement,
    RecordsKeyChange,
    RecordsKeyStatement,
    Role,
    verify_member_statement,
    verify_organisation_key_statement,
    verify_records_key_chain,
)

__all__ = ["Expected", "Report", "audit"]


def _fp(public_key: bytes) -> str:
    return key_id(public_key).hex()


@dataclass(frozen=True)
class Expected:
    """What the organisation enrolled and removed (its own records)."""

    members: Mapping[str, tuple[bytes | None, bytes | None]]
    removed: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Expected:
        members = {}
        for m in raw.get("members", []):
            signing = m.get("signing_public_key")
            encryption = m.get("encryption_public_key")
            members[str(m["user_id"])] = (
                None if signing is None else b64d(signing),
                None if encryption is None else b64d(encryption),
            )
        return cls(members, frozenset(str(u) for u in raw.get("removed", [])))


@dataclass
class Report:
    """Every key published for the organisation's members, and what was flagged."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def audit(
    entries: Sequence[bytes],
    *,
    org_id: str,
    org_public_key: bytes | None,
    expected: Expected | None = None,
) -> tuple[Report, bytes | None]:
    """Check every entry about ``org_id``; returns the report and the organisation key the
    monitor trusts (``org_public_key``, or the first one the log shows when none is pinned)."""
    org = uuid.UUID(org_id)
    report = Report()
    flag = report.flags.append
    parsed: list[tuple[int, Any]] = []
    for index, raw in enumerate(entries):
        try:
            parsed.append((index, parse_log_entry(raw)))
        except LogEntryError:
            flag(f"entry {index} does not parse")
    statements = [(i, e.statement) for i, e in parsed if isinstance(e, StatementEntry)]
    invites = {s.hash: s for _i, s in statements if isinstance(s, InviteStatement)}
    # The organisation key: the pinned one, else the first published (trust on first use).
    ok = org_public_key
    for index, s in statements:
        if not isinstance(s, OrganisationKeyStatement) or s.org_id != org:
            continue
        try:
            verify_organisation_key_statement(s.record, org_id=org)
        except OrganisationKeyStatementError:
            flag(f"entry {index}: an organisation key statement that does not verify")
            continue
        if ok is None:
            ok = s.org_public_key
        elif s.org_public_key != ok:
            flag(f"entry {index}: an organisation key the organisation did not make")
    published: dict[str, list[tuple[bytes, bytes]]] = {}
    removed: set[str] = set()
    admins: list[CertifiedMember] = []
    uncertified: list[tuple[int, str, Role, tuple[bytes, bytes]]] = []
    certified: list[tuple[int, str, Role, tuple[bytes, bytes]]] = []
    for index, e in parsed:
        if isinstance(e, UncertifiedMemberEntry) and e.org_id == org:
            user = str(e.user_id)
            keys = (e.signing_public_key, e.encryption_public_key)
            published.setdefault(user, []).append(keys)
            report.keys.append(_key_line(index, user, e.role, keys, certified=False))
            uncertified.append((index, user, e.role, keys))
        elif isinstance(e, StatementEntry) and isinstance(e.statement, MemberStatement):
            s = e.statement
            if s.org_id != org:
                continue
            user = str(s.user_id)
            keys = (s.signing_public_key, s.encryption_public_key)
            published.setdefault(user, []).append(keys)
            report.keys.append(_key_line(index, user, s.role, keys, certified=True))
            invite = (
                None if s.invite_statement_hash is None else invites.get(s.invite_statement_hash)
            )
            try:
                if ok is None:
                    raise MemberStatementError
                verify_member_statement(
                    s.record,
                    org_id=org,
                    org_public_key=ok,
                    invite_statement=None if invite is None else invite.record,
                )
            except MemberStatementError:
                flag(f"entry {index}: keys of {user} that the organisation key does not certify")
                continue
            certified.append((index, user, s.role, keys))
            if s.role is Role.ADMIN:
                admins.append(CertifiedMember(s.record, None if invite is None else invite.record))
        elif isinstance(e, RemovalEntry) and (e.org_id is None or e.org_id == org):
            removed.add(str(e.user_id))
    for index, user, role, keys in uncertified:
        # Enrolled through a server-made invite: fine once the organisation key certified
        # the same keys in the same role later; flagged until then.
        if not any(
            c_index > index and c_user == user and c_role is role and c_keys == keys
            for c_index, c_user, c_role, c_keys in certified
        ):
            flag(f"entry {index}: keys of {user} not certified by the organisation key")
    _audit_records_keys(statements, org, ok, admins, flag)
    if expected is not None:
        for user, keys_seen in published.items():
            if user not in expected.members:
                flag(f"{user} has keys in the log but the organisation did not enrol them")
                continue
            signing, encryption = expected.members[user]
            for seen in keys_seen:
                if (signing is not None and seen[0] != signing) or (
                    encryption is not None and seen[1] != encryption
                ):
                    flag(
                        f"{user} has keys in the log other than the ones the organisation enrolled"
                    )
        for user in sorted(expected.removed - removed):
            flag(f"the organisation removed {user} but the log shows no removal")
    return report, ok


def _key_line(
    index: int, user: str, role: Role, keys: tuple[bytes, bytes], *, certified: bool
) -> dict[str, Any]:
    return {
        "index": index,
        "user_id": user,
        "role": role.name.lower(),
        "certified": certified,
        "signing_key_id": _fp(keys[0]),
        "encryption_key_id": _fp(keys[1]),
    }


def _audit_records_keys(
    statements: list[tuple[int, Any]],
    org: uuid.UUID,
    ok: bytes | None,
    admins: list[CertifiedMember],
    flag: Any,
) -> None:
    chain: dict[int, tuple[int, RecordsKeyStatement]] = {}
    for index, s in statements:
        if isinstance(s, RecordsKeyStatement) and s.org_id == org:
            if s.sequence in chain:
                flag(f"entry {index}: a second records key for number {s.sequence}")
                continue
            chain[s.sequence] = (index, s)
    if not chain:
        return
    approvals: dict[bytes, list[bytes]] = {}
    for _i, s in statements:
        if isinstance(s, ApprovalStatement):
            approvals.setdefault(s.approved_statement_hash, []).append(s.record)
    changes = []
    for sequence in range(len(chain)):
        if sequence not in chain:
            flag(f"the records key chain has no number {sequence}")
            return
        s = chain[sequence][1]
        changes.append(RecordsKeyChange(s.record, tuple(approvals.get(s.hash, []))))
    try:
        if ok is None:
            raise RecordsKeyChainError
        verify_records_key_chain(changes, org_id=org, org_public_key=ok, admins=admins)
    except RecordsKeyChainError:
        flag("a records key the organisation did not make: the records key chain does not verify")
