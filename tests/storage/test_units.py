"""The storage interface is a union of per-feature protocols, and every public operation of
the SQL implementation is marked as a unit of work (``storage.sql._base.unit``: reload the
key ring and retry once after another process rotated the keys). A method added to a
protocol without the marker fails here, so none can silently miss the reload. The memory
store's operations carry its own marker (``storage._memory_base.op``: refused once closed,
atomic on the event loop)."""

from __future__ import annotations

import inspect

import pytest

from storage import Storage
from storage._memory_base import OP_MARKER
from storage.interface import FEATURE_PROTOCOLS
from storage.keys import UnknownDataKey
from storage.memory import MemoryStorage
from storage.sql import SqlStorage
from storage.sql._base import SqlBase, is_unit, unit

#: not operations on stored data: the blob store handle and closing the store
NOT_UNITS = {"blobs", "close"}


def protocol_members() -> dict[str, type]:
    members: dict[str, type] = {}
    for proto in FEATURE_PROTOCOLS:
        for name, value in vars(proto).items():
            if not name.startswith("_") and (callable(value) or isinstance(value, property)):
                assert name not in members, f"{name} is in two protocols"
                members[name] = proto
    return members


def test_storage_is_exactly_the_union_of_the_feature_protocols() -> None:
    assert set(FEATURE_PROTOCOLS) <= set(Storage.__mro__)
    own = {n for n in vars(Storage) if not n.startswith("_")}
    assert own == set(), "Storage declares nothing itself: add methods to a feature protocol"
    members = protocol_members()
    # a sample, so that this test cannot pass by seeing no members at all
    assert {"append_message", "transition_case", "verify_audit", "rotate_keys"} <= set(members)
    assert len(members) > 40


def test_every_public_operation_of_the_sql_storage_is_a_unit() -> None:
    missing = sorted(
        name
        for name in protocol_members()
        if name not in NOT_UNITS and not is_unit(getattr(SqlStorage, name))
    )
    assert missing == []


def test_every_public_operation_of_the_memory_store_is_an_op() -> None:
    missing = sorted(
        name
        for name in protocol_members()
        if name not in NOT_UNITS and not getattr(getattr(MemoryStorage, name), OP_MARKER, False)
    )
    assert missing == []


@pytest.mark.parametrize("implementation", [SqlStorage, MemoryStorage])
def test_no_public_operation_outside_the_protocols(implementation: type) -> None:
    """A public method that no protocol declares is one nothing can call through
    ``Storage``: dead, or missing from the interface."""
    members = set(protocol_members())
    extra = sorted(
        name
        for name, value in inspect.getmembers(implementation)
        if not name.startswith("_") and inspect.iscoroutinefunction(value) and name not in members
    )
    assert extra == []


async def test_a_unit_reloads_the_key_ring_once_and_retries() -> None:
    class Probe(SqlBase):
        def __init__(self) -> None:
            self.reloads = 0
            self.calls = 0

        async def _write(self, fn, *, single_statement=False):  # type: ignore[no-untyped-def]
            raise AssertionError("unused")

        async def _read(self, fn, *, snapshot=False):  # type: ignore[no-untyped-def]
            raise AssertionError("unused")

        async def _load_ring(self) -> None:
            self.reloads += 1

        @unit
        async def flaky(self, fail: int) -> str:
            self.calls += 1
            if self.calls <= fail:
                raise UnknownDataKey("t.c", 7)
            return "ok"

    probe = Probe()
    assert await probe.flaky(1) == "ok"
    assert (probe.calls, probe.reloads) == (2, 1)
    again = Probe()
    with pytest.raises(UnknownDataKey):  # only once: a second miss is a real error
        await again.flaky(2)
    assert (again.calls, again.reloads) == (2, 1)
    assert is_unit(Probe.flaky) and not is_unit(Probe._load_ring)
