import pytest

from server.domain.lifecycle import Party
from server.domain.outcomes import (
    Destination,
    Outcome,
    RejectionReason,
    Urgency,
    check_resubmit,
    downgrade,
    make_outcome,
)
from server.errors import Forbidden, InvalidInput, InvalidTransition
from storage import OutcomeCategory

C = OutcomeCategory


def test_advice_and_guidance_is_bare() -> None:
    assert make_outcome(C.ADVICE_AND_GUIDANCE) == Outcome(C.ADVICE_AND_GUIDANCE)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"urgency": Urgency.ROUTINE},
        {"destination": Destination.OTHER},
        {"reasons": [RejectionReason.TOO_FAR]},
    ],
)
def test_advice_and_guidance_refuses_extras(kwargs: dict) -> None:
    with pytest.raises(InvalidInput):
        make_outcome(C.ADVICE_AND_GUIDANCE, **kwargs)


@pytest.mark.parametrize("urgency", list(Urgency))
@pytest.mark.parametrize("destination", list(Destination))
def test_referral_needs_urgency_and_destination(urgency: Urgency, destination: Destination) -> None:
    out = make_outcome(C.REFERRAL, urgency=urgency, destination=destination)
    assert (out.urgency, out.destination, out.reasons) == (urgency, destination, ())
    with pytest.raises(InvalidInput):
        make_outcome(C.REFERRAL, urgency=urgency)
    with pytest.raises(InvalidInput):
        make_outcome(C.REFERRAL, destination=destination)
    with pytest.raises(InvalidInput):
        make_outcome(
            C.REFERRAL, urgency=urgency, destination=destination, reasons=[RejectionReason.OTHER]
        )


def test_image_rejected_needs_reasons_and_deduplicates() -> None:
    out = make_outcome(
        C.IMAGE_REJECTED,
        reasons=[
            RejectionReason.POOR_LIGHTING,
            RejectionReason.OUT_OF_FOCUS,
            RejectionReason.POOR_LIGHTING,
        ],
    )
    assert out.reasons == (RejectionReason.OUT_OF_FOCUS, RejectionReason.POOR_LIGHTING)
    with pytest.raises(InvalidInput):
        make_outcome(C.IMAGE_REJECTED)
    with pytest.raises(InvalidInput):
        make_outcome(C.IMAGE_REJECTED, reasons=[RejectionReason.OTHER], urgency=Urgency.URGENT)


TWW = Outcome(C.REFERRAL, Urgency.TWO_WEEK_WAIT, Destination.SKIN_SURGERY)


@pytest.mark.parametrize("lower", [Urgency.URGENT, Urgency.ROUTINE])
def test_only_referring_gp_downgrades_two_week_wait(lower: Urgency) -> None:
    assert downgrade(TWW, lower, frozenset({Party.REFERRER})).urgency is lower
    for parties in ({Party.SERVICE}, {Party.SERVICE, Party.RESPONDER}, set()):
        with pytest.raises(Forbidden):
            downgrade(TWW, lower, frozenset(parties))


def test_downgrade_must_lower_and_apply_to_two_week_wait_only() -> None:
    with pytest.raises(InvalidInput):
        downgrade(TWW, Urgency.TWO_WEEK_WAIT, frozenset({Party.REFERRER}))
    urgent = Outcome(C.REFERRAL, Urgency.URGENT, Destination.OTHER)
    with pytest.raises(InvalidTransition):
        downgrade(urgent, Urgency.ROUTINE, frozenset({Party.REFERRER}))
    with pytest.raises(InvalidTransition):
        downgrade(Outcome(C.ADVICE_AND_GUIDANCE), Urgency.ROUTINE, frozenset({Party.REFERRER}))


def test_resubmit_only_after_image_rejection() -> None:
    check_resubmit(Outcome(C.IMAGE_REJECTED, reasons=(RejectionReason.TOO_FAR,)))
    for out in (None, Outcome(C.ADVICE_AND_GUIDANCE), TWW):
        with pytest.raises(InvalidTransition):
            check_resubmit(out)
