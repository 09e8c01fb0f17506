"""Directory answers checked against the key log (client_py.directory): answers built over a
real Merkle log with the crypto makers, then edited as a dishonest server would."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from typing import Any

import pytest

from client_py.api import b64d
from client_py.directory import (
    included,
    removals,
    removed_since,
    verify_member,
    verify_org_key,
    verify_records_key,
)
from client_py.errors import NotInLogError, RecordsKeyChangedError
from crypto.account import generate_key_pair
from crypto.statement import Role
from crypto.tree_head import TreeHead, parse_tree_head
from tests.client_py.logfixture import FakeLog, Org, b64


def head_of(answer: dict[str, Any]) -> TreeHead:
    return parse_tree_head(b64d(answer["tree_head"]))


@pytest.fixture
def org() -> Org:
    o = Org(FakeLog())
    o.publish_org_key()
    return o


def member(o: Org, answer: dict[str, Any], i: int, ok: bytes | None = None) -> Any:
    assert o.org_key is not None
    return verify_member(
        answer["members"][i],
        org_id=str(o.org_id),
        org_public_key=o.org_key.public_key if ok is None else ok,
        head=head_of(answer),
    )


def test_the_organisation_key_statement_is_in_the_log(org: Org) -> None:
    answer = org.directory()
    statement = verify_org_key(answer["org"], head_of(answer))
    assert statement is not None and org.org_key is not None
    assert statement.org_public_key == org.org_key.public_key
    # A proof that does not lead to the head, an entry that is not a statement, another
    # organisation's statement under this organisation's id: refused.
    bad = copy.deepcopy(answer)
    bad["org"]["org_key"]["index"] += 1
    with pytest.raises(NotInLogError, match="organisation key of Elm Surgery"):
        verify_org_key(bad["org"], head_of(bad))
    other = Org(org.log, name="Other Practice")
    other.publish_org_key()
    answer = org.directory()
    answer["org"]["org_key"] = org.log.ref(other.org_key_index or 0)
    with pytest.raises(NotInLogError):
        verify_org_key(answer["org"], head_of(answer))
    answer["org"]["org_key"] = None
    assert verify_org_key(answer["org"], head_of(answer)) is None


def test_members_certified_through_an_invite_directly_or_not_at_all(org: Org) -> None:
    org.person("Dr Gee", Role.GP, "invite")
    org.person("Ada Admin", Role.ADMIN, "direct")
    org.person("Dr Old", Role.GP, "uncertified")
    answer = org.directory()
    gee, ada, old = (member(org, answer, i) for i in range(3))
    assert gee.certified and gee.certification is not None
    assert gee.certification.invite_statement is not None
    assert ada.certified and ada.role is Role.ADMIN and ada.certification is not None
    assert ada.certification.invite_statement is None
    assert not old.certified and old.certification is None and old.role is Role.GP


def test_a_member_whose_listed_keys_differ_from_the_log_is_refused(org: Org) -> None:
    org.person("Dr Gee", Role.GP)
    org.person("Dr Old", Role.GP, "uncertified")
    for i in range(2):
        answer = org.directory()
        answer["members"][i]["encryption_public_key"] = b64(generate_key_pair().public_key)
        with pytest.raises(NotInLogError, match="security keys"):
            member(org, answer, i)
        # Another role than the log's is refused too.
        answer = org.directory()
        answer["members"][i]["memberships"][0]["role"] = "admin"
        with pytest.raises(NotInLogError):
            member(org, answer, i)


def test_a_certification_under_another_organisation_key_is_refused(org: Org) -> None:
    org.person("Dr Gee", Role.GP)
    answer = org.directory()
    with pytest.raises(NotInLogError):
        member(org, answer, 0, ok=generate_key_pair().public_key)
    # Certified, but the client has no organisation key pinned to check it with.
    with pytest.raises(NotInLogError):
        verify_member(
            answer["members"][0],
            org_id=str(org.org_id),
            org_public_key=None,
            head=head_of(answer),
        )


def test_a_member_without_any_log_entry_is_refused(org: Org) -> None:
    org.person("Dr Gee", Role.GP)
    answer = org.directory()
    answer["members"][0]["certification"] = None
    with pytest.raises(NotInLogError, match="Dr Gee"):
        member(org, answer, 0)
    # An uncertified ref that points at another kind of entry.
    answer["members"][0]["uncertified"] = org.log.ref(org.org_key_index or 0)
    with pytest.raises(NotInLogError):
        member(org, answer, 0)
    # A certification whose member ref is the organisation key statement.
    answer = org.directory()
    answer["members"][0]["certification"]["member"] = org.log.ref(org.org_key_index or 0)
    with pytest.raises(NotInLogError):
        member(org, answer, 0)


def test_records_key_legacy_then_certified_then_rollover(org: Org) -> None:
    legacy = generate_key_pair().public_key
    org.legacy_records_key = legacy
    answer = org.directory()
    args = {"org_public_key": org.org_key.public_key if org.org_key else None, "admins": ()}
    assert verify_records_key(
        answer["org"], head=head_of(answer), pinned_sequence=None, pinned_key=None, **args
    ) == (legacy, None)
    first = org.records_key()
    answer = org.directory()
    assert verify_records_key(
        answer["org"], head=head_of(answer), pinned_sequence=None, pinned_key=None, **args
    ) == (first.public_key, 0)
    # A pinned legacy key must be what sequence 0 certifies.
    with pytest.raises(RecordsKeyChangedError, match="Elm Surgery"):
        verify_records_key(
            answer["org"], head=head_of(answer), pinned_sequence=None, pinned_key=legacy, **args
        )
    second = org.records_key(signer="rollover")
    answer = org.directory()
    assert verify_records_key(
        answer["org"],
        head=head_of(answer),
        pinned_sequence=0,
        pinned_key=first.public_key,
        **args,
    ) == (second.public_key, 1)
    # A chain that does not contain the pinned key is refused.
    with pytest.raises(RecordsKeyChangedError):
        verify_records_key(
            answer["org"],
            head=head_of(answer),
            pinned_sequence=1,
            pinned_key=first.public_key,
            **args,
        )
    # The convenience field disagreeing with the chain is refused.
    answer["org"]["records_public_key"] = b64(first.public_key)
    with pytest.raises(NotInLogError):
        verify_records_key(
            answer["org"],
            head=head_of(answer),
            pinned_sequence=0,
            pinned_key=first.public_key,
            **args,
        )
    # No organisation key to check the chain with.
    args["org_public_key"] = None
    with pytest.raises(NotInLogError):
        verify_records_key(
            answer["org"],
            head=head_of(answer),
            pinned_sequence=0,
            pinned_key=first.public_key,
            **args,
        )
    org.records = []
    org.legacy_records_key = None
    answer = org.directory()
    assert (
        verify_records_key(
            answer["org"], head=head_of(answer), pinned_sequence=None, pinned_key=None, **args
        )
        is None
    )


def test_an_organisation_key_change_needs_two_certified_administrators(org: Org) -> None:
    a = org.person("Ada Admin", Role.ADMIN)
    b = org.person("Bea Admin", Role.ADMIN, "direct")
    c = org.person("Cal Admin", Role.ADMIN, "uncertified")
    first = org.records_key()
    answer = org.directory()
    admins = [m.certification for i in range(2) if (m := member(org, answer, i)).certification]
    assert org.org_key is not None
    common = {"org_public_key": org.org_key.public_key, "admins": admins}

    def check(approvers: list[Any]) -> Any:
        org.records_key(approvers=approvers)
        answer = org.directory()
        try:
            return verify_records_key(
                answer["org"],
                head=head_of(answer),
                pinned_sequence=0,
                pinned_key=first.public_key,
                **common,
            )
        finally:
            org.records.pop()

    assert check([a, b])[1] == 1
    for approvers in ([a], [a, a], [a, c]):
        with pytest.raises(RecordsKeyChangedError):
            check(approvers)


def test_removals_and_included(org: Org) -> None:
    gee = org.person("Dr Gee", Role.GP)
    org.remove(gee)
    answer = org.directory()
    found = removals(answer["removals"], head_of(answer))
    assert [r.user_id for _i, r in found] == [gee.user_id]
    verified_gee = member(org, answer, 0)
    assert removed_since(verified_gee, str(org.org_id), found)
    assert not removed_since(verified_gee, str(uuid.uuid4()), found)
    # Enrolled again after the removal: the newer entry vouches for the keys.
    assert not removed_since(dataclasses.replace(verified_gee, index=10**6), str(org.org_id), found)
    with pytest.raises(NotInLogError, match="a removal"):
        removals([org.log.ref(0)], head_of(answer))
    # An entry that is not in the log at that head.
    ref = org.log.ref(0)
    ref["entry"] = b64(b"\x03" + bytes(40))
    with pytest.raises(NotInLogError):
        included(ref, head_of(answer), "x")
