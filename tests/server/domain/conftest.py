"""Fixtures of the domain tests: the real services over a store, with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import storage
from tests.server.domain.world import Clinic, World, clinic


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[storage.Storage]:
    opened = await storage.open_storage(storage.StorageConfig(data_dir=tmp_path))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def world(store: storage.Storage, tmp_path: Path) -> World:
    return World.build(store, tmp_path)


@pytest.fixture
async def cast(world: World) -> Clinic:
    return await clinic(world)
