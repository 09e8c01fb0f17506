"""Garbage-collector settings for the serving process (``dermline serve`` only).

With 1,000 clients connected, CPython's cyclic collector tracks about 160,000 objects, half of
them modules, classes and functions loaded at start. A full (generation 2) collection walks
them all while holding the event loop, and with the default thresholds (700, 10, 10) the
objects of messages in flight (waiting some milliseconds for their durable commit) were
promoted often enough to start a full collection every few seconds under 300 messages/s.
``bench.bench_realtime --probe`` measured 1 to 4 full collections inside a 20 s load phase,
each pausing the loop for 170-570 ms on this shared 2-core machine (and every client with it);
after this tuning: none in the load phase, and the longest collection 32-48 ms
(docs/performance.md, "Real time").

Two changes, applied once the application has started (storage open, routes built):

* ``gc.freeze()`` after a collection: what exists at that point lives as long as the process,
  so it moves to the permanent generation and no later collection walks it again. Only
  cyclic garbage among those objects would be kept; nothing made at start becomes garbage.
* ``gc.set_threshold(YOUNG_THRESHOLD, 20, 10)``: a young collection every 20,000 net
  allocations instead of 700, so the short-lived objects of a message die by reference
  counting before a collection can promote them; a young collection stays well under a
  millisecond.

Tests create many applications in one process and never call this: it is process-wide.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["YOUNG_THRESHOLD", "settle_after_startup"]

YOUNG_THRESHOLD: Final = 20_000


def settle_after_startup() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 10)
