"""Operational figures for monitoring (``docs/operations.md``, "Metrics")."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Protocol

from storage.figures import WaitingCount

__all__ = ["FigureStore"]


class FigureStore(Protocol):
    """Counts across every service, for the ``/metrics`` endpoint."""

    async def count_waiting_cases(
        self, now: _dt.datetime, band_edges: Sequence[int]
    ) -> list[WaitingCount]:
        """Submitted cases by priority and by how long they have waited in the queue
        (``band_edges``: increasing seconds); only non-zero counts."""
        ...
