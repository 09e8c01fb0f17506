"""Membership epochs in the case service (docs/protocol.md section 24): removals mark the
case, sends and uploads wait for the next epoch, a new epoch is a compare-and-set whose wraps
go to the remaining participants and the records keys only, and a removed person, with their
real keys, cannot open what is sent afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest

from crypto.case_key import (
    generate_case_key,
    open_case_key_wrap,
    wrap_legacy_case_key_from_parts,
)
from crypto.content import ContentType
from crypto.envelope import open_message
from crypto.errors import CryptoError
from server.domain.cases import WrapIn
from server.domain.policy import CaseAction
from server.errors import (
    CaseKeyMismatch,
    EpochConflict,
    Forbidden,
    KeyRotationRequired,
    NotFound,
    StaleEpoch,
    WrapOutdated,
    WrapRecipients,
)
from storage import Case, KeyRecipientKind, Membership, RemovalReason, Role
from tests.server.domain.world import Clinic, Member

PHOTO = b"\x00" * 4096


def epoch_wraps(
    cast: Clinic, case_id: str, by: Member, people: list[Member], epoch: int, key: bytes
) -> list[WrapIn]:
    w = cast.world
    wraps = [
        WrapIn(
            "user", m.user_id, w.wrap(key, case_id, by, m.keys.encryption.public_key, epoch=epoch)
        )
        for m in people
    ]
    wraps.append(
        WrapIn(
            "organisation",
            cast.practice.org_id,
            w.wrap(key, case_id, by, cast.records_key.public_key, epoch=epoch),
        )
    )
    return wraps


async def rotate(cast: Clinic, case: Case, by: Member, people: list[Member]) -> bytes:
    """``by``'s client starts the next epoch for ``people`` (and the records key)."""
    w = cast.world
    epoch = case.key_epoch + 1
    key = generate_case_key()
    wraps = epoch_wraps(cast, case.case_id, by, people, epoch, key)
    view = await w.services.cases.rotate(by.actor, case.case_id, epoch, wraps, None)
    assert view.case.key_epoch == epoch and view.rotation is None
    w.epoch_keys[(case.case_id, epoch)] = key
    w.case_epochs[case.case_id] = epoch
    return key


async def send(cast: Clinic, who: Member, case_id: str, epoch: int | None = None) -> int:
    w = cast.world
    msg_id, envelope = w.seal(who, case_id, epoch=epoch)
    return (await w.services.cases.send(who.actor, case_id, msg_id, envelope, None)).message.seq


async def upload(cast: Clinic, who: Member, case_id: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield PHOTO

    await cast.world.services.cases.upload(
        who.actor,
        case_id,
        str(uuid.uuid4()),
        hashlib.sha256(PHOTO).digest(),
        chunks(),
        declared_length=len(PHOTO),
        max_size=1 << 20,
        client=None,
    )


async def test_a_removal_requires_a_new_epoch_before_anything_more_is_sent(cast: Clinic) -> None:
    w, cases = cast.world, cast.world.services.cases
    case = await cast.case()
    await send(cast, cast.gp, case.case_id)
    await cases.remove_participant(cast.gp.actor, case.case_id, cast.derm2.user_id, None)

    view = await cases.view(cast.gp.actor, case.case_id, None)
    assert view.rotation is not None
    assert (view.rotation.next_epoch, view.rotation.removed) == (1, (cast.derm2.user_id,))
    assert [r.user_id for r in view.removals] == [cast.derm2.user_id]
    assert cast.derm2.user_id not in [p.user_id for p, _ in view.participants]
    assert ("removed", (case.case_id, (cast.derm2.user_id,))) in w.publisher.events

    with pytest.raises(KeyRotationRequired) as info:
        await send(cast, cast.gp, case.case_id)
    assert info.value.fields == {"key_epoch": 0, "next_epoch": 1}
    with pytest.raises(KeyRotationRequired):
        await upload(cast, cast.gp, case.case_id)
    # The removed person: no view, no thread, no messages.
    for action in (
        cases.view(cast.derm2.actor, case.case_id, None),
        cases.messages(cast.derm2.actor, case.case_id, after_seq=0, limit=10),
    ):
        with pytest.raises(Forbidden):
            await action

    await rotate(cast, case, cast.gp, [cast.gp, cast.derm])
    assert await send(cast, cast.gp, case.case_id) == 2
    await upload(cast, cast.gp, case.case_id)
    # A client still at the old epoch is told to reload.
    with pytest.raises(StaleEpoch) as stale:
        await send(cast, cast.gp, case.case_id, epoch=0)
    assert stale.value.fields == {"key_epoch": 1}


async def test_who_may_take_whom_off_a_case(cast: Clinic) -> None:
    cases = cast.world.services.cases
    case = await cast.case()
    cid = case.case_id
    # An addressed dermatologist who has not claimed it may not remove anyone.
    with pytest.raises(Forbidden):
        await cases.remove_participant(cast.derm.actor, cid, cast.derm2.user_id, None)
    with pytest.raises(Forbidden):
        await cases.remove_participant(cast.gp.actor, cid, cast.gp.user_id, None)
    await cases.move(cast.derm.actor, cid, CaseAction.CLAIM, None)
    # Nobody takes off the referring GP or the responder, nor themselves.
    with pytest.raises(Forbidden):
        await cases.remove_participant(cast.derm.actor, cid, cast.gp.user_id, None)
    with pytest.raises(Forbidden):
        await cases.remove_participant(cast.gp.actor, cid, cast.derm.user_id, None)
    with pytest.raises(Forbidden):
        await cases.remove_participant(cast.derm.actor, cid, cast.derm.user_id, None)
    with pytest.raises(NotFound):
        await cases.remove_participant(cast.derm.actor, cid, cast.stranger.user_id, None)
    with pytest.raises(NotFound):
        await cases.remove_participant(cast.stranger.actor, cid, cast.derm2.user_id, None)
    # The responder takes the other addressed dermatologist off.
    await cases.remove_participant(cast.derm.actor, cid, cast.derm2.user_id, None)
    with pytest.raises(NotFound):  # not a participant any more
        await cases.remove_participant(cast.derm.actor, cid, cast.derm2.user_id, None)
    [removal] = await cast.world.store.list_case_removals(cid)
    assert (removal.reason, removal.removed_by) == (RemovalReason.CASE, cast.derm.user_id)


async def test_new_epoch_wraps_go_to_the_remaining_people_and_records_keys_only(
    cast: Clinic,
) -> None:
    w, cases = cast.world, cast.world.services.cases
    case = await cast.case()
    cid = case.case_id
    await cases.remove_participant(cast.gp.actor, cid, cast.derm2.user_id, None)
    key = generate_case_key()

    async def refused(wraps: list[WrapIn], epoch: int = 1) -> None:
        await cases.rotate(cast.gp.actor, cid, epoch, wraps, None)

    good = epoch_wraps(cast, cid, cast.gp, [cast.gp, cast.derm], 1, key)
    with pytest.raises(WrapRecipients):  # the dermatologist is missing
        await refused([x for x in good if x.recipient_id != cast.derm.user_id])
    with pytest.raises(WrapRecipients):  # the records key is missing
        await refused([x for x in good if x.recipient_kind == "user"])
    with pytest.raises(WrapRecipients):  # a wrap for the removed person
        await refused(good + epoch_wraps(cast, cid, cast.gp, [cast.derm2], 1, key)[:1])
    with pytest.raises(WrapRecipients):  # a stranger
        await refused(good + epoch_wraps(cast, cid, cast.gp, [cast.stranger], 1, key)[:1])
    with pytest.raises(WrapRecipients):  # one person twice
        await refused([*good, good[0]])
    with pytest.raises(CaseKeyMismatch):  # two keys in one epoch
        other = epoch_wraps(cast, cid, cast.gp, [cast.derm], 1, generate_case_key())[:1]
        await refused([x for x in good if x.recipient_id != cast.derm.user_id] + other)
    with pytest.raises(EpochConflict):  # not the next epoch
        await refused(epoch_wraps(cast, cid, cast.gp, [cast.gp, cast.derm], 2, key), epoch=2)
    legacy = wrap_legacy_case_key_from_parts(
        key,
        case_id=uuid.UUID(cid),
        epoch=1,
        recipient_public_key=cast.derm.keys.encryption.public_key,
        wrapper_user_id=uuid.UUID(cast.gp.user_id),
        wrapper_signing_key=cast.gp.keys.signing,
        ikm_e=bytes(32),
    )
    with pytest.raises(WrapOutdated):
        await refused(
            [x for x in good if x.recipient_id != cast.derm.user_id]
            + [WrapIn("user", cast.derm.user_id, legacy)]
        )
    with pytest.raises(Forbidden):  # the removed person cannot rotate
        await cases.rotate(cast.derm2.actor, cid, 1, good, None)
    assert (await w.store.get_case(cid)).key_epoch == 0
    await refused(good)
    assert (await w.store.get_case(cid)).key_epoch == 1


async def test_concurrent_rotations_exactly_one_wins(cast: Clinic) -> None:
    cases = cast.world.services.cases
    case = await cast.case()
    cid = case.case_id
    await cases.remove_participant(cast.gp.actor, cid, cast.derm2.user_id, None)

    async def attempt(by: Member) -> str:
        wraps = epoch_wraps(cast, cid, by, [cast.gp, cast.derm], 1, generate_case_key())
        try:
            await cases.rotate(by.actor, cid, 1, wraps, None)
        except EpochConflict as exc:
            assert exc.fields == {"key_epoch": 1}
            return "conflict"
        return "won"

    results = await asyncio.gather(attempt(cast.gp), attempt(cast.derm), attempt(cast.gp))
    assert sorted(results) == ["conflict", "conflict", "won"]


async def test_a_voluntary_rotation_needs_no_removal(cast: Clinic) -> None:
    case = await cast.case()
    await rotate(cast, case, cast.derm, [cast.gp, cast.derm, cast.derm2])
    assert (await cast.world.store.get_case(case.case_id)).key_epoch == 1
    assert await send(cast, cast.gp, case.case_id) == 1  # sealed at epoch 1
    with pytest.raises(StaleEpoch):
        await send(cast, cast.gp, case.case_id, epoch=0)


async def test_the_removed_persons_real_keys_cannot_open_the_next_epoch(cast: Clinic) -> None:
    """Their client keeps every wrap it was given (epoch 0); the server gives them nothing of
    epoch 1 (no wrap, and it refuses them the case), and the epoch-0 key opens none of the
    epoch-1 messages. The remaining dermatologist and the records key open them."""
    w, cases = cast.world, cast.world.services.cases
    case = await cast.case()
    cid = case.case_id
    await send(cast, cast.gp, cid)
    [old_wrap] = await w.store.get_case_keys(
        cid, recipient_kind=KeyRecipientKind.USER, recipient_id=cast.derm2.user_id
    )
    old_key = open_case_key_wrap(
        old_wrap.wrapped_key,
        case_id=uuid.UUID(cid),
        epoch=0,
        recipient=cast.derm2.keys.encryption,
        wrapper_signing_public_key=cast.gp.keys.signing.public_key,
    )
    await cases.remove_participant(cast.gp.actor, cid, cast.derm2.user_id, None)
    await rotate(cast, case, cast.gp, [cast.gp, cast.derm])
    msg_id, secret = w.seal(cast.gp, cid, body={"text": "after the change of members"})
    await cases.send(cast.gp.actor, cid, msg_id, secret, None)

    assert [k.epoch for k in await w.store.get_case_keys(cid, recipient_id=cast.derm2.user_id)] == [
        0
    ]
    with pytest.raises(Forbidden):
        await cases.view(cast.derm2.actor, cid, None)
    with pytest.raises(CryptoError):
        open_message(
            secret,
            case_key=old_key,
            case_id=uuid.UUID(cid),
            epoch=1,
            sender_signing_public_key=cast.gp.keys.signing.public_key,
        )
    # Every epoch-1 wrap there is, tried with the removed person's real private key: none opens.
    for k in await w.store.get_case_keys(cid):
        if k.epoch == 1:
            with pytest.raises(CryptoError):
                open_case_key_wrap(
                    k.wrapped_key,
                    case_id=uuid.UUID(cid),
                    epoch=1,
                    recipient=cast.derm2.keys.encryption,
                    wrapper_signing_public_key=cast.gp.keys.signing.public_key,
                )
    # The remaining dermatologist and the records key do open it.
    view = await cases.view(cast.derm.actor, cid, None)
    [mine] = [k for k in view.case_keys if k.epoch == 1]
    new_key = open_case_key_wrap(
        mine.wrapped_key,
        case_id=uuid.UUID(cid),
        epoch=1,
        recipient=cast.derm.keys.encryption,
        wrapper_signing_public_key=cast.gp.keys.signing.public_key,
    )
    opened = open_message(
        secret,
        case_key=new_key,
        case_id=uuid.UUID(cid),
        epoch=1,
        sender_signing_public_key=cast.gp.keys.signing.public_key,
    )
    assert opened.header.content_type is ContentType.TEXT
    [records] = [
        k
        for k in await w.store.get_case_keys(cid)
        if k.epoch == 1 and k.recipient_kind.value == "organisation"
    ]
    assert (
        open_case_key_wrap(
            records.wrapped_key,
            case_id=uuid.UUID(cid),
            epoch=1,
            recipient=cast.records_key,
            wrapper_signing_public_key=cast.gp.keys.signing.public_key,
        )
        == new_key
    )


async def test_disabling_an_account_or_removing_a_role_marks_the_cases(cast: Clinic) -> None:
    w, cases = cast.world, cast.world.services.cases
    case = await cast.case()
    other = await cast.case()
    user = await w.services.administration.disable_user(None, cast.derm2.user_id, None)
    assert user.disabled
    for c in (case, other):
        view = await cases.view(cast.gp.actor, c.case_id, None)
        assert view.rotation is not None and view.rotation.removed == (cast.derm2.user_id,)
    assert [e for e in w.publisher.events if e[0] == "removed"] == [
        ("removed", (c, (cast.derm2.user_id,))) for c in sorted([case.case_id, other.case_id])
    ]
    # Removing the dermatologist role of derm: their cases of that service are marked too.
    await w.services.administration.remove_membership(
        None, cast.service.org_id, cast.derm.user_id, Role.DERMATOLOGIST, None
    )
    view = await cases.view(cast.gp.actor, case.case_id, None)
    assert view.rotation is not None
    assert set(view.rotation.removed) == {cast.derm.user_id, cast.derm2.user_id}
    with pytest.raises(NotFound):
        await w.services.administration.remove_membership(
            None, cast.service.org_id, cast.derm.user_id, Role.DERMATOLOGIST, None
        )
    assert (
        Membership(cast.service.org_id, Role.DERMATOLOGIST)
        not in (await w.store.get_user(cast.derm.user_id)).memberships
    )
    # Only the GP remains: the next epoch is theirs and the records key's.
    await rotate(cast, case, cast.gp, [cast.gp])
    assert await send(cast, cast.gp, case.case_id) == 1


async def test_sharing_waits_for_the_new_epoch_and_then_shares_it(cast: Clinic) -> None:
    from server.domain.cases import SharedWrap

    w, cases = cast.world, cast.world.services.cases
    newcomer = await w.member(cast.service.org_id, Role.DERMATOLOGIST, "newcomer")
    case = await cast.case()
    cid = case.case_id
    await cases.remove_participant(cast.gp.actor, cid, cast.derm2.user_id, None)
    share = [SharedWrap(newcomer.user_id, b"x")]
    with pytest.raises(KeyRotationRequired):
        await cases.share_keys(cast.gp.actor, cid, share, None)
    key = await rotate(cast, case, cast.gp, [cast.gp, cast.derm])
    wrap = w.wrap(key, cid, cast.gp, newcomer.keys.encryption.public_key, epoch=1)
    assert await cases.share_keys(
        cast.gp.actor, cid, [SharedWrap(newcomer.user_id, wrap)], None
    ) == [newcomer.user_id]
    # Sharing back with the removed person is refused.
    back = w.wrap(key, cid, cast.gp, cast.derm2.keys.encryption.public_key, epoch=1)
    from server.errors import InvalidInput

    with pytest.raises(InvalidInput, match="taken off"):
        await cases.share_keys(cast.gp.actor, cid, [SharedWrap(cast.derm2.user_id, back)], None)
