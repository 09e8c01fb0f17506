"""The server checks every new thread message before storing it (docs/protocol.md sections
22-23): the committed envelope (0x0e; 0x07 is ``envelope_outdated``) and a signature that
verifies with the sender's current signing key (``signature_invalid``), on every path that
stores a message (send, a move's message, a downgrade's reason) and for the outcome."""

from __future__ import annotations

import pytest

from crypto.account import generate_key_pair
from crypto.case_key import generate_case_key
from crypto.content import ContentType
from server.domain.cases import ThreadMessage
from server.domain.outcomes import Destination, Urgency
from server.domain.policy import CaseAction
from server.errors import CaseKeyMismatch, EnvelopeOutdated, SignatureInvalid
from storage import OutcomeCategory
from tests.server.domain.world import Clinic

OUTCOME = {"category": "referral", "summary": "suspected melanoma", "details": {}}


async def test_a_forged_signature_is_refused_and_nothing_is_stored(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    msg_id, forged = w.seal(cast.gp, case.case_id, signing_key=generate_key_pair())
    with pytest.raises(SignatureInvalid):
        await w.services.cases.send(cast.gp.actor, case.case_id, msg_id, forged, None)
    # Signed by another participant's real key, claiming the GP as its sender: refused too.
    msg_id, forged = w.seal(cast.gp, case.case_id, signing_key=cast.derm.keys.signing)
    with pytest.raises(SignatureInvalid):
        await w.services.cases.send(cast.gp.actor, case.case_id, msg_id, forged, None)
    assert await w.store.list_messages(case.case_id) == []
    assert w.publisher.of("message") == []


async def test_a_bit_flip_after_signing_is_refused(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    msg_id, envelope = w.seal(cast.gp, case.case_id)
    tampered = bytearray(envelope)
    tampered[200] ^= 1  # inside the ciphertext: the header still parses
    with pytest.raises(SignatureInvalid):
        await w.services.cases.send(cast.gp.actor, case.case_id, msg_id, bytes(tampered), None)


async def test_the_legacy_envelope_is_refused_for_new_messages(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    msg_id, legacy = w.seal(cast.gp, case.case_id, legacy=True)
    with pytest.raises(EnvelopeOutdated) as info:
        await w.services.cases.send(cast.gp.actor, case.case_id, msg_id, legacy, None)
    assert info.value.code.value == "envelope_outdated"
    msg_id, good = w.seal(cast.gp, case.case_id)
    result = await w.services.cases.send(cast.gp.actor, case.case_id, msg_id, good, None)
    assert result.created and result.message.seq == 1


async def test_a_moves_message_is_checked_the_same_way(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    msg_id, forged = w.seal(cast.derm, case.case_id, signing_key=generate_key_pair())
    with pytest.raises(SignatureInvalid):
        await w.services.cases.move(
            cast.derm.actor,
            case.case_id,
            CaseAction.CLAIM,
            None,
            message=ThreadMessage(msg_id, forged),
        )
    assert (await w.store.get_case(case.case_id)).claimed_by is None  # nothing moved
    msg_id, legacy = w.seal(cast.derm, case.case_id, legacy=True)
    with pytest.raises(EnvelopeOutdated):
        await w.services.cases.move(
            cast.derm.actor,
            case.case_id,
            CaseAction.CLAIM,
            None,
            message=ThreadMessage(msg_id, legacy),
        )


async def test_an_outcome_and_a_downgrade_reason_are_checked(cast: Clinic) -> None:
    w = cast.world
    case = await cast.case()
    cases = w.services.cases
    await cases.move(cast.derm.actor, case.case_id, CaseAction.CLAIM, None)
    _, forged_outcome = w.seal(
        cast.derm, case.case_id, ContentType.OUTCOME, OUTCOME, signing_key=generate_key_pair()
    )
    with pytest.raises(SignatureInvalid):
        await cases.close(
            cast.derm.actor,
            case.case_id,
            category=OutcomeCategory.REFERRAL,
            urgency=Urgency.TWO_WEEK_WAIT,
            destination=Destination.DERMATOLOGY_CLINIC,
            reasons=[],
            payload=forged_outcome,
            client=None,
        )
    _, outcome = w.seal(cast.derm, case.case_id, ContentType.OUTCOME, OUTCOME)
    await cases.close(
        cast.derm.actor,
        case.case_id,
        category=OutcomeCategory.REFERRAL,
        urgency=Urgency.TWO_WEEK_WAIT,
        destination=Destination.DERMATOLOGY_CLINIC,
        reasons=[],
        payload=outcome,
        client=None,
    )
    msg_id, forged = w.seal(cast.gp, case.case_id, signing_key=generate_key_pair())
    with pytest.raises(SignatureInvalid):
        await cases.downgrade(cast.gp.actor, case.case_id, Urgency.ROUTINE, msg_id, forged, None)


async def test_a_message_under_another_key_of_the_epoch_is_refused(cast: Clinic) -> None:
    """Properly signed, but sealed under a key that is not the epoch's: every reader would
    find it unreadable (its commitment is not the one of the sender's own wrap)."""
    w = cast.world
    case = await cast.case()
    real = w.case_keys[case.case_id]
    w.case_keys[case.case_id] = generate_case_key()
    msg_id, other = w.seal(cast.gp, case.case_id)
    w.case_keys[case.case_id] = real
    with pytest.raises(CaseKeyMismatch):
        await w.services.cases.send(cast.gp.actor, case.case_id, msg_id, other, None)
    assert await w.store.list_messages(case.case_id) == []
