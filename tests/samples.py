"""Sample data shared by the suite, defined once.

``HISTORY`` is the minimum clinical dataset of a referral (``crypto.content``
``CLINICAL_HISTORY``) as a GP's client fills it in. Its patient name and question are
canaries: ``tests/integration/test_live.py`` and the log tests look for them where they
must never appear (the server's data directory, its log).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["HISTORY", "history"]

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
