"""A guard against leaked network resources, for the test directories that open them.

An aiohttp ``ClientSession`` that nobody closes warns (``ResourceWarning``, an error in this
suite) only when the garbage collector finds it, which may be during a later, unrelated
test. Collecting after every test of these directories makes the warning fail the test
that leaked the session, in its teardown. The same holds for a socket left open (a Redis
connection, or a test's TCP relay to Redis): its ``ResourceWarning`` then names the test
that leaked it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    yield
    gc.collect()
