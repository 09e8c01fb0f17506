"""Settings for the whole suite.

Hypothesis runs deterministically (``derandomize``): CI runs ``make test`` once and a single
failure stops a change from landing, so a property test must not pass or fail by the luck of
its random examples, nor by how busy the machine is (no per-example deadline, no "too slow"
health check; both measure wall-clock time). To look for new counter-examples, run the
property tests with ``--hypothesis-profile=explore`` (fresh random examples each run).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_NOT_TIMED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile("deterministic", _NOT_TIMED, derandomize=True, database=None)
settings.register_profile("explore", _NOT_TIMED)
settings.load_profile("deterministic")
