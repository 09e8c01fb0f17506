"""Which suite a key wrap uses, and the downgrade check (docs/protocol.md section 26).

Rules, each a pure function the clients (and, for the check, the server) run alike:

1. **Per recipient** (:func:`suite_for`): a recipient whose hybrid (X-Wing) public key the
   wrapping client knows gets a suite-2 wrap, never suite 1; a recipient without one gets
   suite 1. "Knows" means the key came from the verified directory (a statement in the
   transparency log, docs/protocol.md sections 18 to 20), so a server that hides a hybrid key
   it once published is caught there, not here.
2. **Per epoch** (:func:`choose_suite`): the epoch's case key is post-quantum protected only
   if *every* wrap of it is suite 2 (one suite-1 wrap recorded today exposes the key to a
   future quantum attacker). ``choose_suite`` says which suite the epoch as a whole reaches
   and which recipients hold it back, for the note shown to the sender.
3. **Downgrade** (:func:`require_suite`): a record whose suite is below the one required for
   its recipient is refused with :class:`~crypto.errors.SuiteDowngradeError`, whoever made
   it (a buggy or old client, or a server that swapped in an old wrap).

A hybrid key that is present but invalid is an error (:class:`~crypto.errors.PublicKeyError`),
never a reason to fall back to suite 1: otherwise a server could force suite 1 by corrupting
the key it serves.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from crypto._wire import SUITE_HYBRID, SUITE_P256_SHA256_AES256GCM, VERSION_1
from crypto.errors import SuiteDowngradeError
from crypto.fingerprint import hybrid_key_id

__all__ = [
    "SUITE_CLASSICAL",
    "SUITE_HYBRID",
    "Recipient",
    "SuitePlan",
    "choose_suite",
    "record_suite",
    "require_suite",
    "suite_for",
]

SUITE_CLASSICAL: Final = SUITE_P256_SHA256_AES256GCM
_SUITES: Final = (SUITE_CLASSICAL, SUITE_HYBRID)


@dataclass(frozen=True)
class Recipient:
    """One recipient of a wrap: who, and the hybrid key the directory shows (or ``None``)."""

    user_id: uuid.UUID
    hybrid_public_key: bytes | None = None


@dataclass(frozen=True)
class SuitePlan:
    """The outcome of :func:`choose_suite`.

    ``suite`` is what the epoch reaches as a whole (2 only if every wrap is suite 2);
    ``per_recipient`` the suite of each recipient's wrap, in the order given;
    ``classical_only`` the recipients without a hybrid key (empty when ``suite`` is 2).
    """

    suite: int
    per_recipient: tuple[int, ...]
    classical_only: tuple[uuid.UUID, ...]


def suite_for(hybrid_public_key: bytes | None) -> int:
    """The suite of a wrap to a recipient with this hybrid key (``None``: none known).

    Raises :class:`~crypto.errors.PublicKeyError` for a key that is not a valid X-Wing key.
    """
    if hybrid_public_key is None:
        return SUITE_CLASSICAL
    hybrid_key_id(hybrid_public_key)  # validates; an invalid key is an error, not suite 1
    return SUITE_HYBRID


def choose_suite(recipients: Sequence[Recipient]) -> SuitePlan:
    """Each recipient's suite and the epoch's overall suite (rules 1 and 2 above)."""
    if not recipients:
        raise ValueError("a case key is wrapped to at least one recipient")
    for recipient in recipients:
        if not isinstance(recipient, Recipient):
            raise TypeError("recipients must be Recipient values")
    per_recipient = tuple(suite_for(r.hybrid_public_key) for r in recipients)
    classical_only = tuple(
        r.user_id for r, suite in zip(recipients, per_recipient, strict=True) if suite == 1
    )
    suite = SUITE_CLASSICAL if classical_only else SUITE_HYBRID
    return SuitePlan(suite=suite, per_recipient=per_recipient, classical_only=classical_only)


def record_suite(record: bytes) -> int:
    """The suite byte of a v1 record; :class:`SuiteDowngradeError` if it is not 1 or 2."""
    if not isinstance(record, bytes | bytearray | memoryview):
        raise TypeError("record must be bytes")
    if len(record) < 3 or record[0] != VERSION_1 or record[1] not in _SUITES:
        raise SuiteDowngradeError
    return int(record[1])


def require_suite(record: bytes, *, hybrid_key_known: bool) -> None:
    """Refuse a suite-1 wrap to a recipient whose hybrid key was known (rule 3).

    ``hybrid_key_known`` is whether the verified directory showed a hybrid key for the
    record's recipient when the wrap was made (for a new wrap: now). Raises
    :class:`SuiteDowngradeError`; returns ``None`` when the record's suite is acceptable.
    """
    if record_suite(record) < (SUITE_HYBRID if hybrid_key_known else SUITE_CLASSICAL):
        raise SuiteDowngradeError
