"""Checking the server's directory answers against its key log (docs/protocol.md sections
18 to 20; wire shapes in docs/api.md "Directory answers").

Every fact the client uses comes from a log entry proven to be in the log (a ``LogRef``:
index, entry, inclusion proof against the answer's tree head), never from the JSON beside
it; a convenience field that disagrees with the entry is refused. The functions here are
pure: the caller has already checked the answer's tree head (signature, and that it extends
the pinned one: :meth:`client_py.client.DermlineClient._accept_head`) and passes it in with
the organisation key it pinned.

* :func:`included` - a LogRef's entry is leaf ``index`` of the head; the parsed entry.
* :func:`verify_org_key` - the organisation key statement of an organisation.
* :func:`verify_member` - a member's keys: certified (member statement under the pinned
  organisation key, directly or through an invite) or uncertified (entry 0x02), and equal
  to the keys the answer lists.
* :func:`verify_records_key` - the records-key chain with its approvals, extending the pin.
* :func:`removals` - the removal entries (0x03) of an answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from client_py.api import b64d
from client_py.errors import NotInLogError, RecordsKeyChangedError
from crypto.errors import (
    InclusionProofError,
    LogEntryError,
    MemberStatementError,
    OrganisationKeyStatementError,
    RecordsKeyChainError,
    StatementError,
)
from crypto.log_entry import (
    LogEntry,
    RemovalEntry,
    StatementEntry,
    UncertifiedMemberEntry,
    parse_log_entry,
)
from crypto.statement import (
    CertifiedMember,
    MemberStatement,
    OrganisationKeyStatement,
    RecordsKeyChange,
    RecordsKeyPin,
    RecordsKeyStatement,
    Role,
    parse_statement,
    verify_member_statement,
    verify_organisation_key_statement,
    verify_records_key_chain,
)
from crypto.tree_head import TreeHead, verify_entry_included

__all__ = [
    "LogRef",
    "VerifiedMember",
    "included",
    "removals",
    "removed_since",
    "verify_member",
    "verify_org_key",
    "verify_records_key",
]

ROLE_NAMES = {r: r.name.lower() for r in Role}


@dataclass(frozen=True)
class LogRef:
    """A log entry with its leaf index and inclusion proof (contract section 1)."""

    index: int
    entry: bytes = field(repr=False)
    proof: tuple[bytes, ...] = field(repr=False)

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> LogRef:
        return cls(int(raw["index"]), b64d(raw["entry"]), tuple(b64d(p) for p in raw["proof"]))


def included(ref: LogRef | Mapping[str, Any], head: TreeHead, what: str) -> LogEntry:
    """The parsed entry of ``ref`` after checking it is in the log at ``head``;
    :class:`NotInLogError` (naming ``what``) otherwise."""
    if not isinstance(ref, LogRef):
        ref = LogRef.from_wire(ref)
    try:
        verify_entry_included(ref.entry, index=ref.index, tree_head=head, proof=ref.proof)
        return parse_log_entry(ref.entry)
    except (InclusionProofError, LogEntryError):
        raise NotInLogError(what) from None


def _statement_entry(ref: Mapping[str, Any], head: TreeHead, what: str) -> StatementEntry:
    entry = included(ref, head, what)
    if not isinstance(entry, StatementEntry):
        raise NotInLogError(what)
    return entry


def verify_org_key(org: Mapping[str, Any], head: TreeHead) -> OrganisationKeyStatement | None:
    """The organisation key statement in ``org["org_key"]`` (None when the organisation has
    no key yet): in the log, for this organisation, signed by the key it names. Whether that
    key is the pinned one is the caller's check."""
    ref = org.get("org_key")
    if ref is None:
        return None
    what = f"the organisation key of {org['name']}"
    entry = _statement_entry(ref, head, what)
    try:
        return verify_organisation_key_statement(
            entry.statement.record, org_id=uuid.UUID(org["org_id"])
        )
    except OrganisationKeyStatementError:
        raise NotInLogError(what) from None


@dataclass(frozen=True)
class VerifiedMember:
    """A directory entry whose keys the log vouches for."""

    user_id: str
    name: str
    signing_public_key: bytes = field(repr=False)
    encryption_public_key: bytes = field(repr=False)
    #: certified by the organisation key (else: enrolled through a server-made invite)
    certified: bool
    #: the member statement and its invite, for the records-key chain's administrators
    certification: CertifiedMember | None = field(default=None, repr=False)
    role: Role | None = None
    #: the log index of the entry that vouches for the keys (a later removal overrides it)
    index: int = 0


def verify_member(
    member: Mapping[str, Any],
    *,
    org_id: str,
    org_public_key: bytes | None,
    head: TreeHead,
) -> VerifiedMember:
    """The member's keys as the log shows them for ``org_id``; :class:`NotInLogError` when
    neither a certification nor an uncertified entry proves the keys the answer lists."""
    name = str(member["display_name"])
    what = f"{name}'s security keys"
    user = uuid.UUID(member["user_id"])
    signing = b64d(member["signing_public_key"])
    encryption = b64d(member["encryption_public_key"])
    roles = {m["role"] for m in member.get("memberships", []) if m.get("org_id", org_id) == org_id}
    certification = member.get("certification")
    if certification is not None:
        if org_public_key is None:
            raise NotInLogError(what)
        index = int(certification["member"]["index"])
        statement = _statement_entry(certification["member"], head, what).statement
        invite_ref = certification.get("invite")
        invite = None if invite_ref is None else _statement_entry(invite_ref, head, what)
        invite_record = None if invite is None else invite.statement.record
        try:
            verified: MemberStatement = verify_member_statement(
                statement.record,
                org_id=uuid.UUID(org_id),
                org_public_key=org_public_key,
                invite_statement=invite_record,
            )
        except MemberStatementError:
            raise NotInLogError(what) from None
        if (
            verified.user_id != user
            or verified.signing_public_key != signing
            or verified.encryption_public_key != encryption
            or (roles and ROLE_NAMES[verified.role] not in roles)
        ):
            raise NotInLogError(what)
        return VerifiedMember(
            str(user),
            name,
            signing,
            encryption,
            True,
            CertifiedMember(statement.record, invite_record),
            verified.role,
            index,
        )
    ref = member.get("uncertified")
    if ref is None:
        raise NotInLogError(what)
    entry = included(ref, head, what)
    if (
        not isinstance(entry, UncertifiedMemberEntry)
        or entry.user_id != user
        or str(entry.org_id) != org_id
        or entry.signing_public_key != signing
        or entry.encryption_public_key != encryption
        or (roles and ROLE_NAMES[entry.role] not in roles)
    ):
        raise NotInLogError(what)
    return VerifiedMember(
        str(user), name, signing, encryption, False, None, entry.role, int(ref["index"])
    )


def verify_records_key(
    org: Mapping[str, Any],
    *,
    org_public_key: bytes | None,
    admins: Sequence[CertifiedMember],
    head: TreeHead,
    pinned_sequence: int | None,
    pinned_key: bytes | None,
) -> tuple[bytes, int | None] | None:
    """The records key to encrypt to for ``org`` and its sequence (None: an uncertified key
    on first use), or None when the organisation has none.

    With a chain (``org["records_keys"]``): every link and approval in the log, the chain
    verified by ``crypto.statement.verify_records_key_chain`` under the pinned organisation
    key and extending the pin (a pinned uncertified key must be what sequence 0 names).
    Without: the legacy ``records_public_key``, usable only as what the caller pins on first
    use. A chain that does not verify is :class:`RecordsKeyChangedError`.
    """
    chain = org.get("records_keys") or []
    name = str(org["name"])
    if not chain:
        raw = org.get("records_public_key")
        return None if raw is None else (b64d(raw), None)
    what = f"the records key of {name}"
    changes = []
    for link in chain:
        statement = _statement_entry(link["statement"], head, what).statement
        approvals = tuple(
            _statement_entry(a, head, what).statement.record for a in link.get("approvals", [])
        )
        changes.append(RecordsKeyChange(statement.record, approvals))
    if org_public_key is None:
        raise NotInLogError(what)
    pin = None
    if pinned_key is not None and pinned_sequence is not None:
        pin = RecordsKeyPin(pinned_sequence, pinned_key)
    try:
        newest: RecordsKeyStatement = verify_records_key_chain(
            changes,
            org_id=uuid.UUID(org["org_id"]),
            org_public_key=org_public_key,
            admins=admins,
            pin=pin,
        )
        first = parse_statement(changes[0].statement)
    except (RecordsKeyChainError, StatementError):
        raise RecordsKeyChangedError(name) from None
    if pinned_key is not None and pinned_sequence is None:
        # An uncertified key pinned on first use: the chain must start by certifying it.
        assert isinstance(first, RecordsKeyStatement)
        if first.records_public_key != pinned_key:
            raise RecordsKeyChangedError(name)
    listed = org.get("records_public_key")
    if listed is not None and b64d(listed) != newest.records_public_key:
        raise NotInLogError(what)  # the convenience field disagrees with the log
    return newest.records_public_key, newest.sequence


def removals(refs: Sequence[Mapping[str, Any]], head: TreeHead) -> list[tuple[int, RemovalEntry]]:
    """The removal entries (0x03) an answer lists, each proven in the log, with its index."""
    out = []
    for ref in refs:
        entry = included(ref, head, "a removal")
        if not isinstance(entry, RemovalEntry):
            raise NotInLogError("a removal")
        out.append((int(ref["index"]), entry))
    return out


def removed_since(
    member: VerifiedMember, org_id: str, found: Sequence[tuple[int, RemovalEntry]]
) -> bool:
    """Whether a removal later in the log than the entry vouching for ``member`` takes them
    out of ``org_id`` (the whole account, the organisation, or the role they hold there)."""
    return any(
        index > member.index
        and str(entry.user_id) == member.user_id
        and (entry.org_id is None or str(entry.org_id) == org_id)
        and (entry.role is None or entry.role is member.role)
        for index, entry in found
    )
