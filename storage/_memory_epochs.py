"""Removals and case key epochs in the memory store (``storage.memory``), with the
semantics of ``storage.sql.epochs`` (:class:`storage.interface.EpochStore`)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence

from storage._memory_base import op, utc
from storage._memory_cases import MemoryCases
from storage._values import check_epoch, check_id
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import (
    Case,
    CaseRemoval,
    LogAppend,
    Membership,
    RemovalReason,
    Role,
    User,
    WrappedCaseKey,
)
from storage.transparency import check_appends

__all__ = ["MemoryEpochs"]


class MemoryEpochs(MemoryCases):
    """:class:`storage.interface.EpochStore` in memory."""

    def __init__(self) -> None:
        super().__init__()
        self._removals: dict[str, dict[str, CaseRemoval]] = {}

    def _remove(
        self,
        case_id: str,
        user_id: str,
        reason: RemovalReason,
        removed_by: str | None,
        when: _dt.datetime,
    ) -> CaseRemoval | None:
        joined = self._participants.get(case_id, {})
        if user_id not in joined:
            return None
        del joined[user_id]
        row = self._case_row(case_id)
        row.updated_at = when
        removal = CaseRemoval(case_id, user_id, row.key_epoch, reason, removed_by, when)
        self._removals.setdefault(case_id, {})[user_id] = removal
        return removal

    @op
    async def remove_participant(
        self, case_id: str, user_id: str, *, removed_by: str, now: _dt.datetime
    ) -> CaseRemoval:
        cid, uid = check_id(case_id, "case_id"), check_id(user_id, "user_id")
        by, when = check_id(removed_by, "removed_by"), utc(now)
        self._case_row(cid)
        self._referenced_user(by)
        done = self._remove(cid, uid, RemovalReason.CASE, by, when)
        if done is None:
            raise NotFound("participant")
        return done

    @op
    async def list_case_removals(self, case_id: str) -> list[CaseRemoval]:
        cid = check_id(case_id, "case_id")
        return sorted(self._removals.get(cid, {}).values(), key=lambda r: (r.removed_at, r.user_id))

    @op
    async def rotate_case_key(
        self,
        case_id: str,
        expected_epoch: int,
        keys: Sequence[WrappedCaseKey],
        now: _dt.datetime,
    ) -> Case:
        cid = check_id(case_id, "case_id")
        expected = check_epoch(expected_epoch)
        when = utc(now)
        if not keys:
            raise InvalidArgument("a new epoch needs its wraps")
        stored = [self._wrapped_key(k) for k in keys]
        if any(k.case_id != cid or k.epoch != expected + 1 for k in stored):
            raise InvalidArgument("case keys of another case or epoch")
        row = self._case_row(cid)
        if row.key_epoch != expected:
            raise Conflict("epoch_changed")
        self._check_new_keys(stored)
        row.key_epoch = expected + 1
        row.updated_at = when
        self._keys.update((self._key_id(k), k) for k in stored)
        return self._case(row)

    @op
    async def disable_user(
        self, user_id: str, now: _dt.datetime, log: Sequence[LogAppend] = ()
    ) -> tuple[User, list[str]]:
        when = utc(now)
        entries = check_appends(log)
        user = dataclasses.replace(self._user(user_id), disabled=True, updated_at=when)
        self._users[user.user_id] = user
        marked = sorted(cid for cid, joined in self._participants.items() if user.user_id in joined)
        for cid in marked:
            self._remove(cid, user.user_id, RemovalReason.ACCOUNT, None, when)
        self._append_log_now(entries)
        return user, marked

    @op
    async def remove_membership(
        self,
        user_id: str,
        membership: Membership,
        now: _dt.datetime,
        log: Sequence[LogAppend] = (),
    ) -> tuple[User, list[str]]:
        when = utc(now)
        entries = check_appends(log)
        org, role = check_id(membership.org_id, "org_id"), Role(membership.role)
        user = self._user(user_id)
        held = Membership(org, role)
        if held not in user.memberships:
            raise NotFound("membership")
        user = dataclasses.replace(
            user, memberships=tuple(m for m in user.memberships if m != held)
        )
        self._users[user.user_id] = user
        marked: list[str] = []
        if role in (Role.GP, Role.DERMATOLOGIST):
            for cid, joined in sorted(self._participants.items()):
                p = joined.get(user.user_id)
                row = self._cases[cid]
                case_org = row.practice_id if role is Role.GP else row.service_id
                if p is not None and p.role is role and case_org == org:
                    marked.append(cid)
        for cid in marked:
            self._remove(cid, user.user_id, RemovalReason.MEMBERSHIP, None, when)
        self._append_log_now(entries)
        return user, marked
