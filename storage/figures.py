"""Records of the operational figures storage counts for monitoring (``/metrics``,
``docs/operations.md``, "Metrics"): counts only, never an id."""

from __future__ import annotations

from dataclasses import dataclass

from storage.records import Priority

__all__ = ["WaitingCount"]


@dataclass(frozen=True, slots=True)
class WaitingCount:
    """How many submitted (unclaimed) cases of one priority have waited within one band:
    band ``i`` is ``[edges[i-1], edges[i])`` seconds (band 0 from 0, the last band beyond
    the last edge)."""

    band: int
    priority: Priority
    count: int
