"""Records retention: the closing client's date, organisation minimums, legal holds and
the disposal run (``docs/operations.md``, "Retention"; the rule is
:mod:`storage.retention`, the client's half ``client_py/retention.py``).

Rules
-----
* The date a client sends with a closure (``retain_until``) is coarse by design: it must be
  31 December (the client rounds up, so the server learns a year, not a birthday), and at
  least the adult period (8 years after the year of closure): anything earlier would
  dispose of a record early, so it is refused (``validation_failed``) and the case is not
  closed. Later dates are the client's business (a child's record).
* Organisation minimums (whole years, 0..100) lengthen retention for every case of the
  organisation, as practice or as service, closed already or not; they never shorten it.
  Set by a records officer of that organisation (or the operator), audited
  ``retention.org_minimum``.
* A legal hold stops disposal of one case until released. Placed and released by a
  records officer of the case's practice or service (or the operator), audited
  ``case.legal_hold`` / ``case.legal_hold_released`` with the reason code only; the officer's
  own reference is stored sealed and never audited. Outside both organisations a case
  answers ``not_found`` as everywhere (``policy`` rule 1).
* The run (``run``) lists due cases (closed or withdrawn, past keep-until, not held) and,
  unless it is a dry run, disposes of each: storage destroys the content and writes the
  disposal record and its audit entry ``case.disposed`` in one transaction. A case that
  stopped being due meanwhile (a hold, a resubmission) is skipped, not disposed of. The
  server runs it every ``retention_interval`` seconds; ``dermline retention run`` runs it
  by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import storage
from server.domain.clock import Clock
from server.domain.policy import Actor, check_org_role
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from storage import (
    CaseRetention,
    Disposal,
    LegalHold,
    LegalHoldReason,
    OrgRetention,
    RetentionCandidate,
    Role,
)
from storage.retention import MAX_MIN_YEARS

__all__ = ["RetentionRun", "RetentionService", "check_retain_until"]

#: The adult period: no client date may be earlier than 31 December of closure year + 8.
ADULT_YEARS = 8


def check_retain_until(retain_until: dt.date, now: dt.datetime) -> None:
    """Refuse a client date that is not a 31 December, or earlier than the adult period
    (a day of clock skew between client and server is allowed for)."""
    if (retain_until.month, retain_until.day) != (12, 31):
        raise InvalidInput("retain_until must be 31 December of its year")
    if retain_until.year < (now - dt.timedelta(days=1)).year + ADULT_YEARS:
        raise InvalidInput("retain_until is earlier than the shortest retention period")


@dataclass
class RetentionRun:
    """What a run found and did: the due cases (all of them in a dry run), the disposals,
    and the cases that stopped being due between the list and their disposal."""

    dry_run: bool
    due: list[RetentionCandidate] = field(default_factory=list)
    disposed: list[Disposal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    blobs_finished: int = 0


class RetentionService:
    def __init__(self, store: storage.Storage, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def _audit(
        self,
        action: str,
        actor: Actor | None,
        target: str,
        client: str | None,
        detail: dict[str, object],
    ) -> None:
        await self._store.append_audit(
            storage.AuditEvent(
                action=action,
                occurred_at=self._clock.now(),
                actor_id=None if actor is None else actor.user_id,
                target=target,
                client_address=client,
                detail=json.dumps(detail, separators=(",", ":"), sort_keys=True).encode(),
            )
        )

    async def _records_case(self, actor: Actor | None, case_id: str) -> storage.Case:
        """The case, for a records officer of its practice or service (None: the operator).
        A missing, malformed or foreign id is the same NotFound."""
        try:
            case = await self._store.get_case(case_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        if actor is None:
            return case
        orgs = (case.practice_id, case.service_id)
        if not any(actor.roles_in(o) for o in orgs):
            raise NotFound()
        if not any(actor.has(o, Role.RECORDS_OFFICER) for o in orgs):
            raise Forbidden()
        return case

    # ------------------------------------------------------------------ closure

    async def record_closure(self, case_id: str, retain_until: dt.date) -> None:
        """Store the date a closing client sent (checked by :func:`check_retain_until`
        before the case was closed)."""
        await self._store.set_case_retention(case_id, retain_until, self._clock.now())

    # ------------------------------------------------------------------ reading

    async def status(self, actor: Actor | None, case_id: str) -> CaseRetention:
        await self._records_case(actor, case_id)
        return await self._store.get_case_retention(case_id)

    async def holds(self, actor: Actor | None, org_id: str) -> list[LegalHold]:
        if actor is not None:
            check_org_role(actor, org_id, Role.RECORDS_OFFICER)
        return await self._store.list_legal_holds(org_id)

    async def org_minimum(self, actor: Actor | None, org_id: str) -> OrgRetention:
        if actor is not None:
            check_org_role(actor, org_id, Role.RECORDS_OFFICER)
        try:
            await self._store.get_organisation(org_id)
        except (storage.NotFound, storage.InvalidArgument):
            raise NotFound() from None
        return await self._store.get_org_retention(org_id)

    # ------------------------------------------------------------------ changes

    async def set_org_minimum(
        self, actor: Actor | None, org_id: str, years: int, client: str | None
    ) -> OrgRetention:
        if actor is not None:
            check_org_role(actor, org_id, Role.RECORDS_OFFICER)
        if not 0 <= years <= MAX_MIN_YEARS:
            raise InvalidInput("min_years is a whole number of years from 0 to 100")
        try:
            policy = await self._store.set_org_retention(
                org_id, years, None if actor is None else actor.user_id, self._clock.now()
            )
        except storage.NotFound:
            raise NotFound() from None
        await self._audit("retention.org_minimum", actor, org_id, client, {"min_years": years})
        return policy

    async def place_hold(
        self,
        actor: Actor | None,
        case_id: str,
        reason: LegalHoldReason,
        reference: str | None,
        client: str | None,
        *,
        placed_by: str | None = None,
    ) -> LegalHold:
        """Stop disposal of the case. ``placed_by``: the records officer on whose
        instruction the operator acts (``actor`` None)."""
        await self._records_case(actor, case_id)
        by = actor.user_id if actor is not None else placed_by
        if by is None:
            raise InvalidInput("say which records officer asked for the hold")
        hold = LegalHold(case_id, reason, by, self._clock.now(), reference)
        try:
            stored = await self._store.place_legal_hold(hold)
        except storage.Conflict as exc:
            if exc.reason == "disposed":
                raise Conflict("the case has been disposed of") from None
            raise Conflict("the case is on legal hold already") from None
        except (storage.NotFound, storage.InvalidArgument):
            raise InvalidInput("the records officer is not known") from None
        await self._audit("case.legal_hold", actor, case_id, client, {"reason": reason.value})
        return stored

    async def release_hold(
        self, actor: Actor | None, case_id: str, client: str | None
    ) -> LegalHold:
        await self._records_case(actor, case_id)
        try:
            hold = await self._store.release_legal_hold(case_id)
        except storage.NotFound:
            raise NotFound("the case is not on legal hold") from None
        await self._audit(
            "case.legal_hold_released", actor, case_id, client, {"reason": hold.reason.value}
        )
        return hold

    # ------------------------------------------------------------------ the run

    async def run(self, *, dry_run: bool, limit: int = 10_000) -> RetentionRun:
        """List the due cases and, unless ``dry_run``, dispose of them (as the system: no
        actor; client ``retention``). At most ``limit`` cases per run."""
        report = RetentionRun(dry_run=dry_run)
        now = self._clock.now()
        if not dry_run:
            report.blobs_finished = await self._store.finish_disposals()
        cursor: str | None = None
        while len(report.due) < limit:
            page = await self._store.list_due_for_disposal(
                now, limit=min(500, limit - len(report.due)), cursor=cursor
            )
            report.due.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        if dry_run:
            return report
        for candidate in report.due:
            try:
                report.disposed.append(
                    await self._store.dispose_case(
                        candidate.case_id, now, client_address="retention"
                    )
                )
            except storage.Conflict:
                report.skipped.append(candidate.case_id)
        if report.disposed:
            await self._store.finish_disposals()
        return report
