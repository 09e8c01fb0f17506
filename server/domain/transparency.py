"""The key transparency log as the server runs it (``docs/protocol.md`` section 19, "Server
behaviour"): signed tree heads, proofs, the pages a monitor reads, and the log references
(:class:`LogRef`) that directory answers carry.

Rules
-----
* Every directory change appends its entry in the storage unit that makes the change (the
  services that make changes build the entries: :func:`entry_ms`, :func:`statement_append`).
* A head is signed on demand: a request that needs a head while the log holds entries the
  latest head does not cover gets a new head of the whole log, so a client that just made a
  change sees it. One process signs at most one head per ``tree_head_interval_ms`` (1 s): a
  request that needs a newer head sooner waits for the rest of the interval, and the
  requests waiting meanwhile share that one head (a lock). A size is signed once (storage
  keeps one head per size).
* Every signed-in user may read the head, proofs and entries: the log is public to the
  deployment's members by design (a monitor replays it). Only sizes the log signed are
  accepted as the target of a proof: a proof is only meaningful against a signed head.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import storage
from crypto import statement as st
from crypto.errors import CryptoError
from crypto.log_entry import (
    RemovalReason,
    StatementEntry,
    encode_removal_entry,
    encode_statement_entry,
    encode_uncertified_member_entry,
    parse_log_entry,
)
from server.domain.clock import Clock
from server.errors import BadRequest, NotFound
from storage.transparency import ROLE_CODES

__all__ = [
    "MAX_PAGE",
    "LogRef",
    "OrgLog",
    "RecordsKeyLink",
    "TransparencyService",
    "entry_ms",
    "read_org_log",
    "removal_append",
    "statement_append",
    "uncertified_append",
]

#: entries per page of ``entries`` (contract: at most 1,000)
MAX_PAGE = 1000


@dataclass(frozen=True)
class LogRef:
    """An entry with its leaf index and its inclusion proof against one signed head."""

    index: int
    entry: bytes
    proof: list[bytes]


def entry_ms(when: dt.datetime) -> int:
    """An entry's "appended at": Unix milliseconds of the server's clock."""
    return int(when.timestamp() * 1000)


def statement_append(
    record: bytes,
    kind: storage.LogKind,
    *,
    when: dt.datetime,
    org_id: str | None,
    user_id: str | None = None,
) -> storage.LogAppend:
    """The log entry (0x01) of a verified statement, found by its statement hash."""
    return storage.LogAppend(
        encode_statement_entry(record, appended_at_ms=entry_ms(when)),
        kind,
        org_id,
        user_id,
        st.statement_hash(record).hex(),
    )


class TransparencyService:
    def __init__(self, store: storage.Storage, clock: Clock, *, min_interval: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._lock = asyncio.Lock()
        self._interval = min_interval
        self._signed_at = -math.inf  # time.monotonic() of this process's last signature

    async def public_key(self) -> bytes:
        return await self._store.log_public_key()

    async def _covering(self) -> storage.SignedTreeHead | None:
        latest = await self._store.latest_tree_head()
        size = await self._store.log_size()
        return latest if latest is not None and latest.tree_size >= size else None

    async def head(self) -> storage.SignedTreeHead:
        """A signed head covering every entry committed before the call."""
        latest = await self._covering()
        if latest is not None:
            return latest
        async with self._lock:
            latest = await self._covering()  # signed while this request waited
            if latest is not None:
                return latest
            wait = self._signed_at + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            signed = await self._store.sign_tree_head(self._clock.now())
            self._signed_at = time.monotonic()
            return signed

    async def _signed(self, size: int) -> storage.SignedTreeHead:
        try:
            return await self._store.get_tree_head(size)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound("no tree head of this size") from None

    async def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        """Consistency proof from ``old_size`` to the signed size ``new_size``."""
        if old_size > new_size:
            raise BadRequest("from must not exceed to")
        await self._signed(new_size)
        return await self._store.log_consistency_proof(old_size, new_size)

    async def inclusion(self, index: int, size: int) -> list[bytes]:
        """Inclusion proof of leaf ``index`` against the signed size ``size``."""
        await self._signed(size)
        if index >= size:
            raise BadRequest("index must be below size")
        return (await self._store.log_inclusion_proofs([index], size))[0]

    async def entries(
        self, start: int, end: int
    ) -> tuple[list[storage.LogRecord], storage.SignedTreeHead]:
        """Entries ``start <= i < end`` that the returned head covers (a monitor checks them
        against it)."""
        if end < start or end - start > MAX_PAGE:
            raise BadRequest("a page is start <= end, at most 1000 entries")
        head = await self.head()
        end = min(end, head.tree_size)
        records = await self._store.list_log(start, end) if start < end else []
        return records, head

    async def refs(
        self, records: Sequence[storage.LogRecord], head: storage.SignedTreeHead
    ) -> list[LogRef]:
        """Log references of entries the head covers, with proofs against it."""
        if not records:
            return []
        proofs = await self._store.log_inclusion_proofs([r.index for r in records], head.tree_size)
        return [LogRef(r.index, r.entry, p) for r, p in zip(records, proofs, strict=True)]


def uncertified_append(
    *,
    user_id: str,
    org_id: str,
    role: storage.Role,
    signing_public_key: bytes,
    encryption_public_key: bytes,
    when: dt.datetime,
) -> storage.LogAppend:
    """The uncertified-member entry (0x02) of a person enrolled without an organisation key's
    statement (a server-made invite, an organisation created by an administrator)."""
    return storage.LogAppend(
        encode_uncertified_member_entry(
            user_id=uuid.UUID(user_id),
            org_id=uuid.UUID(org_id),
            role=ROLE_CODES[role],
            signing_public_key=signing_public_key,
            encryption_public_key=encryption_public_key,
            appended_at_ms=entry_ms(when),
        ),
        storage.LogKind.UNCERTIFIED,
        org_id,
        user_id,
    )


def removal_append(
    *,
    user_id: str,
    org_id: str | None,
    role: storage.Role | None,
    when: dt.datetime,
) -> storage.LogAppend:
    """The removal entry (0x03): ``org_id`` None for a disabled account (reason 2), ``role``
    None for every role in the organisation (reason 1), else one role (reason 3). Pass it to
    the storage unit that disables the account or removes the membership."""
    if org_id is None:
        reason = RemovalReason.ACCOUNT_DISABLED
    elif role is None:
        reason = RemovalReason.REMOVED_FROM_ORGANISATION
    else:
        reason = RemovalReason.ROLE_REMOVED
    return storage.LogAppend(
        encode_removal_entry(
            user_id=uuid.UUID(user_id),
            org_id=None if org_id is None else uuid.UUID(org_id),
            reason=reason,
            role=None if role is None else ROLE_CODES[role],
            appended_at_ms=entry_ms(when),
        ),
        storage.LogKind.REMOVAL,
        org_id,
        user_id,
    )


@dataclass(frozen=True)
class RecordsKeyLink:
    """One sequence of an organisation's records-key chain as the log holds it."""

    statement: storage.LogRecord
    parsed: st.RecordsKeyStatement
    approvals: list[storage.LogRecord]


@dataclass(frozen=True)
class OrgLog:
    """What the log says about one organisation, up to a tree size."""

    org_key: storage.LogRecord | None
    org_public_key: bytes | None
    records_keys: list[RecordsKeyLink]
    #: the newest member (0x01 kind 0x03) or uncertified (0x02) entry of each person
    members: dict[str, storage.LogRecord]
    #: invite statements by their hex hash
    invites: dict[str, storage.LogRecord]
    removals: list[storage.LogRecord]

    def certified_admins(self) -> list[st.CertifiedMember]:
        """Every admin member statement with its invite statement (the chain check skips
        any that does not verify)."""
        out = []
        for rec in self.members.values():
            if rec.kind is not storage.LogKind.MEMBER:
                continue
            parsed = parse_log_entry(rec.entry)
            assert isinstance(parsed, StatementEntry)
            member = parsed.statement
            if not isinstance(member, st.MemberStatement) or member.role is not st.Role.ADMIN:
                continue
            invite = None
            if member.invite_statement_hash is not None:
                found = self.invites.get(member.invite_statement_hash.hex())
                if found is None:
                    continue
                invite_entry = parse_log_entry(found.entry)
                assert isinstance(invite_entry, StatementEntry)
                invite = invite_entry.statement.record
            out.append(st.CertifiedMember(member.record, invite))
        return out

    def chain(self) -> list[st.RecordsKeyChange]:
        out = []
        for link in self.records_keys:
            approvals = []
            for a in link.approvals:
                parsed = parse_log_entry(a.entry)
                assert isinstance(parsed, StatementEntry)
                approvals.append(parsed.statement.record)
            out.append(st.RecordsKeyChange(link.parsed.record, tuple(approvals)))
        return out


def _statement(record: storage.LogRecord) -> st.Statement | None:
    try:
        parsed = parse_log_entry(record.entry)
    except CryptoError:
        return None
    return parsed.statement if isinstance(parsed, StatementEntry) else None


async def read_org_log(store: storage.Storage, org_id: str, tree_size: int) -> OrgLog:
    """Everything the log holds about ``org_id`` in its first ``tree_size`` entries (the
    server wrote every entry after checking it; parsing failures are skipped)."""
    records = [r for r in await store.find_log(org_id=org_id) if r.index < tree_size]
    org_key = None
    org_public_key = None
    links: list[RecordsKeyLink] = []
    approvals: dict[str, list[storage.LogRecord]] = {}
    members: dict[str, storage.LogRecord] = {}
    invites: dict[str, storage.LogRecord] = {}
    removals: list[storage.LogRecord] = []
    for r in records:
        kind = r.kind
        if kind is storage.LogKind.ORG_KEY and org_key is None:
            parsed = _statement(r)
            if isinstance(parsed, st.OrganisationKeyStatement):
                org_key, org_public_key = r, parsed.org_public_key
        elif kind is storage.LogKind.RECORDS_KEY:
            parsed = _statement(r)
            if isinstance(parsed, st.RecordsKeyStatement) and parsed.sequence == len(links):
                links.append(RecordsKeyLink(r, parsed, []))
        elif kind is storage.LogKind.APPROVAL and r.ref is not None:
            approvals.setdefault(r.ref, []).append(r)
        elif kind in (storage.LogKind.MEMBER, storage.LogKind.UNCERTIFIED) and r.user_id:
            members[r.user_id] = r
        elif kind is storage.LogKind.INVITE and r.ref is not None:
            invites[r.ref] = r
        elif kind is storage.LogKind.REMOVAL:
            removals.append(r)
    for link in links:
        link.approvals.extend(approvals.get(link.parsed.hash.hex(), []))
    return OrgLog(org_key, org_public_key, links, members, invites, removals)
