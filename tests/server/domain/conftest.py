"""Fixtures of the domain tests: the real services over the in-memory reference store
(``storage.memory``, the SQL backends' semantics without I/O) and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import storage
from storage.memory import MemoryStorage
from tests.server.domain.world import Clinic, World, clinic


@pytest.fixture
async def store() -> AsyncIterator[storage.Storage]:
    memory = MemoryStorage()
    try:
        yield memory
    finally:
        await memory.close()


@pytest.fixture
def world(store: storage.Storage, tmp_path: Path) -> World:
    return World.build(store, tmp_path)


@pytest.fixture
async def cast(world: World) -> Clinic:
    return await clinic(world)
