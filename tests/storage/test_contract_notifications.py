"""Contract suite: push subscriptions, notification settings and named server keys
(docs/storage.md, "Notifications"; docs/architecture.md "Notifications").

Runs on the memory store, SQLite and, with DERMLINE_TEST_POSTGRES_DSN, PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from storage import (
    InvalidArgument,
    NotFound,
    NotificationSettings,
    PushSubscription,
    Storage,
)
from tests.storage.conftest import T0, World, make_world

M = dt.timedelta(minutes=1)


def sub(n: int = 1, user_id: str = World.gp, **kw: object) -> PushSubscription:
    base: dict[str, object] = {
        "subscription_id": f"push-{n}",
        "user_id": user_id,
        "endpoint": f"https://push.example/send/{n}",
        "p256dh": b"\x04" + bytes([n]) * 64,
        "auth": bytes([n]) * 16,
        "created_at": T0 + n * M,
    }
    base.update(kw)
    return PushSubscription(**base)  # type: ignore[arg-type]


async def test_subscriptions_round_trip_by_user_and_count(store: Storage) -> None:
    await make_world(store)
    a = await store.add_push_subscription(sub(1))
    await store.add_push_subscription(sub(2, World.derm))
    await store.add_push_subscription(sub(3))
    assert a == sub(1)
    mine = await store.list_push_subscriptions([World.gp])
    assert [s.subscription_id for s in mine] == ["push-1", "push-3"]
    assert mine[0].endpoint == "https://push.example/send/1" and mine[0].auth == bytes([1]) * 16
    both = await store.list_push_subscriptions([World.gp, World.derm, "nobody"])
    assert len(both) == 3
    assert await store.list_push_subscriptions([]) == []
    assert [await store.next_push_counter("push-1") for _ in range(3)] == [1, 2, 3]
    assert (await store.list_push_subscriptions([World.gp]))[0].counter == 3
    with pytest.raises(NotFound):
        await store.next_push_counter("push-9")


async def test_counters_do_not_lose_increments(store: Storage) -> None:
    await make_world(store)
    await store.add_push_subscription(sub(1))
    got = await asyncio.gather(*[store.next_push_counter("push-1") for _ in range(10)])
    assert sorted(got) == list(range(1, 11))


async def test_the_same_endpoint_again_replaces_the_subscription(store: Storage) -> None:
    """A browser subscribing again (perhaps for someone else after a sign-out) keeps one
    subscription: the new one, with its counter afresh."""
    await make_world(store)
    await store.add_push_subscription(sub(1))
    await store.next_push_counter("push-1")
    again = sub(7, World.derm, endpoint="https://push.example/send/1")
    await store.add_push_subscription(again)
    assert await store.list_push_subscriptions([World.gp]) == []
    assert await store.list_push_subscriptions([World.derm]) == [again]


async def test_delete_one_or_all_of_a_user(store: Storage) -> None:
    await make_world(store)
    for n in (1, 2, 3):
        await store.add_push_subscription(sub(n))
    await store.delete_push_subscription("push-2")
    with pytest.raises(NotFound):
        await store.delete_push_subscription("push-2")
    assert await store.delete_user_push_subscriptions(World.gp) == 2
    assert await store.list_push_subscriptions([World.gp]) == []


async def test_subscription_values_are_checked(store: Storage) -> None:
    await make_world(store)
    with pytest.raises(NotFound):
        await store.add_push_subscription(sub(1, "nobody"))
    for bad in (
        {"endpoint": "ftp://push.example/x"},
        {"endpoint": "https://" + "x" * 3000},
        {"p256dh": b"short"},
        {"auth": b"x" * 15},
        {"subscription_id": "bad id"},
        {"counter": -1},
    ):
        with pytest.raises(InvalidArgument):
            await store.add_push_subscription(dataclasses.replace(sub(1), **bad))


async def test_settings_default_off_then_stored(store: Storage) -> None:
    await make_world(store)
    assert await store.get_notification_settings(World.gp) == NotificationSettings(World.gp)
    on = NotificationSettings(World.gp, sound=True, email=True)
    assert await store.put_notification_settings(on) == on
    assert await store.get_notification_settings(World.gp) == on
    off = NotificationSettings(World.gp, sound=False, email=True)
    await store.put_notification_settings(off)
    assert await store.get_notification_settings(World.gp) == off
    with pytest.raises(NotFound):
        await store.put_notification_settings(NotificationSettings("nobody", sound=True))
    with pytest.raises(InvalidArgument):
        await store.put_notification_settings(NotificationSettings(World.gp, sound=1))  # type: ignore[arg-type]


async def test_server_key_is_created_once(store: Storage) -> None:
    first = await store.server_key("vapid", b"k" * 32)
    assert first == b"k" * 32
    assert await store.server_key("vapid", b"other") == first
    raced = await asyncio.gather(*[store.server_key("race", bytes([i]) * 32) for i in range(5)])
    assert len(set(raced)) == 1
    with pytest.raises(InvalidArgument):
        await store.server_key("audit_signing_key", b"x")
