"""Sample data shared by the suite, defined once.

``HISTORY`` is the minimum clinical dataset of a referral (``crypto.content``
``CLINICAL_HISTORY``) as a GP's client fills it in. Its patient name and question are
canaries: ``tests/integration/test_live.py`` and the log tests look for them where they
must never appear (the server's data directory, its log). ``wrong_codes`` gives TOTP codes
that are certainly wrong.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pyotp

__all__ = ["HISTORY", "history", "wrong_codes"]

HISTORY: dict[str, Any] = {
    "patient": {
        "nhs_number": "9434765919",
        "name": "CANARY-PATIENT-NAME",
        "date_of_birth": "1970-01-01",
        "sex": "female",
    },
    "body_site": "left forearm",
    "duration": "3 months",
    "changes": {"size": True, "shape": False, "colour": True},
    "symptoms": {"itch": False, "bleeding": True, "scaling": False, "soreness": False},
    "previous_skin_cancer": False,
    "skin_type": "II",
    "question": "CANARY-QUESTION: is this a melanoma?",
    "consent_to_photography": True,
}


def history(*, patient: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A fresh copy of :data:`HISTORY` with some fields (or patient fields) replaced."""
    out = copy.deepcopy(HISTORY)
    out["patient"].update(patient or {})
    out.update(fields)
    return out


def wrong_codes(secret: str, at: dt.datetime, count: int = 1) -> list[str]:
    """``count`` distinct codes the server refuses at ``at``, and a step or two either side.

    Real codes of later steps, minus any that equal a code the server would accept: a fixed
    "000000", or another step's code, is the right code about once in a million tries (the
    secret is random each run), which is a login that succeeds when the test wants a refusal.
    """
    totp = pyotp.TOTP(secret)
    step = totp.timecode(at)
    accepted = {totp.generate_otp(s) for s in range(step - 2, step + 4)}
    out: list[str] = []
    s = step + 10
    while len(out) < count:
        code = totp.generate_otp(s)
        if code not in accepted and code not in out:
            out.append(code)
        s += 1
    return out
