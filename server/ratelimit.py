"""A token-bucket rate limiter keyed by (bucket name, client address).

Used on the authentication endpoints (issue 4, item 6) in front of the per-account backoff
and lockout of ``server.domain.accounts``: the bucket slows down one address trying many
accounts; the per-account counter slows down many addresses trying one account.

The clock is injected (tests pass a fake). State is per process: with several server
processes the effective limit multiplies by their number (``docs/architecture.md``,
Limitations). The table is bounded: when it is full, the fullest (idle) buckets go first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from server.errors import RateLimited

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        *,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float],
        max_keys: int = 100_000,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self._rate = per_minute / 60.0
        self._burst = float(burst if burst is not None else per_minute)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def hit(self, bucket: str, key: str) -> None:
        """Take one token or raise :class:`RateLimited` with a Retry-After in seconds."""
        now = self._clock()
        b = self._buckets.get((bucket, key))
        if b is None:
            if len(self._buckets) >= self._max_keys:
                self._evict(now)
            b = self._buckets[(bucket, key)] = _Bucket(self._burst, now)
        b.tokens = min(self._burst, b.tokens + (now - b.updated) * self._rate)
        b.updated = now
        if b.tokens < 1.0:
            raise RateLimited(retry_after=max(1, math.ceil((1.0 - b.tokens) / self._rate)))
        b.tokens -= 1.0

    def _evict(self, now: float) -> None:
        # Drop buckets that have refilled completely: forgetting them changes nothing.
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self._rate >= self._burst
        ]
        for k in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[k]
