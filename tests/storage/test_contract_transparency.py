"""Contract suite: the key transparency log (entries, stored subtree hashes, proofs, signed
heads, the log key) and the directory keys (organisation keys and their wraps, the
records-key chain with its pending changes and approvals); docs/storage.md "Transparency
log", docs/protocol.md sections 19 to 21.

Runs on the memory store, SQLite and, with DERMLINE_TEST_POSTGRES_DSN, PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable

import pytest

from crypto import merkle, tree_head
from storage import (
    Conflict,
    InvalidArgument,
    Invite,
    LogAppend,
    LogKind,
    Membership,
    NotFound,
    Organisation,
    OrgKey,
    OrgKeyWrap,
    OrgKind,
    RecordsKeyApproval,
    RecordsKeyPending,
    Role,
    Storage,
    StorageConfig,
    open_storage,
)
from tests.storage.conftest import T0, Raw, World, make_world, new_user

M = dt.timedelta(minutes=1)


def entry(n: int, **kw: object) -> LogAppend:
    base: dict[str, object] = {"entry": b"entry-%d" % n, "kind": LogKind.UNCERTIFIED}
    base.update(kw)
    return LogAppend(**base)  # type: ignore[arg-type]


async def test_append_list_and_find(store: Storage) -> None:
    await make_world(store)
    assert await store.log_size() == 0
    assert await store.append_log([]) == []
    idx = await store.append_log(
        [
            entry(0, org_id=World.practice, user_id=World.gp),
            entry(1, org_id=World.service, user_id=World.derm, ref="ab" * 32),
            entry(2, kind=LogKind.REMOVAL, user_id=World.gp),
        ]
    )
    assert idx == [0, 1, 2]
    assert await store.append_log([entry(3, org_id=World.practice)]) == [3]
    assert await store.log_size() == 4
    page = await store.list_log(1, 3)
    assert [(r.index, r.entry) for r in page] == [(1, b"entry-1"), (2, b"entry-2")]
    assert page[1].kind is LogKind.REMOVAL and page[1].org_id is None
    assert [r.index for r in await store.find_log(org_id=World.practice)] == [0, 3]
    assert [r.index for r in await store.find_log(user_id=World.gp)] == [0, 2]
    assert [r.index for r in await store.find_log(ref="ab" * 32)] == [1]
    assert await store.find_log(org_id=World.practice, user_id=World.derm) == []
    with pytest.raises(InvalidArgument):
        await store.find_log()
    with pytest.raises(InvalidArgument):
        await store.list_log(0, 1001)
    with pytest.raises(InvalidArgument):
        await store.list_log(3, 2)
    with pytest.raises(InvalidArgument):
        await store.append_log([entry(9, entry=b"")])


async def test_roots_and_proofs_match_the_reference_tree(store: Storage) -> None:
    """Every root, inclusion and consistency proof for every size up to 19 equals what
    crypto.merkle computes over all leaves (the RFC 9162 reference), and verifies."""
    entries = [b"leaf-%d" % i for i in range(19)]
    ref = merkle.MerkleTree()
    heads: dict[int, bytes] = {}
    for i, e in enumerate(entries):
        # appends of one and of several entries build the same tree
        if i % 3 == 2:
            continue
        batch = entries[i : i + 2] if i % 3 == 1 else [e]
        await store.append_log([LogAppend(x, LogKind.MEMBER) for x in batch])
        for x in batch:
            ref.append_entry(x)
        head = await store.sign_tree_head(T0 + i * M)
        heads[head.tree_size] = head.head
    pk = await store.log_public_key()
    for size, record in heads.items():
        parsed = tree_head.verify_tree_head(record, pk)
        assert parsed.tree_size == size
        assert parsed.root_hash == ref.root(size)
        proofs = await store.log_inclusion_proofs(list(range(size)), size)
        for i, proof in enumerate(proofs):
            assert proof == ref.inclusion_proof(i, size)
            tree_head.verify_entry_included(entries[i], index=i, tree_head=parsed, proof=proof)
        for old, old_record in heads.items():
            if old <= size:
                proof = await store.log_consistency_proof(old, size)
                assert proof == ref.consistency_proof(old, size)
                tree_head.verify_tree_head_extends(
                    tree_head.parse_tree_head(old_record), parsed, proof
                )
    with pytest.raises(InvalidArgument):
        await store.log_inclusion_proofs([5], 5)
    with pytest.raises(InvalidArgument):
        await store.log_inclusion_proofs([0], 20)
    with pytest.raises(InvalidArgument):
        await store.log_consistency_proof(5, 4)
    with pytest.raises(InvalidArgument):
        await store.log_consistency_proof(1, 20)


async def test_heads_one_per_size_and_kept(store: Storage) -> None:
    assert await store.latest_tree_head() is None
    empty = await store.sign_tree_head(T0)
    assert empty.tree_size == 0
    assert tree_head.parse_tree_head(empty.head).root_hash == merkle.EMPTY_ROOT
    again = await store.sign_tree_head(T0 + M)
    assert again == empty  # the stored head of this size, not a second one
    await store.append_log([entry(0)])
    one = await store.sign_tree_head(T0 + 2 * M)
    assert one.tree_size == 1 and one.created_at == T0 + 2 * M
    assert tree_head.parse_tree_head(one.head).timestamp_ms == int((T0 + 2 * M).timestamp() * 1000)
    assert await store.latest_tree_head() == one
    assert await store.get_tree_head(0) == empty
    with pytest.raises(NotFound):
        await store.get_tree_head(2)
    pk = await store.log_public_key()
    assert len(pk) == 65
    tree_head.verify_tree_head(one.head, pk)


async def test_racing_appends_get_distinct_indices(store: Storage) -> None:
    results = await asyncio.gather(
        *(store.append_log([entry(i), entry(100 + i)]) for i in range(8))
    )
    flat = sorted(i for r in results for i in r)
    assert flat == list(range(16))
    for r in results:
        assert r[1] == r[0] + 1  # one unit's entries stay together
    ref = merkle.MerkleTree([merkle.leaf_hash(x.entry) for x in await store.list_log(0, 16)])
    head = await store.sign_tree_head(T0)
    assert tree_head.parse_tree_head(head.head).root_hash == ref.root()


async def test_directory_writes_append_in_the_same_unit(store: Storage) -> None:
    await make_world(store)
    await store.create_user(
        new_user("u-new"), [Membership(World.practice, Role.GP)], log=[entry(0, user_id="u-new")]
    )
    await store.add_membership("u-new", Membership(World.service, Role.DERMATOLOGIST), [entry(1)])
    invite = Invite(
        b"t" * 32,
        World.practice,
        Role.GP,
        None,
        T0,
        T0 + 60 * M,
        statement=b"statement",
        handover=b"handover",
    )
    stored = await store.create_invite(invite, [entry(2, kind=LogKind.INVITE)])
    assert stored.statement == b"statement" and stored.handover == b"handover"
    got = await store.get_invite(b"t" * 32)
    assert (got.statement, got.handover) == (b"statement", b"handover")
    await store.accept_invite(b"t" * 32, new_user("u-acc"), T0, [entry(3, kind=LogKind.MEMBER)])
    assert [r.entry for r in await store.list_log(0, 10)] == [
        b"entry-0",
        b"entry-1",
        b"entry-2",
        b"entry-3",
    ]
    # a refused change appends nothing
    with pytest.raises(Conflict):
        await store.accept_invite(b"t" * 32, new_user("u-2"), T0, [entry(4)])
    with pytest.raises(Conflict):
        await store.create_user(new_user("u-new"), log=[entry(5)])
    with pytest.raises(NotFound):
        await store.add_membership("nobody", Membership(World.practice, Role.GP), [entry(6)])
    assert await store.log_size() == 4


def org_key(org_id: str = World.practice) -> OrgKey:
    return OrgKey(org_id, b"ok-statement", b"k" * 16, World.gp, T0)


def wrap(recipient: str, org_id: str = World.practice, n: int = 0) -> OrgKeyWrap:
    return OrgKeyWrap(org_id, recipient, World.gp, b"wrap-%s-%d" % (recipient.encode(), n), T0)


async def test_org_key_and_wraps(store: Storage) -> None:
    await make_world(store)
    assert await store.get_org_key(World.practice) is None
    with pytest.raises(NotFound):
        await store.put_org_key_wraps([wrap(World.gp)])
    with pytest.raises(NotFound):  # unknown recipient: nothing stored
        await store.set_org_key(org_key(), [wrap("nobody")], [entry(0)])
    assert await store.get_org_key(World.practice) is None and await store.log_size() == 0
    stored = await store.set_org_key(
        org_key(), [wrap(World.gp)], [entry(0, kind=LogKind.ORG_KEY, org_id=World.practice)]
    )
    assert stored == org_key()
    assert await store.get_org_key(World.practice) == org_key()
    assert (await store.get_organisation(World.practice)).org_key_id == b"k" * 16
    assert (await store.get_organisation(World.service)).org_key_id is None
    listed = {o.org_id: o.org_key_id for o in await store.list_organisations()}
    assert listed == {World.practice: b"k" * 16, World.service: None}
    assert await store.log_size() == 1
    with pytest.raises(Conflict) as exc:
        await store.set_org_key(org_key(), [], [entry(1)])
    assert exc.value.reason == "org_key_exists"
    assert await store.log_size() == 1
    with pytest.raises(NotFound):
        await store.set_org_key(org_key("nope"), [], [])
    assert (await store.get_org_key_wrap(World.practice, World.gp)).wrap == b"wrap-gp-1-0"
    await store.put_org_key_wraps([wrap(World.gp, n=1), wrap(World.derm)])
    assert (await store.get_org_key_wrap(World.practice, World.gp)).wrap == b"wrap-gp-1-1"
    assert [w.recipient_id for w in await store.list_org_key_wraps(World.practice)] == [
        World.derm,
        World.gp,
    ]
    with pytest.raises(NotFound):
        await store.get_org_key_wrap(World.practice, World.derm2)
    with pytest.raises(InvalidArgument):
        await store.set_org_key(org_key(World.service), [wrap(World.gp)], [])


def pending(n: int, sequence: int) -> RecordsKeyPending:
    statement = b"rk-statement-%d" % n
    return RecordsKeyPending(
        World.practice,
        hashlib.sha256(statement).digest(),
        statement,
        sequence,
        b"rk-pub-%d" % n,
        World.gp,
        T0 + n * M,
    )


def approval(user: str, n: int = 0) -> RecordsKeyApproval:
    return RecordsKeyApproval(user, b"approval-" + user.encode(), T0 + n * M)


async def test_legacy_first_records_key_only_once(store: Storage) -> None:
    await make_world(store)
    org = await store.set_records_public_key(World.service, b"first")
    assert org.records_public_key == b"first" and org.records_key_sequence is None
    with pytest.raises(Conflict) as exc:
        await store.set_records_public_key(World.service, b"second")
    assert exc.value.reason == "records_key_exists"
    assert (await store.get_organisation(World.service)).records_public_key == b"first"


async def test_records_key_chain_compare_and_set(store: Storage) -> None:
    await make_world(store)
    with pytest.raises(Conflict) as exc:
        await store.set_records_key(World.practice, b"rk1", sequence=1, log=[])
    assert exc.value.reason == "records_key_sequence"
    org = await store.set_records_key(World.practice, b"rk0", sequence=0, log=[entry(0)])
    assert (org.records_public_key, org.records_key_sequence) == (b"rk0", 0)
    assert (await store.get_organisation(World.practice)).records_key_sequence == 0
    assert await store.log_size() == 1
    with pytest.raises(Conflict):
        await store.set_records_key(World.practice, b"rk0b", sequence=0, log=[entry(1)])
    assert await store.log_size() == 1
    org = await store.set_records_key(World.practice, b"rk1", sequence=1, log=[])
    assert org.records_key_sequence == 1


async def test_pending_change_applies_at_two_distinct_approvers(store: Storage) -> None:
    await make_world(store)
    await store.set_records_key(World.practice, b"rk0", sequence=0, log=[])
    with pytest.raises(Conflict):
        await store.propose_records_key(pending(1, 5))
    p1 = await store.propose_records_key(pending(1, 1))
    assert p1.approvals == ()
    await store.propose_records_key(pending(2, 1))  # a competing change of the same sequence
    with pytest.raises(Conflict) as exc:
        await store.propose_records_key(pending(1, 1))
    assert exc.value.reason == "duplicate"
    assert [p.statement for p in await store.list_records_key_pending(World.practice)] == [
        b"rk-statement-1",
        b"rk-statement-2",
    ]
    with pytest.raises(NotFound):
        await store.approve_records_key(
            World.practice, b"x" * 32, approval(World.gp), threshold=2, now=T0
        )
    got, org = await store.approve_records_key(
        World.practice, p1.statement_hash, approval(World.gp), threshold=2, now=T0
    )
    assert got is not None and [a.approver_id for a in got.approvals] == [World.gp]
    assert org.records_public_key == b"rk0"
    with pytest.raises(Conflict) as exc:  # the same approver twice counts once
        await store.approve_records_key(
            World.practice, p1.statement_hash, approval(World.gp), threshold=2, now=T0
        )
    assert exc.value.reason == "duplicate"
    assert await store.log_size() == 0
    got, org = await store.approve_records_key(
        World.practice, p1.statement_hash, approval(World.derm, 1), threshold=2, now=T0 + M
    )
    assert got is None
    assert (org.records_public_key, org.records_key_sequence) == (b"rk-pub-1", 1)
    log = await store.list_log(0, 10)
    assert [(r.kind, r.entry[9:]) for r in log] == [
        (LogKind.RECORDS_KEY, b"rk-statement-1"),
        (LogKind.APPROVAL, b"approval-gp-1"),
        (LogKind.APPROVAL, b"approval-derm-1"),
    ]
    assert {r.ref for r in log} == {p1.statement_hash.hex()}
    # the competing change of that sequence went stale and is gone
    assert await store.list_records_key_pending(World.practice) == []


async def test_existing_memberships_are_backfilled_once(
    make_config: Callable[..., StorageConfig], raw: Raw
) -> None:
    """A database from before the log: on the first start with the log, every membership of
    every enabled account becomes an uncertified-member entry (the log covers the
    directory); later starts add nothing."""
    from crypto.account import generate_key_pair
    from crypto.log_entry import UncertifiedMemberEntry, parse_log_entry

    org_a, org_b = str(uuid.uuid4()), str(uuid.uuid4())
    people = {}
    s = await open_storage(make_config())
    try:
        await s.create_organisation(Organisation(org_a, OrgKind.PRACTICE, "A", None, T0))
        await s.create_organisation(Organisation(org_b, OrgKind.SERVICE, "B", None, T0))
        for name, ms in [
            ("one", [Membership(org_a, Role.GP)]),
            ("two", [Membership(org_b, Role.DERMATOLOGIST), Membership(org_b, Role.ADMIN)]),
            ("gone", [Membership(org_a, Role.GP)]),
        ]:
            uid = str(uuid.uuid4())
            sign, enc = generate_key_pair(), generate_key_pair()
            people[uid] = (name, sign.public_key, enc.public_key)
            await s.create_user(
                new_user(
                    uid, signing_public_key=sign.public_key, encryption_public_key=enc.public_key
                ),
                ms,
            )
            if name == "gone":
                await s.disable_user(uid, T0)
        await s.create_user(new_user("not-a-uuid"), [Membership(org_a, Role.GP)])
    finally:
        await s.close()
    # as a database of the previous version: no log yet
    for table in ("transparency_state", "transparency_entries", "transparency_nodes"):
        await raw(f"DELETE FROM {table}")
    s = await open_storage(make_config())
    try:
        entries = [parse_log_entry(r.entry) for r in await s.list_log(0, 100)]
        assert all(isinstance(e, UncertifiedMemberEntry) for e in entries)
        got = sorted((str(e.user_id), str(e.org_id), int(e.role)) for e in entries)  # type: ignore[attr-defined]
        by_name = {v[0]: k for k, v in people.items()}
        assert got == sorted(
            [
                (by_name["one"], org_a, 1),
                (by_name["two"], org_b, 2),
                (by_name["two"], org_b, 3),
            ]
        )
        for e in entries:
            assert isinstance(e, UncertifiedMemberEntry)
            _name, sign, enc = people[str(e.user_id)]
            assert (e.signing_public_key, e.encryption_public_key) == (sign, enc)
        head = await s.sign_tree_head(T0)
        assert head.tree_size == 3
    finally:
        await s.close()
    s = await open_storage(make_config())
    try:
        assert await s.log_size() == 3
    finally:
        await s.close()


async def test_racing_signers_keep_one_head_per_size(store: Storage) -> None:
    await store.append_log([entry(0), entry(1)])
    heads = await asyncio.gather(*(store.sign_tree_head(T0 + i * M) for i in range(6)))
    assert len({h.head for h in heads}) == 1
    assert await store.get_tree_head(2) == heads[0]
