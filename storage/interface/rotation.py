"""Rotation of the at-rest keys (what ``dermline keys rotate`` calls)."""

from __future__ import annotations

from typing import Protocol

from storage.records import RotationReport

__all__ = ["KeyRotationStore"]


class KeyRotationStore(Protocol):
    """Rotate the master key and the data keys while serving."""

    async def rotate_keys(
        self,
        *,
        new_master_key: bytes | None = None,
        rotate_data_keys: bool = True,
        batch_size: int = 500,
    ) -> RotationReport:
        """Rotate at-rest keys while serving: optionally re-wrap every data key under a new
        master key; optionally make new data keys and re-encrypt every row and blob in
        batches (each batch its own transaction, resumable: running it again continues where
        an interrupted run stopped). Old data keys are retired once nothing uses them.
        :class:`AtRestKeyError` where there is no at-rest encryption."""
        ...
