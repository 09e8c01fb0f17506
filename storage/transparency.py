"""The transparency log's tree over stored nodes, shared by the SQL backends
(``docs/storage.md``, "Transparency log").

Every complete, aligned subtree's hash is stored as node ``(level, index)``: the hash of the
``2**level`` leaves from ``index * 2**level``. An append stores the leaf and the subtrees it
completes, using the right frontier (one hash per set bit of the size, kept beside the size)
so it reads no node. A root or a proof for any size visits only aligned complete subtrees,
at most two per level: :func:`plan` lists them (the algorithms of :class:`crypto.merkle.
MerkleTree` walk the same subtrees whatever the hashes are), the engine reads exactly those
rows, and :func:`root`, :func:`inclusion_proof` and :func:`consistency_proof` compute from
them. The memory store keeps a :class:`crypto.merkle.MerkleTree` instead; the contract suite
checks that both answer the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence

from crypto import log_entry, merkle
from crypto.statement import Role as StatementRole
from storage._values import check_bytes, check_id, check_int64, check_text
from storage.errors import InvalidArgument
from storage.records import LogAppend, LogKind, Membership, RecordsKeyPending, Role, User

__all__ = [
    "MAX_PAGE",
    "ROLE_CODES",
    "Nodes",
    "append_nodes",
    "check_appends",
    "check_proof_request",
    "consistency_proof",
    "decode_frontier",
    "encode_frontier",
    "inclusion_proof",
    "plan",
    "records_key_change_entries",
    "root",
    "uncertified_member",
]

#: at most this many entries per page (``list_log``)
MAX_PAGE = 1000
#: storage roles as the statements' role bytes (``docs/protocol.md`` section 20)
ROLE_CODES: dict[Role, StatementRole] = {
    Role.GP: StatementRole.GP,
    Role.DERMATOLOGIST: StatementRole.DERMATOLOGIST,
    Role.ADMIN: StatementRole.ADMIN,
    Role.RECORDS_OFFICER: StatementRole.RECORDS_OFFICER,
    Role.AUDITOR: StatementRole.AUDITOR,
}

Key = tuple[int, int]
Nodes = Mapping[Key, bytes]
_ZERO = bytes(32)


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(get: Callable[[Key], bytes], start: int, end: int) -> bytes:
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return get((level, start >> level))
    k = _split(n)
    return merkle.node_hash(_subtree(get, start, start + k), _subtree(get, start + k, end))


def _root(get: Callable[[Key], bytes], size: int) -> bytes:
    return merkle.EMPTY_ROOT if size == 0 else _subtree(get, 0, size)


def _inclusion(get: Callable[[Key], bytes], index: int, size: int) -> list[bytes]:
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(_subtree(get, start + k, end))
            end = start + k
        else:
            proof.append(_subtree(get, start, start + k))
            start += k
    proof.reverse()
    return proof


def _consistency(get: Callable[[Key], bytes], old: int, size: int) -> list[bytes]:
    if old in (0, size):
        return []
    proof: list[bytes] = []
    start, end, complete, m = 0, size, True, old
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(_subtree(get, start + k, end))
            end = start + k
        else:
            proof.append(_subtree(get, start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        proof.append(_subtree(get, start, end))
    proof.reverse()
    return proof


def plan(
    *,
    root_size: int | None = None,
    inclusions: tuple[list[int], int] | None = None,
    consistency: tuple[int, int] | None = None,
) -> set[Key]:
    """The nodes the computations need (read them, then call the functions below)."""
    keys: set[Key] = set()

    def record(key: Key) -> bytes:
        keys.add(key)
        return _ZERO

    if root_size is not None:
        _root(record, root_size)
    if inclusions is not None:
        indices, size = inclusions
        for index in indices:
            _inclusion(record, index, size)
    if consistency is not None:
        _consistency(record, *consistency)
    return keys


def _getter(nodes: Nodes) -> Callable[[Key], bytes]:
    def get(key: Key) -> bytes:
        return nodes[key]

    return get


def root(nodes: Nodes, size: int) -> bytes:
    return _root(_getter(nodes), size)


def inclusion_proof(nodes: Nodes, index: int, size: int) -> list[bytes]:
    return _inclusion(_getter(nodes), index, size)


def consistency_proof(nodes: Nodes, old: int, size: int) -> list[bytes]:
    return _consistency(_getter(nodes), old, size)


def append_nodes(size: int, frontier: list[bytes], entry: bytes) -> list[tuple[Key, bytes]]:
    """Append one entry to a tree of ``size`` leaves whose right frontier is ``frontier``
    (changed in place): the nodes to store, the leaf first."""
    value = merkle.leaf_hash(entry)
    out: list[tuple[Key, bytes]] = [((0, size), value)]
    level, n = 0, size
    while n & 1:
        value = merkle.node_hash(frontier.pop(), value)
        level += 1
        n >>= 1
        out.append(((level, n), value))
    frontier.append(value)
    return out


def encode_frontier(frontier: list[bytes]) -> bytes:
    return b"".join(frontier)


def decode_frontier(data: bytes, size: int) -> list[bytes]:
    if len(data) != 32 * size.bit_count():
        raise ValueError("the frontier does not match the size")
    return [bytes(data[i : i + 32]) for i in range(0, len(data), 32)]


def check_appends(entries: Sequence[LogAppend]) -> list[LogAppend]:
    """Check entries to append (before a unit touches anything)."""
    out = []
    for e in entries:
        if not isinstance(e, LogAppend):
            raise InvalidArgument("log entries must be LogAppend")
        entry = check_bytes(e.entry, "entry")
        if not 1 <= len(entry) <= 4096:
            raise InvalidArgument("a log entry is 1..4096 bytes")
        out.append(
            LogAppend(
                entry,
                LogKind(e.kind),
                None if e.org_id is None else check_id(e.org_id, "org_id"),
                None if e.user_id is None else check_id(e.user_id, "user_id"),
                None if e.ref is None else check_text(e.ref, "ref", max_bytes=128),
            )
        )
    return out


def check_proof_request(indices: Sequence[int], tree_size: int, size: int) -> list[int]:
    """Indices and size of an inclusion request against a log of ``size`` entries."""
    n = check_int64(tree_size, "tree_size")
    if n > size:
        raise InvalidArgument("tree_size is beyond the log")
    out = [check_int64(i, "index") for i in indices]
    if any(i >= n for i in out):
        raise InvalidArgument("index is not below tree_size")
    return out


def uncertified_member(user: User, membership: Membership, appended_at_ms: int) -> LogAppend:
    """The uncertified-member entry (0x02) of one membership of an account whose keys no
    organisation key certifies. ``ValueError`` for ids that are not UUIDs or keys that are
    not P-256 points (the server makes neither)."""
    return LogAppend(
        log_entry.encode_uncertified_member_entry(
            user_id=uuid.UUID(user.user_id),
            org_id=uuid.UUID(membership.org_id),
            role=ROLE_CODES[Role(membership.role)],
            signing_public_key=user.signing_public_key,
            encryption_public_key=user.encryption_public_key,
            appended_at_ms=appended_at_ms,
        ),
        LogKind.UNCERTIFIED,
        membership.org_id,
        user.user_id,
    )


def records_key_change_entries(pending: RecordsKeyPending, now_ms: int) -> list[LogAppend]:
    """The log entries of an approved records-key change: the statement, then its
    approvals, each found by the statement's hash."""
    ref = pending.statement_hash.hex()
    out = [
        LogAppend(
            _statement_entry(pending.statement, now_ms),
            LogKind.RECORDS_KEY,
            pending.org_id,
            None,
            ref,
        )
    ]
    out.extend(
        LogAppend(
            _statement_entry(a.approval, now_ms),
            LogKind.APPROVAL,
            pending.org_id,
            a.approver_id,
            ref,
        )
        for a in pending.approvals
    )
    return out


def _statement_entry(statement: bytes, now_ms: int) -> bytes:
    """Entry 0x01 around a statement the server checked before storing it
    (``crypto.log_entry.encode_statement_entry`` without parsing it again)."""
    return bytes((log_entry.LogEntryType.STATEMENT,)) + now_ms.to_bytes(8, "big") + statement
