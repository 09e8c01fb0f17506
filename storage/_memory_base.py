"""State and helpers shared by the parts of the memory store (``storage.memory``): the
closed flag, users and cases (which every other part refers to), and the :func:`op` marker
of a public operation."""

from __future__ import annotations

import asyncio
import datetime as _dt
import functools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from storage._values import check_id, dt_of, us
from storage.errors import NotFound, Unavailable
from storage.records import CaseState, LogAppend, Organisation, OrgKind, Priority, User

__all__ = ["OP_MARKER", "CaseRow", "MemoryBase", "op", "utc"]

S = TypeVar("S", bound="MemoryBase")
P = ParamSpec("P")
R = TypeVar("R")

#: attribute set on every method wrapped by :func:`op`
OP_MARKER = "__memory_op__"


def op(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """A public operation: refused with :class:`Unavailable` once the store is closed (an
    operation admitted before still finishes). The operation itself must not await while it
    changes state, so that it is atomic on its event loop: a unit of work."""

    @functools.wraps(method)
    async def run(self: S, /, *args: P.args, **kw: P.kwargs) -> R:
        if self._closed:
            raise Unavailable("storage is closed")
        # Suspend once, as a caller of a real store is while its unit queues or runs, so
        # that concurrent callers interleave between operations (never inside one).
        await asyncio.sleep(0)
        return await method(self, *args, **kw)

    setattr(run, OP_MARKER, True)
    return run


def utc(value: _dt.datetime) -> _dt.datetime:
    """A time as the SQL backends give it back: UTC, whole microseconds (and
    :class:`InvalidArgument` for a naive one)."""
    return dt_of(us(value))


@dataclass
class CaseRow:
    """A stored case: the columns of ``cases`` (the outcome is kept apart, as in SQL)."""

    case_id: str
    practice_id: str
    service_id: str
    created_by: str
    state: CaseState
    priority: Priority
    created_at: _dt.datetime
    updated_at: _dt.datetime
    submitted_at: _dt.datetime | None
    queued_at: _dt.datetime
    key_epoch: int
    claimed_by: str | None = None
    claimed_at: _dt.datetime | None = None
    first_response_at: _dt.datetime | None = None
    closed_at: _dt.datetime | None = None
    last_seq: int = 0


class MemoryBase:
    """What every part of the memory store reads."""

    def __init__(self) -> None:
        self._closed = False
        self._orgs: dict[str, Organisation] = {}
        self._users: dict[str, User] = {}
        self._cases: dict[str, CaseRow] = {}

    def _append_log_now(self, entries: Sequence[LogAppend]) -> list[int]:
        """Append to the transparency log inside an operation (``storage._memory_transparency``
        implements it)."""
        raise NotImplementedError

    def _kind(self, org_id: str) -> OrgKind | None:
        org = self._orgs.get(org_id)
        return None if org is None else org.kind

    def _org(self, org_id: str) -> Organisation:
        org = self._orgs.get(check_id(org_id, "org_id"))
        if org is None:
            raise NotFound("organisation")
        return org

    def _user(self, user_id: str) -> User:
        user = self._users.get(check_id(user_id, "user_id"))
        if user is None:
            raise NotFound("user")
        return user

    def _referenced_user(self, user_id: str) -> None:
        """A column that references ``users`` (a foreign key in SQL)."""
        if user_id not in self._users:
            raise NotFound("referenced record")

    def _case_row(self, case_id: str) -> CaseRow:
        row = self._cases.get(case_id)
        if row is None:
            raise NotFound("case")
        return row
