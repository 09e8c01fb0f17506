# ruff: noqa: S608
# (S608: SQL assembled from module constants only; values are bound as parameters.)
"""Appending to the transparency log inside another unit's transaction (the directory
change and its log entries commit together; ``docs/storage.md``, "Transparency log")."""

from __future__ import annotations

from collections.abc import Sequence

from storage import transparency as tree
from storage._engine import Txn
from storage.errors import CorruptRecord
from storage.records import LogAppend
from storage.sql._base import SqlBase

__all__ = ["ENTRY_COLS", "append_log_txn"]

ENTRY_COLS = "idx, kind, org_id, user_id, ref, entry_sealed"


async def append_log_txn(base: SqlBase, txn: Txn, entries: Sequence[LogAppend]) -> list[int]:
    """Append checked entries (``storage.transparency.check_appends``) inside the caller's
    transaction: the directory change and its entries commit together."""
    if not entries:
        return []
    state = await txn.fetchone(
        f"SELECT size, frontier FROM transparency_state WHERE id = 1{txn.dialect.for_update}"
    )
    if state is None:
        raise CorruptRecord("transparency_state")
    size = int(state[0])
    try:
        frontier = tree.decode_frontier(bytes(state[1]), size)
    except ValueError:
        raise CorruptRecord("transparency_state") from None
    out = []
    nodes: list[tuple[int, int, bytes]] = []
    rows = []
    for e in entries:
        for (level, idx), value in tree.append_nodes(size, frontier, e.entry):
            nodes.append((level, idx, value))
        sealed = base._seal("transparency_entries", "entry_sealed", str(size), e.entry)
        rows.append((size, e.kind.value, e.org_id, e.user_id, e.ref, sealed))
        out.append(size)
        size += 1
    await txn.executemany(
        f"INSERT INTO transparency_entries ({ENTRY_COLS}) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    await txn.executemany(
        "INSERT INTO transparency_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes
    )
    await txn.execute(
        "UPDATE transparency_state SET size = ?, frontier = ? WHERE id = 1",
        size,
        tree.encode_frontier(frontier),
    )
    return out
