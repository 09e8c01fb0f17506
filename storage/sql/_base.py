"""What every feature module of the SQL implementation shares (``docs/storage.md``).

* :class:`SqlBase`: the engine hooks (``_write`` / ``_read``, implemented by
  ``storage.sqlite`` and ``storage.postgres``), the sealing helpers and the key ring.
* :func:`unit`: the marker of a public operation. Every public method of every protocol in
  :mod:`storage.interface` carries it (``tests/storage/test_units.py`` checks), so a new
  method cannot forget what it gives: when a unit meets a record sealed under a data key
  this process has not loaded (``dermline keys rotate`` ran in another process, or another
  node rotated), the key ring is reloaded and the unit runs once more. Units are
  transactions, so a unit that failed this way inside its transaction was rolled back; write
  units decode what they return inside their transaction for the same reason.
* The row ids bound into the associated data of sealed values (``rid_*``), one place for
  sealing and for re-encryption during a rotation.
"""

from __future__ import annotations

import abc
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from crypto import at_rest
from storage._engine import Dialect, TxnFn
from storage._values import check_text
from storage.blobs import FileBlobStore
from storage.errors import AtRestKeyError, CorruptRecord
from storage.interface import BlobStore
from storage.keys import FieldCipher, KeyRing, MasterKeys, UnknownDataKey

__all__ = [
    "UNIT_MARKER",
    "SqlBase",
    "is_unit",
    "rid_case_key",
    "rid_message",
    "rid_session",
    "unit",
]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
S = TypeVar("S", bound="SqlBase")

#: attribute set on every method wrapped by :func:`unit`
UNIT_MARKER = "__storage_unit__"


def unit(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Mark ``method`` as one unit of work: reload the key ring and retry once when it meets
    a data key this process has not loaded."""

    @functools.wraps(method)
    async def run(self: S, /, *args: P.args, **kw: P.kwargs) -> R:
        start = time.perf_counter()
        try:
            return await method(self, *args, **kw)
        except UnknownDataKey:
            await self._load_ring()
            return await method(self, *args, **kw)
        finally:
            if self.unit_observer is not None:  # storage unit latency (server/metrics.py)
                self.unit_observer(method.__name__, time.perf_counter() - start)

    setattr(run, UNIT_MARKER, True)
    return run


def is_unit(method: object) -> bool:
    """Whether ``method`` carries the :func:`unit` marker."""
    return getattr(method, UNIT_MARKER, False) is True


def rid_session(session_hash: bytes) -> str:
    return session_hash.hex()


def rid_message(case_id: str, client_msg_id: str) -> str:
    return f"{case_id}/{client_msg_id}"


def rid_case_key(case_id: str, epoch: int, kind: str, recipient: str) -> str:
    return f"{case_id}/{epoch}/{kind}/{recipient}"


class SqlBase(abc.ABC):
    """State and helpers every feature mixin of ``storage.sql.SqlStorage`` uses."""

    dialect: Dialect
    #: told each unit's name and duration in seconds (the server's metrics set it)
    unit_observer: Callable[[str, float], None] | None = None

    def __init__(
        self,
        *,
        cipher: FieldCipher,
        ring: KeyRing,
        masters: MasterKeys,
        blobs: FileBlobStore,
    ) -> None:
        self._cipher = cipher
        self._ring = ring
        self._masters = masters
        self._blobs = blobs
        blobs.reload_keys = self._load_ring

    # ------------------------------------------------------------------ engine hooks

    @abc.abstractmethod
    async def _write(self, fn: TxnFn[T], *, single_statement: bool = False) -> T:
        """Run ``fn`` as one durable write unit. ``single_statement``: ``fn`` runs exactly
        one statement, atomic by itself, so an engine may skip BEGIN/COMMIT round trips."""

    @abc.abstractmethod
    async def _read(self, fn: TxnFn[T], *, snapshot: bool = False) -> T:
        """Run ``fn`` on a reader (in one snapshot if ``snapshot``)."""

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    def pending_writes(self) -> int:
        """Write units queued and not yet run (the engine's queue length, for metrics)."""
        return 0

    # ------------------------------------------------------------------ sealing

    def _seal(self, table: str, column: str, row_id: str, value: bytes) -> bytes:
        return self._cipher.seal(table, column, row_id, value)

    def _seal_opt(self, table: str, column: str, row_id: str, value: bytes | None) -> bytes | None:
        return None if value is None else self._cipher.seal(table, column, row_id, value)

    def _seal_text(self, table: str, column: str, row_id: str, value: str) -> bytes:
        text = check_text(value, column.removesuffix("_sealed"), max_bytes=1 << 20)
        return self._cipher.seal(table, column, row_id, text.encode("utf-8"))

    def _open(self, table: str, column: str, row_id: str, record: Any) -> bytes:
        return self._cipher.open(table, column, row_id, bytes(record))

    def _open_opt(self, table: str, column: str, row_id: str, record: Any) -> bytes | None:
        return None if record is None else self._open(table, column, row_id, record)

    def _open_text(self, table: str, column: str, row_id: str, record: Any) -> str:
        try:
            return self._open(table, column, row_id, record).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptRecord(f"{table}.{column}") from None

    # ------------------------------------------------------------------ key ring

    async def _load_ring(self) -> None:
        """Load every data key, unwrapped under the configured master key(s)."""
        rows = await self._read(
            lambda txn: txn.fetchall(
                "SELECT key_id, purpose, master_key_id, wrapped, active FROM data_keys"
            )
        )
        masters = self._masters.by_id()
        ring = KeyRing()
        for key_id, purpose, master_id, wrapped, active in rows:
            master = masters.get(master_id)
            if master is None:
                raise AtRestKeyError(
                    "data keys are wrapped under a master key that is not configured"
                )
            try:
                key = at_rest.unwrap_data_key(
                    master, bytes(wrapped), key_id=int(key_id), purpose=purpose
                )
            except at_rest.AtRestError:
                raise AtRestKeyError("a data key does not unwrap under the master key") from None
            ring.add(int(key_id), purpose, key, active=bool(active))
        self._ring.replace(ring)
