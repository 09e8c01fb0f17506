"""The client's exactly-once, in-order delivery (no network: the delivery logic only)."""

import uuid

from client_py.client import new_message_id
from client_py.realtime import RealtimeClient


def msg(case: str, seq: int) -> dict:
    return {"case_id": case, "seq": seq, "client_msg_id": f"{case}-{seq}"}


async def test_duplicates_dropped_and_order_restored() -> None:
    rt = RealtimeClient("http://127.0.0.1:1", lambda: "")
    synced: list[str] = []

    async def fake_sync(case_id: str) -> None:
        synced.append(case_id)

    rt.sync_case = fake_sync  # type: ignore[method-assign]
    for seq in (1, 1, 3, 2, 2, 4, 3):
        rt._deliver(msg("a", seq))
    rt._deliver(msg("b", 1))
    out = []
    while not rt.messages.empty():
        out.append(rt.messages.get_nowait())
    assert [(m["case_id"], m["seq"]) for m in out] == [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("a", 4),
        ("b", 1),
    ]
    assert rt.last_seq == {"a": 4, "b": 1}
    # A gap (seq 3 arrived before 2) asked for a replay of that case.
    for task in list(rt._tasks):
        await task
    assert synced == ["a"]


def test_message_ids_are_uuid_v7_and_time_ordered() -> None:
    ids = [new_message_id() for _ in range(50)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert all(uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == 50
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)
