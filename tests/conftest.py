"""Settings for the whole suite.

Hypothesis runs deterministically (``derandomize``): CI runs ``make test`` once and a single
failure stops a change from landing, so a property test must not pass or fail by the luck of
its random examples, nor by how busy the machine is (no per-example deadline, no "too slow"
health check; both measure wall-clock time). To look for new counter-examples, run the
property tests with ``--hypothesis-profile=explore`` (fresh random examples each run).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

_NOT_TIMED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile("deterministic", _NOT_TIMED, derandomize=True, database=None)
settings.register_profile("explore", _NOT_TIMED)
settings.load_profile("deterministic")


@pytest.fixture(autouse=True, scope="session")
def _client_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The Python client keeps its pins under its configuration folder (client_py.pins):
    in tests that is a temporary folder, never the home folder of whoever runs them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DERMLINE_CONFIG_DIR", str(tmp_path_factory.mktemp("client-config")))
        yield
