"""The maintenance lock: a backup and a disposal never interleave (``docs/operations.md``,
"Backups").

A backup copies the database (one consistent snapshot) and then every blob a row of that
snapshot names. The only thing that deletes a blob some row names is a disposal, so each
disposal (its transaction and the deletion of its blob files) and each backup (snapshot and
blob copy) hold an exclusive ``flock`` on ``<blob folder>/maintenance.lock``: a disposal
is then wholly before the snapshot (its rows and blobs are both absent from the backup) or
wholly after the copy (both present). The lock is advisory and per file, so it also works
between processes (the server's scheduled run and ``dermline backup``), and with
``flock(1)`` around a PostgreSQL ``pg_dump`` and the blob archive.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "held", "hold"]

LOCK_NAME = "maintenance.lock"
_POLL_SECONDS = 0.2


def _open(folder: Path) -> int:
    return os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)


@contextlib.contextmanager
def hold(folder: Path) -> Iterator[None]:
    """Hold the lock (blocking), for synchronous code such as a backup."""
    fd = _open(folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.asynccontextmanager
async def held(folder: Path) -> AsyncIterator[None]:
    """Hold the lock without blocking the event loop (polled; cancellable while waiting)."""
    fd = await asyncio.to_thread(_open, folder)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(_POLL_SECONDS)
        yield
    finally:
        os.close(fd)
