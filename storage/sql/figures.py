# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Operational figures in SQL (:class:`storage.interface.FigureStore`)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from storage._values import check_int64, us
from storage.errors import InvalidArgument
from storage.figures import WaitingCount
from storage.records import CaseState
from storage.sql._base import SqlBase, unit
from storage.sql.cases import PRIORITY_RANK

__all__ = ["FiguresSql", "check_edges"]

_RANK_PRIORITY = {v: k for k, v in PRIORITY_RANK.items()}


def check_edges(band_edges: Sequence[int]) -> list[int]:
    edges = [check_int64(e, "band_edges") for e in band_edges]
    if not edges or len(edges) > 20 or edges != sorted(set(edges)):
        raise InvalidArgument("band_edges must be 1 to 20 increasing seconds")
    return edges


class FiguresSql(SqlBase):
    """:class:`storage.interface.FigureStore` over the engine."""

    @unit
    async def count_waiting_cases(
        self, now: _dt.datetime, band_edges: Sequence[int]
    ) -> list[WaitingCount]:
        when = us(now)
        edges = check_edges(band_edges)
        # queued_at > now - edge  <=>  waited less than edge
        cases = " ".join(f"WHEN queued_at > ? THEN {i}" for i in range(len(edges)))
        args: list[Any] = [when - e * 1_000_000 for e in edges]
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT band, priority, COUNT(*) FROM (SELECT CASE {cases} ELSE {len(edges)}"
                " END AS band, priority FROM cases WHERE state = ?) w"
                " GROUP BY band, priority ORDER BY band, priority",
                *args,
                CaseState.SUBMITTED.value,
            )
        )
        return [WaitingCount(int(b), _RANK_PRIORITY[int(p)], int(n)) for b, p, n in rows]
