"""Operational figures in the memory store (``storage.memory``; tests and development
only), as ``storage.sql.figures`` counts them."""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Sequence

from storage._memory_base import op
from storage._memory_cases import MemoryCases
from storage._values import us
from storage.figures import WaitingCount
from storage.records import CaseState, Priority
from storage.sql.figures import check_edges

__all__ = ["MemoryFigures"]


class MemoryFigures(MemoryCases):
    """:class:`storage.interface.FigureStore` in memory."""

    @op
    async def count_waiting_cases(
        self, now: _dt.datetime, band_edges: Sequence[int]
    ) -> list[WaitingCount]:
        when = us(now)
        edges = check_edges(band_edges)
        counts: Counter[tuple[int, int, str]] = Counter()
        rank = {"urgent": 0, "routine": 1}  # as storage.sql.cases.PRIORITY_RANK
        for row in self._cases.values():
            if row.state is not CaseState.SUBMITTED:
                continue
            waited = when - us(row.queued_at)
            band = next((i for i, e in enumerate(edges) if waited < e * 1_000_000), len(edges))
            counts[(band, rank[row.priority.value], row.priority.value)] += 1
        return [
            WaitingCount(band, Priority(p), n) for (band, _rank, p), n in sorted(counts.items())
        ]
