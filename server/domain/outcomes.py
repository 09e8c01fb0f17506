"""Outcome rules (DESIGN.md section 2): structured, coded, never free text alone.

What the server sees of an outcome is the *coded* part only; the advice, treatment plan,
reasons in words and retake instructions travel inside the end-to-end encrypted outcome
message (``docs/architecture.md``, "metadata the server sees"). The coded part is in the
clear because the service figures need it (share kept in primary care, rejections by
reason) and because the two-week-wait downgrade rule must be enforced by the server.

Rules
-----
* ``advice_and_guidance``: no urgency, destination or reasons.
* ``referral``: exactly one urgency (routine | urgent | two_week_wait) and one destination.
* ``image_rejected``: at least one reason code, no urgency or destination; the referring GP
  may then resubmit into the same case (``lifecycle.CaseEvent.RESUBMIT``).
* A two-week-wait referral may be downgraded (to urgent or routine) only by the referring
  GP, never by the service (suspected cancer: the GP who saw the patient owns that call).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from server.domain.lifecycle import Party
from server.errors import Forbidden, InvalidInput, InvalidTransition
from storage import OutcomeCategory

__all__ = [
    "Destination",
    "Outcome",
    "RejectionReason",
    "Urgency",
    "check_resubmit",
    "downgrade",
    "make_outcome",
]


class Urgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    TWO_WEEK_WAIT = "two_week_wait"


_URGENCY_RANK = {Urgency.ROUTINE: 0, Urgency.URGENT: 1, Urgency.TWO_WEEK_WAIT: 2}


class Destination(StrEnum):
    DERMATOLOGY_CLINIC = "dermatology_clinic"
    SKIN_SURGERY = "skin_surgery"
    OTHER = "other"


class RejectionReason(StrEnum):
    OUT_OF_FOCUS = "out_of_focus"
    TOO_FAR = "too_far"
    POOR_LIGHTING = "poor_lighting"
    NO_DERMOSCOPIC_IMAGE = "no_dermoscopic_image"
    WRONG_OR_MISSING_LOCATOR = "wrong_or_missing_locator"
    OTHER = "other"


@dataclass(frozen=True)
class Outcome:
    category: OutcomeCategory
    urgency: Urgency | None = None
    destination: Destination | None = None
    reasons: tuple[RejectionReason, ...] = ()


def make_outcome(
    category: OutcomeCategory,
    *,
    urgency: Urgency | None = None,
    destination: Destination | None = None,
    reasons: Iterable[RejectionReason] = (),
) -> Outcome:
    """Check the coded outcome against the rules above; InvalidInput names the rule broken."""
    reason_tuple = tuple(sorted(set(reasons)))
    if category is OutcomeCategory.REFERRAL:
        if urgency is None or destination is None:
            raise InvalidInput("a referral needs an urgency and a destination")
        if reason_tuple:
            raise InvalidInput("only an image rejection carries reason codes")
    elif category is OutcomeCategory.IMAGE_REJECTED:
        if not reason_tuple:
            raise InvalidInput("an image rejection needs at least one reason code")
        if urgency is not None or destination is not None:
            raise InvalidInput("only a referral carries an urgency and a destination")
    else:
        if urgency is not None or destination is not None or reason_tuple:
            raise InvalidInput("advice and guidance carries no urgency, destination or reasons")
    return Outcome(category, urgency, destination, reason_tuple)


def downgrade(outcome: Outcome, new_urgency: Urgency, parties: frozenset[Party]) -> Outcome:
    """Lower a two-week-wait referral's urgency; only the referring GP may (DESIGN s. 2)."""
    if outcome.category is not OutcomeCategory.REFERRAL or outcome.urgency is None:
        raise InvalidTransition("only a referral's urgency can be changed")
    if outcome.urgency is not Urgency.TWO_WEEK_WAIT:
        raise InvalidTransition("only a two-week-wait referral can be downgraded")
    if Party.REFERRER not in parties:
        raise Forbidden("only the referring GP may downgrade a two-week-wait referral")
    if _URGENCY_RANK[new_urgency] >= _URGENCY_RANK[outcome.urgency]:
        raise InvalidInput("a downgrade must lower the urgency")
    return Outcome(outcome.category, new_urgency, outcome.destination, outcome.reasons)


def check_resubmit(outcome: Outcome | None) -> None:
    """Resubmission into the same case follows an image rejection only."""
    if outcome is None or outcome.category is not OutcomeCategory.IMAGE_REJECTED:
        raise InvalidTransition("only a case closed for image quality can be resubmitted")
