"""The transparency log and verified keys in the domain, on the memory store (fast): every
directory change leaves a log whose new signed head extends the previous one (a
property-style run over random sequences of changes), the entry each change appends, and
the two-person rule's refusals (docs/protocol.md sections 19 to 21)."""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import storage
from crypto import statement as st
from crypto.account import KeyPair, generate_key_pair
from crypto.log_entry import (
    RemovalEntry,
    StatementEntry,
    UncertifiedMemberEntry,
    parse_log_entry,
)
from crypto.org_key import wrap_org_key
from crypto.records_key import derive_records_signing_key
from crypto.tree_head import (
    TreeHead,
    verify_entry_included,
    verify_tree_head,
    verify_tree_head_extends,
)
from server.errors import Conflict, Forbidden, NotFound, StatementInvalid, StatementRequired
from storage import OrgKind, Role
from storage.memory import MemoryStorage
from tests.server.domain.world import Clinic, Member, World, clinic


class Monitor:
    """A client's view of the log: the pinned key and head; every new head must extend it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.head: TreeHead | None = None
        self.key = b""

    async def check(self) -> TreeHead:
        svc = self.world.services.transparency
        self.key = self.key or await svc.public_key()
        head = verify_tree_head((await svc.head()).head, self.key)
        if self.head is not None:
            proof = await svc.consistency(self.head.tree_size, head.tree_size)
            verify_tree_head_extends(self.head, head, proof)
        self.head = head
        return head


async def set_org_key(world: World, admin: Member, org: storage.Organisation) -> KeyPair:
    key = generate_key_pair()
    kind = (
        st.OrganisationKind.PRACTICE
        if org.kind is OrgKind.PRACTICE
        else st.OrganisationKind.SERVICE
    )
    statement = st.make_organisation_key_statement(
        org_id=uuid.UUID(org.org_id), org_kind=kind, name=org.name, org_key=key, issued_at_ms=1
    )
    wrap = wrap_org_key(
        key,
        org_id=uuid.UUID(org.org_id),
        recipient_public_key=admin.keys.encryption.public_key,
        wrapper_user_id=uuid.UUID(admin.user_id),
        wrapper_signing_key=admin.keys.signing,
    )
    await world.services.org_keys.set_org_key(admin.actor, org.org_id, statement, [wrap], None)
    return key


def certify(org: storage.Organisation, key: KeyPair, m: Member, role: st.Role) -> bytes:
    return st.make_member_statement(
        user_id=uuid.UUID(m.user_id),
        org_id=uuid.UUID(org.org_id),
        role=role,
        signing_public_key=m.keys.signing.public_key,
        encryption_public_key=m.keys.encryption.public_key,
        invite_statement_hash=None,
        signer=key,
        issued_at_ms=1,
    )


def records_statement(
    org: storage.Organisation, seq: int, new: KeyPair, previous: KeyPair | None, signer: KeyPair
) -> bytes:
    return st.make_records_key_statement(
        org_id=uuid.UUID(org.org_id),
        sequence=seq,
        records_public_key=new.public_key,
        records_signing_public_key=derive_records_signing_key(new.private_key).public_key,
        previous_records_key_id=None if previous is None else previous.key_id,
        signer=signer,
        issued_at_ms=seq,
    )


def approval(m: Member, statement: bytes, signer: KeyPair | None = None) -> bytes:
    return st.make_approval_statement(
        approved_statement_hash=st.statement_hash(statement),
        approver_user_id=uuid.UUID(m.user_id),
        approver_signing_key=signer or m.keys.signing,
        issued_at_ms=1,
    )


async def last_entry(world: World) -> object:
    size = await world.store.log_size()
    [record] = await world.store.list_log(size - 1, size)
    return parse_log_entry(record.entry)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=hs.integers(min_value=0, max_value=2**32 - 1))
async def test_every_directory_change_extends_the_log(seed: int, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    """Random sequences of directory changes: after each one the log grew by exactly its
    entries, the new head verifies and extends the previous head, and the newest entry is
    the change's (checked against the head by its inclusion proof)."""
    rnd = random.Random(seed)
    store = MemoryStorage()
    world = World.build(store, tmp_path_factory.mktemp("w"))
    cast = await clinic(world)
    monitor = Monitor(world)
    await monitor.check()
    admin = await world.member(cast.practice.org_id, Role.ADMIN, "admin")
    ok: KeyPair | None = None
    records = cast.records_key
    sequence = -1
    people = [cast.gp, cast.derm, cast.derm2]
    for step in range(12):
        before = await store.log_size()
        action = rnd.choice(["member", "org_key", "certify", "records", "disable", "remove"])
        expected = 1
        if action == "member":
            org = rnd.choice([cast.practice, cast.service])
            role = Role.GP if org is cast.practice else Role.DERMATOLOGIST
            m = await world.member(org.org_id, role, f"p{step}")
            people.append(m)
        elif action == "org_key" and ok is None:
            ok = await set_org_key(world, admin, cast.practice)
        elif action == "certify" and ok is not None:
            await world.services.org_keys.certify(
                admin.actor,
                cast.practice.org_id,
                certify(cast.practice, ok, cast.gp, st.Role.GP),
                None,
            )
        elif action == "records" and ok is not None:
            new = generate_key_pair()
            signer = ok if sequence < 0 else derive_records_signing_key(records.private_key)
            stmt = records_statement(
                cast.practice,
                sequence + 1,
                records if sequence < 0 else new,
                None if sequence < 0 else records,
                signer,
            )
            await world.services.org_keys.put_records_key(
                admin.actor, cast.practice.org_id, statement=stmt
            )
            if sequence >= 0:
                records = new
            sequence += 1
        elif action == "disable" and len(people) > 3:
            victim = people.pop()
            await world.services.administration.disable_user(None, victim.user_id, None)
        elif action == "remove" and len(people) > 3:
            victim = people.pop()
            held = victim.user.memberships[0]
            await world.services.administration.remove_membership(
                None, held.org_id, victim.user_id, held.role, None
            )
        else:
            expected = 0
        assert await store.log_size() == before + expected
        head = await monitor.check()
        if expected:
            [record] = await store.list_log(head.tree_size - 1, head.tree_size)
            [proof] = await store.log_inclusion_proofs([record.index], head.tree_size)
            verify_entry_included(record.entry, index=record.index, tree_head=head, proof=proof)
            entry = parse_log_entry(record.entry)
            kinds = {
                "member": UncertifiedMemberEntry,
                "org_key": StatementEntry,
                "certify": StatementEntry,
                "records": StatementEntry,
                "disable": RemovalEntry,
                "remove": RemovalEntry,
            }
            assert isinstance(entry, kinds[action])
    await store.close()


async def test_records_key_two_person_rule_refusals(cast: Clinic) -> None:
    w = cast.world
    keys = w.services.org_keys
    practice = cast.practice
    admin = await w.member(practice.org_id, Role.ADMIN, "admin")
    admin2 = await w.member(practice.org_id, Role.ADMIN, "admin2")
    uncertified = await w.member(practice.org_id, Role.ADMIN, "admin3")
    ok = await set_org_key(w, admin, practice)
    for a in (admin, admin2):
        await keys.certify(
            admin.actor, practice.org_id, certify(practice, ok, a, st.Role.ADMIN), None
        )
    # a raw key now needs a statement; the legacy key is certified by sequence 0
    with pytest.raises(StatementRequired):
        await keys.put_records_key(
            admin.actor, practice.org_id, public_key=generate_key_pair().public_key
        )
    seq0 = records_statement(practice, 0, cast.records_key, None, ok)
    await keys.put_records_key(admin.actor, practice.org_id, statement=seq0)
    new = generate_key_pair()
    change = records_statement(practice, 1, new, cast.records_key, ok)
    with pytest.raises(Forbidden):  # a GP cannot propose (nor a records officer with the OK)
        await keys.put_records_key(cast.gp.actor, practice.org_id, statement=change)
    result = await keys.put_records_key(admin.actor, practice.org_id, statement=change)
    assert result.pending is not None
    assert result.org.records_public_key == cast.records_key.public_key
    with pytest.raises(Forbidden):
        await keys.approve(cast.gp.actor, practice.org_id, approval(cast.gp, change), None)
    with pytest.raises(Forbidden):  # an administrator no statement certifies
        await keys.approve(uncertified.actor, practice.org_id, approval(uncertified, change), None)
    with pytest.raises(StatementInvalid):  # signed with another key than the approver's
        await keys.approve(
            admin.actor, practice.org_id, approval(admin, change, generate_key_pair()), None
        )
    with pytest.raises(StatementInvalid):  # someone else's approval, replayed by the caller
        await keys.approve(admin.actor, practice.org_id, approval(admin2, change), None)
    with pytest.raises(NotFound):
        await keys.approve(admin.actor, practice.org_id, approval(admin, seq0), None)
    with pytest.raises(NotFound):  # another organisation's admin
        await keys.approve(admin.actor, cast.service.org_id, approval(admin, change), None)
    first = await keys.approve(admin.actor, practice.org_id, approval(admin, change), None)
    assert first.pending is not None and first.current_sequence == 0
    with pytest.raises(Conflict):  # the same administrator again counts once
        await keys.approve(admin.actor, practice.org_id, approval(admin, change), None)
    assert (await w.store.get_organisation(practice.org_id)).records_public_key == (
        cast.records_key.public_key
    )
    done = await keys.approve(admin2.actor, practice.org_id, approval(admin2, change), None)
    assert done.pending is None and done.current_sequence == 1
    org = await w.store.get_organisation(practice.org_id)
    assert org.records_public_key == new.public_key
    # the statement and both approvals are in the log, found by the statement's hash
    found = await w.store.find_log(ref=st.statement_hash(change).hex())
    assert [r.kind for r in found] == [
        storage.LogKind.RECORDS_KEY,
        storage.LogKind.APPROVAL,
        storage.LogKind.APPROVAL,
    ]


async def test_memberships_and_acceptance_entries(cast: Clinic) -> None:
    w = cast.world
    entry = await last_entry(w)  # the last member made by the clinic: an uncertified GP
    assert isinstance(entry, UncertifiedMemberEntry)
    assert str(entry.user_id) == cast.stranger.user_id
    assert entry.role is st.Role.GP
    assert entry.signing_public_key == cast.stranger.keys.signing.public_key
    # an admin who creates an organisation is its (uncertified) admin in the log
    admin = await w.member(cast.practice.org_id, Role.ADMIN, "admin")
    org = await w.services.organisations.create_organisation(
        OrgKind.SERVICE, "New Skin", records_public_key=None, actor=admin.actor, client=None
    )
    entry = await last_entry(w)
    assert isinstance(entry, UncertifiedMemberEntry)
    assert (str(entry.org_id), entry.role) == (org.org_id, st.Role.ADMIN)
    # the CLI's organisation has no creator in it, and its invite appends nothing
    size = await w.store.log_size()
    other = await w.org(OrgKind.SERVICE, "CLI Service")
    await w.services.organisations.invite(None, other.org_id, Role.DERMATOLOGIST)
    assert await w.store.log_size() == size


async def test_at_most_one_head_per_interval_yet_every_request_covered(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With the production interval (1 s), a request right after a change still gets a head
    covering it, but waits for the interval; concurrent requests share one head."""
    import asyncio
    import time

    store = MemoryStorage()
    world = World.build(store, tmp_path, tree_head_interval_ms=1000)
    svc = world.services.transparency
    practice = await world.org(OrgKind.PRACTICE, "Elm Surgery")
    await world.member(practice.org_id, Role.GP, "one")
    first = await svc.head()
    assert first.tree_size == 1
    await world.member(practice.org_id, Role.GP, "two")
    started = time.monotonic()
    heads = await asyncio.gather(*(svc.head() for _ in range(5)))
    assert time.monotonic() - started >= 0.9
    assert {h.head for h in heads} == {heads[0].head} and heads[0].tree_size == 2
    assert await svc.head() == heads[0]  # nothing new: no wait, no new head
    await store.close()


async def test_organisation_key_and_records_key_refusals(cast: Clinic) -> None:
    """The refusals a confused or malicious administrator or records officer meets."""
    from server.errors import InvalidInput, OrgKeyExists, RecordsKeySequence, WrapInvalid

    w = cast.world
    keys = w.services.org_keys
    practice = cast.practice
    admin = await w.member(practice.org_id, Role.ADMIN, "admin")
    admin2 = await w.member(practice.org_id, Role.ADMIN, "admin2")
    officer = await w.member(practice.org_id, Role.RECORDS_OFFICER, "officer")
    ok = generate_key_pair()
    # nothing to certify or wrap before the organisation has a key
    with pytest.raises(StatementInvalid):
        await keys.certify(
            admin.actor, practice.org_id, certify(practice, ok, cast.gp, st.Role.GP), None
        )
    with pytest.raises(NotFound):
        await keys.add_wraps(admin.actor, practice.org_id, [b"x"], None)
    with pytest.raises(StatementInvalid):
        await keys.put_records_key(
            admin.actor,
            practice.org_id,
            statement=records_statement(practice, 0, cast.records_key, None, ok),
        )
    # the wraps must include one to the caller
    statement = st.make_organisation_key_statement(
        org_id=uuid.UUID(practice.org_id),
        org_kind=st.OrganisationKind.PRACTICE,
        name=practice.name,
        org_key=ok,
        issued_at_ms=1,
    )
    to_admin2 = wrap_org_key(
        ok,
        org_id=uuid.UUID(practice.org_id),
        recipient_public_key=admin2.keys.encryption.public_key,
        wrapper_user_id=uuid.UUID(admin.user_id),
        wrapper_signing_key=admin.keys.signing,
    )
    with pytest.raises(WrapInvalid):
        await keys.set_org_key(admin.actor, practice.org_id, statement, [to_admin2], None)
    ok = await set_org_key(w, admin, practice)
    with pytest.raises(OrgKeyExists):
        await set_org_key(w, admin, practice)
    with pytest.raises(InvalidInput):
        await keys.add_wraps(admin.actor, practice.org_id, [], None)
    with pytest.raises(InvalidInput):
        await keys.put_records_key(admin.actor, practice.org_id)
    # records keys: another organisation's statement, a records officer signing with the
    # organisation key, a skipped sequence
    other = records_statement(cast.other_practice, 0, cast.records_key, None, ok)
    with pytest.raises(StatementInvalid):
        await keys.put_records_key(admin.actor, practice.org_id, statement=other)
    seq0 = records_statement(practice, 0, cast.records_key, None, ok)
    with pytest.raises(Forbidden):
        await keys.put_records_key(officer.actor, practice.org_id, statement=seq0)
    await keys.put_records_key(admin.actor, practice.org_id, statement=seq0)
    new = generate_key_pair()
    with pytest.raises(StatementInvalid):  # a rollover signed by a key that is not RSK 0
        await keys.put_records_key(
            officer.actor,
            practice.org_id,
            statement=records_statement(practice, 1, new, cast.records_key, generate_key_pair()),
        )
    with pytest.raises(StatementInvalid):  # an OK change naming another previous key
        await keys.put_records_key(
            admin.actor,
            practice.org_id,
            statement=records_statement(practice, 1, new, generate_key_pair(), ok),
        )
    with pytest.raises(Forbidden):  # only administrators propose with the organisation key
        await keys.put_records_key(
            officer.actor,
            practice.org_id,
            statement=records_statement(practice, 1, new, cast.records_key, ok),
        )
    change = records_statement(practice, 1, new, cast.records_key, ok)
    await keys.put_records_key(admin.actor, practice.org_id, statement=change)
    with pytest.raises(Conflict):  # the same change twice
        await keys.put_records_key(admin.actor, practice.org_id, statement=change)
    # the records officer's rollover (signed by RSK 0) wins the race for sequence 1: the
    # pending change of that sequence is gone, and approving it is not found
    rollover = records_statement(
        practice,
        1,
        generate_key_pair(),
        cast.records_key,
        derive_records_signing_key(cast.records_key.private_key),
    )
    await keys.put_records_key(officer.actor, practice.org_id, statement=rollover)
    assert await keys.list_pending(admin.actor, practice.org_id) == []
    await keys.certify(
        admin.actor, practice.org_id, certify(practice, ok, admin, st.Role.ADMIN), None
    )
    with pytest.raises(NotFound):
        await keys.approve(admin.actor, practice.org_id, approval(admin, change), None)
    with pytest.raises(RecordsKeySequence):
        await keys.put_records_key(admin.actor, practice.org_id, statement=seq0)
    with pytest.raises(NotFound):
        await keys.list_pending(cast.stranger.actor, practice.org_id)
