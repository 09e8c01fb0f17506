"""Membership epochs: taking people off cases, and the compare-and-set of a new case key
epoch (docs/protocol.md section 24, docs/storage.md "Removals and epochs")."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.records import Case, CaseRemoval, LogAppend, Membership, User, WrappedCaseKey

__all__ = ["EpochStore"]


class EpochStore(Protocol):
    """Removals mark a case (``rotation required`` while the case's ``key_epoch`` equals a
    removal's ``epoch``); a rotation moves the case to the next epoch with its new wraps."""

    async def remove_participant(
        self, case_id: str, user_id: str, *, removed_by: str, now: _dt.datetime
    ) -> CaseRemoval:
        """Take ``user_id`` off the case (reason ``case``) in one unit: the participant row
        goes, a removal at the case's current ``key_epoch`` is recorded, the case's
        ``updated_at`` becomes ``now``. :class:`NotFound` for an unknown case or a user who
        is not a participant."""
        ...

    async def list_case_removals(self, case_id: str) -> list[CaseRemoval]:
        """Everyone taken off the case, oldest first (ties by user id); [] for an unknown
        case."""
        ...

    async def rotate_case_key(
        self,
        case_id: str,
        expected_epoch: int,
        keys: Sequence[WrappedCaseKey],
        now: _dt.datetime,
    ) -> Case:
        """Compare-and-set: move the case from ``key_epoch == expected_epoch`` to
        ``expected_epoch + 1`` and store ``keys`` (every one of this case and of epoch
        ``expected_epoch + 1``; :class:`InvalidArgument` otherwise or if empty) in one unit;
        :class:`Conflict` ("epoch_changed") if the case is at another epoch, and then
        nothing is stored, so of two racing rotations exactly one wins. :class:`NotFound`
        for an unknown case. ``updated_at`` becomes ``now``."""
        ...

    async def disable_user(
        self, user_id: str, now: _dt.datetime, log: Sequence[LogAppend] = ()
    ) -> tuple[User, list[str]]:
        """Disable the account (appending ``log``, its removal entry, to the transparency
        log in the same unit) and, in the same unit, take the user off every case they
        take part in (reason ``account``, each at that case's current epoch). Returns the
        user and the ids of the cases marked (sorted); disabling again marks nothing.
        :class:`NotFound` for an unknown user."""
        ...

    async def remove_membership(
        self,
        user_id: str,
        membership: Membership,
        now: _dt.datetime,
        log: Sequence[LogAppend] = (),
    ) -> tuple[User, list[str]]:
        """Remove one role of the user in one organisation (appending ``log``, its removal
        entry, to the transparency log) and, in the same unit, take the
        user off every case that needed it (reason ``membership``): a GP participant of a
        case of that practice who is no longer its GP, a dermatologist participant of a
        case of that service who is no longer its dermatologist. Returns the user as it is
        now and the ids of the cases marked (sorted). :class:`NotFound` for an unknown user
        or a membership the user does not hold."""
        ...
